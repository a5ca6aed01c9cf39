"""Scenarios for ``infra advise`` against a real Prometheus: recorded-signal histories written as
OpenMetrics, backfilled with ``promtool tsdb create-blocks-from openmetrics``.

Backfilling days of data takes promtool about a minute on 2 cores (one 2-hour block at a time), so
the scenarios run the real conditions, counts, hold modes and expressions with every day shrunk to
30 minutes (``SCALE``), as the promtool trigger tests do. Each scenario owns its own stretch of time
(``SLOT_S`` apart) and is judged with ``--at`` at its end, so one Prometheus serves them all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from components.monitoring.thresholds import (
    API_P95,
    DAU,
    DB_DISK,
    DB_TPS,
    GPU_UTIL,
    NETWORK,
    REDIS_MEMORY,
    USERS,
    Hold,
    PhaseTriggers,
)
from infra.advise import PhaseRules, phase_rules

SCALE = 48
"""A day becomes 30 minutes."""
STEP_S = 60
"""One sample a minute (the range queries of "held for" use the same step)."""
SPAN_S = 5 * 3600
"""History written per scenario: more than the longest window read at phase 3 (4 h 30 m)."""
SLOT_S = 5 * 3600 + 1800
PHASE = 3
"""prod-aws's phase: up 3 -> 4 needs 4 of 6, down 3 -> 2 needs 4 of 5 (``down4`` is judged at 4)."""


def _scaled(triggers: PhaseTriggers | None) -> PhaseTriggers | None:
    if triggers is None:
        return None
    conds = tuple(
        replace(c, window_s=c.window_s // SCALE, peak_period_s=c.peak_period_s // SCALE)
        for c in triggers.conditions
    )
    return replace(triggers, conditions=conds)


def scaled_rules(phase: int) -> PhaseRules:
    real = phase_rules(phase)
    return replace(
        real, up=_scaled(real.up), down=_scaled(real.down), back_up=_scaled(real.back_up), step_s=STEP_S,
        ceiling=_scaled(real.ceiling),
    )


# Levels of each phase-3 signal: between the move-down and move-up lines, above the move-up
# threshold, below the move-down threshold.
MID = {USERS: 50_000, DAU: 10_000, GPU_UTIL: 60, API_P95: 0.15, DB_TPS: 2000, NETWORK: 5e8}
HIGH = {USERS: 120_000, DAU: 25_000, GPU_UTIL: 95, API_P95: 0.35, DB_TPS: 6000, NETWORK: 1.5e9}
LOW = {USERS: 50_000, DAU: 500, GPU_UTIL: 20, API_P95: 0.08, DB_TPS: 200, NETWORK: 1e8}

Level = Callable[[int], float | None]
"""Value at ``age`` seconds before the scenario's end; None: no sample."""


def const(v: float) -> Level:
    return lambda age: v


def since(age_s: int, v: float, before: float | None) -> Level:
    """``v`` for the last ``age_s`` seconds, ``before`` earlier (None: the series starts then)."""
    return lambda age: v if age <= age_s else before


@dataclass(frozen=True)
class Scenario:
    name: str
    signals: Mapping[str, Level]
    peaks: bool = True
    """Write the rolling daily peaks too (a phase-4 Prometheus records none: its move-down
    conditions read no peak)."""


def _levels(base: Mapping[str, float], **over: Level) -> dict[str, Level]:
    out: dict[str, Level] = {s: const(v) for s, v in base.items()}
    names = {"users": USERS, "dau": DAU, "gpu": GPU_UTIL, "api": API_P95, "db": DB_TPS, "net": NETWORK}
    for key, level in over.items():
        out[names[key]] = level
    return {s: lv for s, lv in out.items() if lv is not ABSENT}


def ABSENT(age: int) -> float | None:
    return None


SCENARIOS = [
    Scenario("below", _levels(MID)),
    Scenario("n_minus_1", _levels(MID, users=const(HIGH[USERS]), dau=const(HIGH[DAU]), api=const(HIGH[API_P95]))),
    # DB TPS above 5,000 for the last 45 minutes only: 1.5 of the 3 (scaled) days its rule needs.
    Scenario("short", _levels(MID, users=const(HIGH[USERS]), dau=const(HIGH[DAU]), api=const(HIGH[API_P95]),
                              db=since(45 * 60, HIGH[DB_TPS], MID[DB_TPS]))),
    Scenario("full", _levels(MID, users=const(HIGH[USERS]), dau=const(HIGH[DAU]), api=const(HIGH[API_P95]),
                             db=const(HIGH[DB_TPS]))),
    Scenario("down", _levels(LOW, net=const(3e8))),
    # No GPU and no network series; registered users not exported; DAU exported for 1 hour only.
    Scenario("absent", _levels(MID, gpu=ABSENT, net=ABSENT, users=ABSENT, api=const(HIGH[API_P95]),
                               dau=since(3600, HIGH[DAU], None))),
    # Judged at phase 4: 001's 4 -> 5 figures all hold (users > 500,000, DAU >= 100,000, GPU at the
    # daily peak, Redis memory and DB disk >= 80 %) for the whole span; the ceiling reads 4 h at most.
    # Listed before down4, so later in time: down4's GPU rule reads 6 h back and must find nothing older.
    Scenario("ceiling4", {s: const(v) for s, v in {USERS: 600_000, DAU: 120_000, GPU_UTIL: 90, REDIS_MEMORY: 0.85,
                                                    DB_DISK: 0.9, API_P95: 0.3, DB_TPS: 6000, NETWORK: 2e9}.items()}),
    # Judged at phase 4 (no move up; down 4 -> 3 needs 4 of 5): only what the phase-4 rules record,
    # the five move-down signals. DAU, API p95, DB and network are below their lines; GPU too, but for
    # 5 h only, while its rule reads 12 days back (scaled: 6 h).
    Scenario("down4", {s: const(v) for s, v in {DAU: 5000, GPU_UTIL: 20, API_P95: 0.05, DB_TPS: 1000,
                                                 NETWORK: 2e8}.items()}, peaks=False),
]  # fmt: skip


def end_of(index: int, base: int) -> int:
    return base - index * SLOT_S


def openmetrics(base: int) -> str:
    """Every scenario's recorded signals and the rolling daily-peak records the rules derive from them."""
    rules, top = scaled_rules(PHASE), scaled_rules(4)
    peaks = {
        c.signal: (c.peak_record, c.peak_period_s)
        for t in (rules.up, rules.down, rules.back_up, top.ceiling)
        for c in (t.conditions if t else ())
        if c.hold is Hold.DAILY_PEAK
    }
    series: dict[str, list[tuple[int, float]]] = {}
    for i, sc in enumerate(reversed(SCENARIOS)):
        end = end_of(len(SCENARIOS) - 1 - i, base)
        for signal, level in sc.signals.items():
            points = [(t, level(end - t)) for t in range(end - SPAN_S, end + 1, STEP_S)]
            samples = [(t, v) for t, v in points if v is not None]
            series.setdefault(signal, []).extend(samples)
            if sc.peaks and signal in peaks:
                record, period = peaks[signal]
                # max_over_time(signal[period]) at each evaluation (the window includes both ends).
                rolled = [(t, max(v for u, v in samples if t - period <= u <= t)) for t, _ in samples]
                series.setdefault(record, []).extend(rolled)
    lines = []
    for name in sorted(series):
        lines.append(f"# TYPE {name} gauge")
        lines += [f"{name} {v!r} {t}" for t, v in sorted(series[name])]
    return "\n".join(lines) + "\n# EOF\n"
