"""The phase advisor's verdicts from values (pure: no HTTP, no Pulumi): what one condition's readings
mean, what a rule ("at least N of M hold") concludes, and what the team should do.

A condition's verdict is the value of its own recording-rule expression
(``TriggerCondition.expr``): 1 holds, 0 not met, absent unknown. Absent is never "not met": the
series may be missing (part off, exporter or rules not deployed) or younger than the window. The
other readings (current value, the windowed value the rule compares, how long it has held) explain
the verdict; they never decide it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum

from components.monitoring.thresholds import (
    CHURN,
    CONVERSION,
    DAU,
    DAY_S,
    GROWTH,
    NPS,
    REVENUE_COST,
    USERS,
    Hold,
    PhaseTriggers,
    TriggerCondition,
)

BUSINESS_SIGNALS: Mapping[str, tuple[str, str]] = {
    USERS: ("users_registered", "phasescale_users_registered"),
    DAU: ("daily_active_users", "phasescale_daily_active_users"),
    GROWTH: ("weekly_growth", "phasescale_users_registered (7 days apart)"),
    REVENUE_COST: ("revenue_to_cost", "phasescale_revenue_usd_30d / phasescale_infra_cost_usd_30d"),
    CONVERSION: ("paid_conversion", "phasescale_paid_conversion_ratio"),
    CHURN: ("churn_30d", "phasescale_churn_ratio_30d"),
    NPS: ("nps", "phasescale_nps"),
}
"""Signals the cluster cannot see: recorded signal -> (business-file key, what the app exports)."""


class State(StrEnum):
    HOLDS = "holds"
    NOT_MET = "not met"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    MET = "met"
    """At least ``required`` conditions hold."""
    NOT_MET = "not met"
    """Even if every unknown condition held, fewer than ``required`` would."""
    UNDECIDED = "undecided"
    """The unknown conditions could still decide it."""


@dataclass(frozen=True)
class Reading:
    """What the metrics said about one condition at the evaluation time."""

    verdict: float | None
    """The value of ``TriggerCondition.expr``: 1, 0 or absent (None)."""
    current: float | None = None
    """The latest value of the signal (for a daily-peak condition: the rolling daily peak)."""
    window_value: float | None = None
    """The value the rule compares with the threshold (the window's min, max, mean or lowest peak)."""
    held_s: float | None = None
    """How long the comparison has held without a break (None for a mean: it has no streak)."""
    history_s: float | None = None
    """How much history the signal has, up to what the rule reads (None: no series at all)."""
    source: str = "prometheus"
    reason: str = ""
    """Why the verdict is unknown, when it is."""


@dataclass(frozen=True)
class ConditionResult:
    condition: TriggerCondition
    reading: Reading

    @property
    def state(self) -> State:
        if self.reading.verdict is None:
            return State.UNKNOWN
        return State.HOLDS if self.reading.verdict >= 1 else State.NOT_MET


@dataclass(frozen=True)
class Combination:
    """A seed-003 checkpoint verdict: ``name`` ("recommended", "required", "urgent") when every
    condition of ``all_of`` holds."""

    name: str
    all_of: tuple[str, ...]


@dataclass(frozen=True)
class RuleResult:
    title: str
    from_phase: int
    to_phase: int
    required: int
    results: tuple[ConditionResult, ...]
    combinations: tuple[Combination, ...] = ()

    def count(self, state: State) -> int:
        return sum(1 for r in self.results if r.state is state)

    @property
    def holding(self) -> int:
        return self.count(State.HOLDS)

    @property
    def unknown(self) -> int:
        return self.count(State.UNKNOWN)

    @property
    def outcome(self) -> Outcome:
        if self.holding >= self.required:
            return Outcome.MET
        if self.holding + self.unknown >= self.required:
            return Outcome.UNDECIDED
        return Outcome.NOT_MET

    @property
    def combination_verdicts(self) -> tuple[str, ...]:
        """The names of the seed-003 combinations whose conditions all hold, in their order."""
        held = {r.condition.name for r in self.results if r.state is State.HOLDS}
        return tuple(c.name for c in self.combinations if set(c.all_of) <= held)


def judge(
    title: str, triggers: PhaseTriggers, to_phase: int, readings: Mapping[str, Reading],
    combinations: Sequence[Combination] = (),
) -> RuleResult:  # fmt: skip
    """The rule over ``triggers`` from the readings by condition name (a missing reading is unknown)."""
    missing = Reading(None, reason="not evaluated")
    results = tuple(ConditionResult(c, readings.get(c.name, missing)) for c in triggers.conditions)
    return RuleResult(title, triggers.phase, to_phase, triggers.required, results, tuple(combinations))


class Action(StrEnum):
    MOVE_UP = "move up"
    MOVE_DOWN = "move down"
    OUTGROWING = "outgrowing the catalog"
    """The top phase's ceiling holds: the stack needs more than the catalog's last phase gives."""
    STAY = "stay"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Advice:
    phase: int
    up: RuleResult | None
    down: RuleResult | None
    back_up: RuleResult | None
    """The move-up rule of the phase below, on today's values: a move down it would undo is no move."""
    ceiling: RuleResult | None = None
    """The top phase's rule for a phase the catalog does not have (``CEILING_TRIGGERS``)."""
    action: Action = field(init=False)
    target: int = field(init=False)
    why: str = field(init=False)

    def __post_init__(self) -> None:
        action, target, why = _decide(self)
        object.__setattr__(self, "action", action)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "why", why)


def _decide(a: Advice) -> tuple[Action, int, str]:
    up, down, back, ceiling = a.up, a.down, a.back_up, a.ceiling
    if ceiling and ceiling.outcome is Outcome.MET:
        figures = "; ".join(r.condition.description for r in ceiling.results)
        return (
            Action.OUTGROWING,
            a.phase,
            f"{ceiling.holding} of {len(ceiling.results)} conditions for phase {a.phase + 1} hold (needs "
            f"{ceiling.required}: {figures}), but phase {a.phase} is the catalog's last: there is no phase "
            f"{a.phase + 1} to move to",
        )
    if up and up.outcome is Outcome.MET:
        return (
            Action.MOVE_UP,
            a.phase + 1,
            f"{up.holding} of {len(up.results)} move-up triggers hold (needs {up.required})",
        )
    if down and down.outcome is Outcome.MET:
        if back and back.outcome is Outcome.MET:
            return (
                Action.STAY,
                a.phase,
                (
                    f"the move-down conditions hold, but phase {a.phase - 1}'s own move-up rule would hold too "
                    f"({back.holding} of {len(back.results)}): the stack would come straight back"
                ),
            )
        return (
            Action.MOVE_DOWN,
            a.phase - 1,
            (f"{down.holding} of {len(down.results)} move-down conditions hold (needs {down.required})"),
        )
    open_rules = [r for r in (up, down, ceiling) if r and r.outcome is Outcome.UNDECIDED]
    if open_rules:
        parts = [f"{r.title}: {r.holding} hold, {r.unknown} unknown (needs {r.required})" for r in open_rules]
        return Action.UNDECIDED, a.phase, "; ".join(parts) + " - the unknown conditions could decide it"
    return Action.STAY, a.phase, "no rule reaches its count"


# ---------------------------------------------------------------- readings from query answers


def comparison_lhs(c: TriggerCondition) -> str:
    """The left side of the rule's comparison, cut from ``c.expr`` itself (never rebuilt)."""
    head = c.expr.split(f" {c.op} bool ", 1)[0]
    if not head.startswith("(") or head == c.expr:
        raise ValueError(f"unexpected trigger expression shape: {c.expr}")
    return head[1:]


def current_series(c: TriggerCondition) -> str:
    """The recorded series a person looks at now: the rolling daily peak, or the signal."""
    return c.peak_record if c.hold is Hold.DAILY_PEAK else c.signal


def streak_series(c: TriggerCondition) -> str | None:
    """Per evaluation, 1 where the compared series is on the holding side (the rule needs it so over
    the whole window); None for a mean, which has no streak."""
    if c.hold is Hold.AVERAGE:
        return None
    return f"{current_series(c)} {c.op} bool {c.threshold:.12g}"


def held_for(points: Sequence[tuple[float, float]], at: float, window_s: float) -> float:
    """How long the comparison has held without a break, from a range answer of ``streak_series``
    over ``[at - window_s, at]``: 0 unless the last point (at ``at``) holds, at most ``window_s``."""
    if not points or points[-1][1] < 1 or points[-1][0] < at - 0.001:
        return 0.0
    run_start = points[-1][0]
    for ts, value in reversed(points):
        if value < 1:
            break
        run_start = ts
    return min(at - run_start, window_s)


def file_reading(c: TriggerCondition, samples: Sequence[tuple[date, float]], at: datetime) -> Reading:
    """A business-file series judged by the same condition: every dated value of the window on the
    holding side, and a value at least ``window`` old (the rule's history check). Only
    ``Hold.ALWAYS`` is meaningful for dated values; the business signals all use it."""
    key = BUSINESS_SIGNALS.get(c.signal, (c.signal, ""))[0]
    today = at.date()
    known = sorted((d, v) for d, v in samples if d <= today)
    if not known:
        return Reading(None, source="file", reason=f"no value of {key} dated on or before {today}")
    start = today - timedelta(seconds=c.window_s)
    history_s = (today - known[0][0]).total_seconds()
    ok = [_compare(v, c.op, c.threshold) for _, v in known]
    run = 0
    for hit in reversed(ok):
        if not hit:
            break
        run += 1
    held_s = (today - known[len(known) - run][0]).total_seconds() if run else 0.0
    in_window = [v for d, v in known if d > start] or [known[-1][1]]
    window_value = min(in_window) if c.op != "<" else max(in_window)
    base = Reading(None, known[-1][1], window_value, held_s, history_s, source="file")
    if known[0][0] > start:
        return replace(
            base, reason=f"{key} has values from {known[0][0]} only: the rule needs {_days(c.window_s)}"
        )
    holds = all(_compare(v, c.op, c.threshold) for v in in_window)
    return replace(base, verdict=1.0 if holds else 0.0)


def _compare(value: float, op: str, threshold: float) -> bool:
    return value > threshold if op == ">" else value >= threshold if op == ">=" else value < threshold


def _days(seconds: float) -> str:
    return f"{seconds / DAY_S:g} days"


def missing_business(rules: Iterable[RuleResult | None]) -> list[str]:
    """Business signals that neither Prometheus nor the business file supplied, once each."""
    out: list[str] = []
    for rule in rules:
        for r in rule.results if rule else ():
            if r.state is State.UNKNOWN and r.condition.signal in BUSINESS_SIGNALS:
                key = BUSINESS_SIGNALS[r.condition.signal][0]
                if key not in out:
                    out.append(key)
    return out
