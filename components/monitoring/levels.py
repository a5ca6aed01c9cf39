"""Alert levels a stack may tune (pure: no Pulumi imports): every alert by its stable name, the unit
of its threshold, its default levels, and the merge of a stack's ``phasescale:alerts`` over them.

A *level* is one alert rule: a severity, a threshold and a ``for``. An alert has one level per
severity (``ReplicationLagHigh`` has a warning and a critical one); the Alertmanager routes each by
its ``severity`` label, and a critical level inhibits the warning level of the same alert, namespace
and service (``alertmanager.py``). A stack's setting per alert and severity replaces the fields it
gives (threshold, ``for``), adds a level the alert has not by default, or (``None``) removes one; an
alert left without levels has no rule. Alerts with no default level (``HighLatencyP95``,
``NodeCPUHigh``, ``NodeMemoryHigh``) are off until a stack gives one.

A new alert joins with one line in ``TUNABLE`` (its unit and default levels) and builds its rules
with ``_Alerts.leveled`` (``alert_rules.py``); validation and the README's defaults table follow.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from components.monitoring.thresholds import AlertThresholds
from components.problems import Problem


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


SCALING_ALERTS = ("HPAScaled", "HPAMaxedOut", "PhaseUpgradeRecommended")
"""Alerts the Alertmanager routes to the scaling-events channel by name, whatever their severity."""
ROUTED_SEVERITIES = (Severity.CRITICAL, Severity.WARNING)
"""Severities the Alertmanager routes to a receiver for any alert (``severity="critical"`` and
``severity="warning"`` routes); ``info`` reaches one only through the scaling alerts' name route."""
ORDER = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)
"""Rules of one alert are written in this order (the defaults' order: warning, then critical)."""


class Unit(StrEnum):
    """What a threshold measures, and so its valid range."""

    RATIO = "ratio"
    """A share, 0 < x <= 1 (0.05 is 5 %)."""
    PERCENT = "percent"
    """0 < x <= 100 (DCGM reports GPU utilisation in percent)."""
    SECONDS = "seconds"
    PER_SECOND = "per_second"
    COUNT = "count"
    NONE = "none"
    """No threshold: the alert fires on a condition (at max replicas, a scale event, triggers holding)."""

    def problem(self, value: float) -> str | None:
        """What is wrong with ``value`` as a threshold of this unit, or None."""
        if self is Unit.NONE:
            return "no threshold: this alert fires on a condition; set only its for and severity"
        top = {Unit.RATIO: 1.0, Unit.PERCENT: 100.0}.get(self, math.inf)
        if not (math.isfinite(value) and 0 < value <= top):
            shown = {Unit.RATIO: "a ratio above 0 and at most 1 (0.05 is 5%)",
                     Unit.PERCENT: "a percentage above 0 and at most 100"}  # fmt: skip
            return shown.get(self, f"a positive number of {self.value.replace('_', ' ')}")
        return None


@dataclass(frozen=True)
class Level:
    """One rule of an alert."""

    severity: Severity
    threshold: float | None
    for_s: int


@dataclass(frozen=True)
class LevelSetting:
    """A stack's setting of one level; ``None`` keeps the default level's value."""

    threshold: float | None = None
    for_s: int | None = None


AlertSettings = Mapping[str, Mapping[Severity, LevelSetting | None]]
"""``phasescale:alerts``: alert name -> severity -> setting (``None``: remove the level)."""


@dataclass(frozen=True)
class Tunable:
    """An alert a stack may tune: the unit of its threshold and its default levels."""

    unit: Unit
    defaults: Callable[[AlertThresholds], tuple[Level, ...]]
    summary: str
    """What it measures (the README's defaults table)."""
    for_s: Callable[[AlertThresholds], int] | None = None
    """``for`` of a level added without one; default: the first default level's."""

    def default_for_s(self, t: AlertThresholds) -> int:
        if self.for_s is not None:
            return self.for_s(t)
        return self.defaults(t)[0].for_s


W, C, I = Severity.WARNING, Severity.CRITICAL, Severity.INFO  # noqa: E741
TUNABLE: dict[str, Tunable] = {
    "APIScaleUpNeeded": Tunable(Unit.PER_SECOND, lambda t: (Level(W, t.api_rps_per_service, t.api_rps_for_s),), "requests/s of one service"),
    "HighErrorRate": Tunable(Unit.RATIO, lambda t: (Level(C, t.error_ratio, t.error_for_s),), "5xx share of one service's requests"),
    "HighLatency": Tunable(Unit.SECONDS, lambda t: (Level(W, t.p99_latency_s, t.latency_for_s),), "p99 latency of one service"),
    "HighLatencyP95": Tunable(Unit.SECONDS, lambda t: (), "p95 latency of one service", lambda t: t.latency_for_s),
    "GPUScaleUpNeeded": Tunable(Unit.PERCENT, lambda t: (Level(W, t.gpu_util_percent, t.gpu_util_for_s),), "mean utilisation of all GPUs, %"),
    "LLMQueueBacklog": Tunable(Unit.COUNT, lambda t: (Level(W, t.llm_queue_requests, t.llm_queue_for_s),), "requests waiting in one vLLM service"),
    "DBScaleUpNeeded": Tunable(Unit.PER_SECOND, lambda t: (Level(W, t.db_tps, t.db_tps_for_s),), "transactions/s of one PostgreSQL cluster"),
    "DatabaseConnectionsHigh": Tunable(Unit.RATIO, lambda t: (Level(W, t.db_connections_ratio, t.db_connections_for_s),), "connections / max_connections of one server"),
    "ReplicationLagHigh": Tunable(Unit.SECONDS, lambda t: (Level(W, t.replication_lag_warning_s, t.replication_lag_for_s), Level(C, t.replication_lag_critical_s, t.replication_lag_for_s)), "replay lag of one replica"),
    "CacheScaleUpNeeded": Tunable(Unit.RATIO, lambda t: (Level(W, t.cache_memory_ratio, t.cache_memory_for_s),), "Redis used / max memory of one pod"),
    "NodeCPUHigh": Tunable(Unit.RATIO, lambda t: (), "CPU busy share of one node", lambda t: t.node_for_s),
    "NodeMemoryHigh": Tunable(Unit.RATIO, lambda t: (), "memory in use (1 - MemAvailable / MemTotal) of one node", lambda t: t.node_for_s),
    "HPAMaxedOut": Tunable(Unit.NONE, lambda t: (Level(W, None, t.hpa_maxed_out_for_s),), "a service at its max replicas"),
    "HPAScaled": Tunable(Unit.NONE, lambda t: (Level(I, None, 0),), "a service's HPA changed its desired replicas"),
    "PhaseUpgradeRecommended": Tunable(Unit.NONE, lambda t: (Level(I, None, t.phase_upgrade_for_s),), "enough next-phase triggers hold (their count is the phase's)"),
}  # fmt: skip


def levels(name: str, t: AlertThresholds, settings: AlertSettings) -> tuple[Level, ...]:
    """The rules of alert ``name``: its default levels with the stack's settings over them."""
    tunable = TUNABLE[name]
    out = {lv.severity: lv for lv in tunable.defaults(t)}
    for severity, setting in settings.get(name, {}).items():
        if setting is None:
            out.pop(severity, None)
            continue
        base = out.get(severity)
        threshold = setting.threshold if setting.threshold is not None else base.threshold if base else None
        for_s = setting.for_s if setting.for_s is not None else base.for_s if base else tunable.default_for_s(t)
        out[severity] = Level(severity, threshold, for_s)
    return tuple(out[s] for s in ORDER if s in out)


def problems(settings: AlertSettings, t: AlertThresholds, path: str) -> list[Problem]:
    """What a schema cannot see: thresholds out of the unit's range, a level added without a
    threshold, info on an alert that no route delivers, and a warning not below its critical level
    (every alert here fires as its metric grows; a warning at or above critical is always inhibited)."""
    found: list[Problem] = []
    for name, by_severity in settings.items():
        if name not in TUNABLE:
            continue  # the schema reports unknown names
        unit = TUNABLE[name].unit
        defaults = {lv.severity for lv in TUNABLE[name].defaults(t)}
        for severity, setting in by_severity.items():
            at = f"{path}.{name}.{severity.value}"
            if setting is None:
                continue
            if severity is Severity.INFO and name not in SCALING_ALERTS:
                found.append(Problem(at, severity.value, f"one of {', '.join(s.value for s in ROUTED_SEVERITIES)}: info reaches no "
                                     f"receiver (only the scaling alerts {', '.join(SCALING_ALERTS)} route by name)"))
                continue
            if setting.threshold is not None:
                bad = unit.problem(setting.threshold)
                if bad:
                    found.append(Problem(f"{at}.threshold", setting.threshold, bad))
            elif unit is not Unit.NONE and severity not in defaults:
                found.append(Problem(f"{at}.threshold", "not set",
                                     f"required: {name} has no {severity.value} level by default"))
        merged = {lv.severity: lv.threshold for lv in levels(name, t, settings)}
        warning, critical = merged.get(Severity.WARNING), merged.get(Severity.CRITICAL)
        if warning is not None and critical is not None and warning >= critical:
            given = Severity.WARNING if Severity.WARNING in by_severity else Severity.CRITICAL
            found.append(Problem(f"{path}.{name}.{given.value}.threshold", merged[given],
                                 f"warning below critical ({name} fires as it grows: warning {warning:g}, "
                                 f"critical {critical:g})"))
    return found


DURATION_RE = re.compile(r"(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?")
"""Prometheus' duration grammar (prometheus.io/docs/prometheus/latest/querying/basics/#time-durations):
units y, w, d, h, m, s, ms, largest first, each at most once; a year is 365 d, a week 7 d."""
_UNIT_MS = (365 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


MAX_FOR_S = 7 * 86400
"""The longest ``for`` a level may have."""


def parse_duration(text: str) -> int:
    """Seconds of a Prometheus duration (``2m`` -> 120). Raises ValueError with what is valid: a
    duration of whole seconds (the rules evaluate every 15 s; a fraction of a second means nothing)."""
    match = DURATION_RE.fullmatch(text) if isinstance(text, str) else None
    if not text or match is None:
        raise ValueError("a Prometheus duration such as 30s, 2m, 1h or 1h30m (units y w d h m s ms, largest first)")
    ms = sum(int(match.group(2 * i + 2) or 0) * size for i, size in enumerate(_UNIT_MS))
    if ms % 1000:
        raise ValueError("a duration of whole seconds (rules evaluate every 15s)")
    if ms > MAX_FOR_S * 1000:  # promtool refuses durations past int64 nanoseconds (~292y); a week is plenty
        raise ValueError(f"at most {MAX_FOR_S // 86400}d (an alert pending longer than a week never pages anyone in time)")
    return ms // 1000


def percent(ratio: float) -> str:
    """``0.05`` -> ``5%``, ``0.005`` -> ``0.5%`` (an alert's summary)."""
    return f"{round(ratio * 100, 9):g}%"
