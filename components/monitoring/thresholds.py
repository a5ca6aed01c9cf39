"""What the alert rules compare against (pure: no Pulumi imports): thresholds per phase, the metric
sources, the next-phase triggers and their recorded signal names, Prometheus durations.

Next-phase triggers (REQUIREMENTS "Triggers for moving up a phase") are multi-day conditions. Raw
multi-day range queries over every series are expensive and ``for: 3d`` is per alert (it cannot be
counted across conditions), so each trigger is built in two cheap steps: a *signal*, one pre-aggregated
series recorded every evaluation (``phasescale:gpu_utilization:avg5m``), then the trigger
``phasescale:trigger:<name>`` = 1/0, a ``*_over_time`` over that single recorded series (a move-down
condition likewise: ``phasescale:move_down:<name>``). A trigger is
absent (counts as not holding) until the signal has a full window of history, so a fresh Prometheus
never recommends an upgrade. ``PhaseUpgradeRecommended`` counts the triggers that are 1.
Prometheus retention must cover ``retention_days_needed(phase)`` (kube-prometheus-stack's default, 10 d,
does not).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal

DAY_S = 86_400


class PostgresMetrics(StrEnum):
    """Which exporter the PostgreSQL series come from."""

    CNPG = "cnpg"
    """CloudNativePG's instance exporter (``cnpg_backends_total``, ``cnpg_pg_replication_lag``...)."""
    POSTGRES_EXPORTER = "postgres_exporter"
    """prometheus-community/postgres_exporter, for Cloud SQL / RDS (``pg_stat_activity_count``...)."""


API_RPS_PER_SERVICE_BY_PHASE: Mapping[int, float] = {1: 100.0, 2: 200.0, 3: 500.0, 4: 1000.0}
"""Phase 1: 001's APIScaleUpNeeded (> 100/s); phases 2-4: 004's throughput goals (200/500/1,000 RPS)."""
DB_TPS_BY_PHASE: Mapping[int, float] = {1: 1000.0, 2: 1000.0, 3: 5000.0, 4: 5000.0}
"""DBScaleUpNeeded warns at the TPS of the next phase's trigger (2->3: 1,000; 3->4: 5,000)."""


@dataclass(frozen=True)
class AlertThresholds:
    """Every alert threshold and ``for`` duration, with the requirement it comes from."""

    gpu_util_percent: float = 85.0
    """001 GPUScaleUpNeeded: mean GPU utilisation > 85 %..."""
    gpu_util_for_s: int = 300
    """... for 5 m."""
    api_rps_per_service: float = 100.0
    """001 APIScaleUpNeeded: > 100 requests/s per service; ``for_phase`` picks the phase's figure."""
    api_rps_for_s: int = 300
    db_tps: float = 1000.0
    """DBScaleUpNeeded: committed + rolled back transactions/s of one cluster (see ``DB_TPS_BY_PHASE``)."""
    db_tps_for_s: int = 300
    db_connections_ratio: float = 0.8
    """002 DatabaseConnectionsHigh: connections / max_connections > 80 % for 5 m."""
    db_connections_for_s: int = 300
    replication_lag_warning_s: float = 1.0
    """002 key metrics: replication lag warn 1 s..."""
    replication_lag_critical_s: float = 5.0
    """... critical 5 s."""
    replication_lag_for_s: int = 120
    """Not in the seeds: 2 m rides out a checkpoint or a vacuum burst."""
    cache_memory_ratio: float = 0.8
    """001 CacheScaleUpNeeded: Redis used / max memory > 80 % for 5 m."""
    cache_memory_for_s: int = 300
    error_ratio: float = 0.05
    """002 HighErrorRate: 5xx share > 5 % for 5 m, critical."""
    error_for_s: int = 300
    p99_latency_s: float = 0.5
    """002 HighLatency: p99 > 0.5 s for 5 m."""
    latency_for_s: int = 300
    llm_queue_requests: float = 20.0
    """001 GPU autoscaler: scale up when the queue > 20..."""
    llm_queue_for_s: int = 90
    """... three checks in a row, 30 s apart."""
    hpa_maxed_out_for_s: int = 300
    """000: alert when a service sits at its max instances (5 m, so one spike is not a page)."""
    hpa_scaled_window_s: int = 300
    """000: notify every scale up/down: HPAScaled fires while a change happened in this window."""
    phase_upgrade_for_s: int = 3600
    """Triggers are already multi-day; 1 h more keeps a recommendation from flapping."""
    rate_window_s: int = 300
    """``rate()`` window of the request rules: >= 4 scrapes at the 15 s scrape interval."""
    node_for_s: int = 300
    """``for`` of a NodeCPUHigh / NodeMemoryHigh level a stack adds without one (5 m, as 001's and 002's alerts)."""

    @classmethod
    def for_phase(cls, phase: int, **overrides: Any) -> AlertThresholds:
        """Defaults with the phase-dependent figures (API RPS, DB TPS) of ``phase``."""
        base = cls(api_rps_per_service=API_RPS_PER_SERVICE_BY_PHASE[phase], db_tps=DB_TPS_BY_PHASE[phase])
        return replace(base, **overrides)


@dataclass(frozen=True)
class ServiceAlertSpec:
    """One API service's alerts; ``None`` takes the value from ``AlertThresholds``."""

    namespace: str
    rps_threshold: float | None = None
    error_ratio: float | None = None
    p99_latency_s: float | None = None


@dataclass(frozen=True)
class MetricSources:
    """Where the rules find series whose names or selectors differ between deployments."""

    postgres: PostgresMetrics = PostgresMetrics.CNPG
    db_volume_claim_regex: str = "postgres-[0-9]+(-wal)?"
    """PVCs of the database (CNPG names them ``<cluster>-<n>`` and ``<cluster>-<n>-wal``)."""
    network_device_exclude_regex: str = "lo|veth.*|cali.*|cilium.*|flannel.*|cni.*|docker.*|br-.*|virbr.*"


class Hold(StrEnum):
    """How a trigger's signal must compare with its threshold over the window."""

    ALWAYS = "always"
    """At every evaluation in the window (``min_over_time``, or ``max_over_time`` for ``<``)."""
    DAILY_PEAK = "daily_peak"
    """The peak of each day (``peak_period_s``), on every day of the window (001's "at peak")."""
    AVERAGE = "average"
    """The mean over the window."""


@dataclass(frozen=True)
class TriggerCondition:
    """One measurable next-phase condition, recorded as ``phasescale:trigger:<name>`` (1 holds, 0 not)."""

    name: str
    description: str
    signal: str
    """A recording rule of ``signal_rules`` (one series, no labels)."""
    op: Literal[">", ">=", "<"]
    threshold: float
    hold: Hold
    window_s: int
    peak_period_s: int = DAY_S
    """The "day" of ``Hold.DAILY_PEAK``."""
    record_prefix: str = "phasescale:trigger"
    """``phasescale:trigger`` for a move-up trigger, ``phasescale:move_down`` for a move-down
    condition (so a query over ``phasescale:trigger:*`` counts the move up only)."""

    @property
    def record(self) -> str:
        return f"{self.record_prefix}:{self.name}"

    @property
    def history_s(self) -> int:
        """Signal history needed before the trigger is defined (a daily peak needs one more day)."""
        return self.window_s + (self.peak_period_s if self.hold is Hold.DAILY_PEAK else 0)

    @property
    def peak_record(self) -> str:
        """The recording rule holding the signal's rolling maximum over ``peak_period_s``."""
        return f"{self.signal}_max{duration(self.peak_period_s)}"

    @property
    def expr(self) -> str:
        """PromQL: 1 when the condition holds, 0 when not, absent without a full window of history."""
        w = duration(self.window_s)
        if self.hold is Hold.DAILY_PEAK:
            value = f"min_over_time({self.peak_record}[{w}])"
        elif self.hold is Hold.AVERAGE:
            value = f"avg_over_time({self.signal}[{w}])"
        else:
            value = f"{'max' if self.op == '<' else 'min'}_over_time({self.signal}[{w}])"
        threshold = f"{self.threshold:.12g}"  # 500000000, not 5e+08
        return f"({value} {self.op} bool {threshold}) and on () ({self.signal} offset {duration(self.history_s)})"


@dataclass(frozen=True)
class PhaseTriggers:
    """The conditions for leaving ``phase``; at least ``required`` must hold."""

    phase: int
    required: int
    conditions: tuple[TriggerCondition, ...]


def _t(
    name: str, desc: str, signal: str, op: Literal[">", ">=", "<"], thr: float, hold: Hold, days: float
) -> TriggerCondition:
    return TriggerCondition(name, desc, signal, op, thr, hold, int(days * DAY_S))


# Signals (recorded every evaluation; see ``signal_rules`` for their PromQL).
GPU_UTIL = "phasescale:gpu_utilization:avg5m"
API_P95 = "phasescale:http_request_duration_seconds:p95_5m"
LLM_QUEUE_WAIT = "phasescale:vllm_request_queue_time_seconds:mean5m"
CACHE_MISS = "phasescale:redis_keyspace_miss:ratio5m"
DB_TPS = "phasescale:pg_transactions:rate5m"
REDIS_MEMORY = "phasescale:redis_memory_used:max_ratio"
DB_DISK = "phasescale:pg_volume_used:max_ratio"
NETWORK = "phasescale:node_network_bits:max_rate5m"
CONCURRENT = "phasescale:app_concurrent_users:sum"
USERS = "phasescale:users_registered:max"
DAU = "phasescale:daily_active_users:max"
GROWTH = "phasescale:users_registered:growth7d"
REVENUE_COST = "phasescale:revenue_to_cost:ratio"
CONVERSION = "phasescale:paid_conversion:ratio"
CHURN = "phasescale:churn:ratio30d"
NPS = "phasescale:nps:max"

A, P, AV = Hold.ALWAYS, Hold.DAILY_PEAK, Hold.AVERAGE
# Windows in parentheses in REQUIREMENTS are used as given. Where none is given: business ratios
# must hold 7 days (monthly figures; a week filters one bad export), "at peak" figures take the
# daily peak over 3 days, gauges that only grow (disk, Redis memory) must hold for 1 day.
PHASE_TRIGGERS: dict[int, PhaseTriggers] = {
    1: PhaseTriggers(1, 3, (
        _t("signups_over_1k", "Registered users > 1,000 for 7 days", USERS, ">", 1000, A, 7),
        _t("dau_at_least_300", "DAU >= 300 for 5 days", DAU, ">=", 300, A, 5),
        _t("weekly_growth_15pct", "Week-over-week user growth >= 15% for 3 weeks", GROWTH, ">=", 0.15, A, 21),
        _t("gpu_util_peak_over_85pct", "GPU utilisation > 85% at the daily peak, 3 days", GPU_UTIL, ">", 85, P, 3),
        _t("api_p95_over_500ms", "API p95 > 500 ms at the daily peak, 2 days", API_P95, ">", 0.5, P, 2),
        _t("llm_queue_wait_over_10s", "LLM queue wait > 10 s at the daily peak, 1 week", LLM_QUEUE_WAIT, ">", 10, P, 7),
        _t("cache_miss_over_30pct", "Cache miss rate > 30% over 3 days", CACHE_MISS, ">", 0.3, AV, 3),
        _t("revenue_over_3x_cost", "Revenue > 3x infrastructure cost for 7 days", REVENUE_COST, ">", 3, A, 7),
        _t("paid_conversion_over_5pct", "Paid conversion > 5% for 7 days", CONVERSION, ">", 0.05, A, 7),
        _t("churn_under_10pct", "Churn < 10% for 7 days", CHURN, "<", 0.1, A, 7),
        _t("nps_over_40", "NPS > 40 for 7 days", NPS, ">", 40, A, 7),
    )),
    2: PhaseTriggers(2, 4, (
        _t("signups_over_10k", "Registered users > 10,000 for 7 days", USERS, ">", 10_000, A, 7),
        _t("dau_at_least_2000", "DAU >= 2,000 for 5 days", DAU, ">=", 2000, A, 5),
        _t("weekly_growth_20pct", "Week-over-week user growth >= 20% for 4 weeks", GROWTH, ">=", 0.2, A, 28),
        _t("gpu_util_peak_over_85pct", "GPU utilisation > 85% at the daily peak, 5 days", GPU_UTIL, ">", 85, P, 5),
        _t("api_p95_over_300ms", "API p95 > 300 ms at the daily peak, 3 days", API_P95, ">", 0.3, P, 3),
        _t("llm_queue_wait_over_15s", "LLM queue wait > 15 s at the daily peak, 1 week", LLM_QUEUE_WAIT, ">", 15, P, 7),
        _t("db_tps_over_1000", "DB transactions/s > 1,000 at the daily peak, 3 days", DB_TPS, ">", 1000, P, 3),
        _t("redis_memory_over_80pct", "Redis memory > 80% for 1 day", REDIS_MEMORY, ">", 0.8, A, 1),
        _t("db_disk_over_70pct", "DB disk > 70% for 1 day", DB_DISK, ">", 0.7, A, 1),
        _t("network_over_500mbps", "Node network > 500 Mbps at the daily peak, 3 days", NETWORK, ">", 500e6, P, 3),
        _t("concurrent_users_over_300", "Concurrent API users > 300 at the daily peak, 3 days", CONCURRENT, ">", 300, P, 3),
    )),
    # 3 -> 4 lists six conditions and no count. Multi-region is the costliest step, so it takes a
    # clear majority: 4 of 6 (as many as 2 -> 3 asks for, out of far fewer conditions). Windows
    # are not given; 2 -> 3's are reused (GPU "sustained": the daily peak for 7 days).
    3: PhaseTriggers(3, 4, (
        _t("signups_over_100k", "Registered users > 100,000 for 7 days", USERS, ">", 100_000, A, 7),
        _t("dau_at_least_20000", "DAU >= 20,000 for 5 days", DAU, ">=", 20_000, A, 5),
        _t("gpu_util_peak_over_85pct", "GPU utilisation > 85% at the daily peak, 7 days", GPU_UTIL, ">", 85, P, 7),
        _t("api_p95_over_200ms", "API p95 > 200 ms at the daily peak, 3 days", API_P95, ">", 0.2, P, 3),
        _t("db_tps_over_5000", "DB transactions/s > 5,000 at the daily peak, 3 days", DB_TPS, ">", 5000, P, 3),
        _t("network_over_1gbps", "Node network > 1 Gbps at the daily peak, 3 days", NETWORK, ">", 1e9, P, 3),
    )),
    # Phase 4 is the last phase: 4 -> 5 in the seeds has nowhere to go.
}  # fmt: skip


# ---------------------------------------------------------------- moving down a phase

SCALE_DOWN_LINE = 30 / 85
"""001's GPU autoscaler scales down below 30 % and up above 85 %: a move-down threshold is the
move-up threshold it mirrors times 30/85 (two significant figures), so the two never flap."""
SCALE_DOWN_CHECKS = 5 / 3
"""001 scales down after five low checks in a row and up after three high ones: a move-down window
is the mirrored trigger's window times 5/3, rounded up to whole days."""


def _down(
    up: TriggerCondition, name: str, label: str, unit: str = "", scale: float = 1.0
) -> TriggerCondition:
    """The mirror of the move-up trigger ``up`` (the one that brought the stack into its phase): its
    signal below ``up.threshold * SCALE_DOWN_LINE`` at every evaluation, for ``up``'s window x 5/3."""
    threshold = float(f"{up.threshold * SCALE_DOWN_LINE:.2g}")
    days = -(-up.window_s * 5 // (3 * DAY_S))
    desc = f"{label} < {threshold * scale:g}{unit} at every evaluation for {days} days (mirrors {up.name})"
    return TriggerCondition(
        name, desc, up.signal, "<", threshold, Hold.ALWAYS, days * DAY_S, record_prefix="phasescale:move_down"
    )


def _up(phase: int, name: str) -> TriggerCondition:
    (found,) = [c for c in PHASE_TRIGGERS[phase].conditions if c.name == name]
    return found


# Moving down from a phase mirrors the load triggers of the move up into it (cumulative signups,
# growth and business ratios do not fall with load, so they have no mirror). The phase's own rules
# record every signal its move-down conditions read and each condition as
# ``phasescale:move_down:<name>`` (``_phase_group``), at phase 4 too (which has no move up); the
# advisor also checks that the smaller phase would not ask to come straight back.
# "As readily as up": the same count as the move up into the phase.
PHASE_DOWN_TRIGGERS: dict[int, PhaseTriggers] = {
    2: PhaseTriggers(2, 3, (
        _down(_up(1, "dau_at_least_300"), "dau_under_110", "DAU"),
        _down(_up(1, "gpu_util_peak_over_85pct"), "gpu_util_under_30pct", "GPU utilisation", "%"),
        _down(_up(1, "api_p95_over_500ms"), "api_p95_under_180ms", "API p95", " ms", 1000),
        _down(_up(1, "llm_queue_wait_over_10s"), "llm_queue_wait_under_3_5s", "LLM queue wait", " s"),
    )),
    3: PhaseTriggers(3, 4, (
        _down(_up(2, "dau_at_least_2000"), "dau_under_710", "DAU"),
        _down(_up(2, "gpu_util_peak_over_85pct"), "gpu_util_under_30pct", "GPU utilisation", "%"),
        _down(_up(2, "api_p95_over_300ms"), "api_p95_under_110ms", "API p95", " ms", 1000),
        _down(_up(2, "db_tps_over_1000"), "db_tps_under_350", "DB transactions/s"),
        _down(_up(2, "network_over_500mbps"), "network_under_180mbps", "Node network", " Mbps", 1e-6),
    )),
    4: PhaseTriggers(4, 4, (
        _down(_up(3, "dau_at_least_20000"), "dau_under_7100", "DAU"),
        _down(_up(3, "gpu_util_peak_over_85pct"), "gpu_util_under_30pct", "GPU utilisation", "%"),
        _down(_up(3, "api_p95_over_200ms"), "api_p95_under_71ms", "API p95", " ms", 1000),
        _down(_up(3, "db_tps_over_5000"), "db_tps_under_1800", "DB transactions/s"),
        _down(_up(3, "network_over_1gbps"), "network_under_350mbps", "Node network", " Mbps", 1e-6),
    )),
}  # fmt: skip


# ---------------------------------------------------------------- beyond the top phase

# 001 "Phase 4 -> Phase 5 (500K -> 1M)": signups past 500,000 ("가입자 500,000명 돌파"), DAU of
# 100,000 or more ("DAU 100,000명 이상") and every indicator at 80 % or more ("모든 지표가 80% 이상";
# REQUIREMENTS writes "> 80%", the seed "이상": at or above). The catalog has no phase 5, so nothing
# moves: each condition is recorded as ``phasescale:ceiling:<name>`` at phase 4 and the advisor says
# the stack is outgrowing the catalog. The indicators are the capacity ratios the rules record (GPU
# utilisation, Redis memory, DB disk); "every" means all conditions must hold. Windows as 3 -> 4
# (users 7 days, DAU 5, GPU sustained: the daily peak for 7 days) and 2 -> 3 for the gauges that only
# grow (1 day). Not measured: monthly revenue > $500,000, a top-5 market share.
CEILING_TRIGGERS: dict[int, PhaseTriggers] = {
    4: PhaseTriggers(4, 5, tuple(replace(c, record_prefix="phasescale:ceiling") for c in (
        _t("signups_over_500k", "Registered users > 500,000 for 7 days", USERS, ">", 500_000, A, 7),
        _t("dau_at_least_100000", "DAU >= 100,000 for 5 days", DAU, ">=", 100_000, A, 5),
        _t("gpu_util_peak_at_least_80pct", "GPU utilisation >= 80% at the daily peak, 7 days", GPU_UTIL, ">=", 80, P, 7),
        _t("redis_memory_at_least_80pct", "Redis memory >= 80% for 1 day", REDIS_MEMORY, ">=", 0.8, A, 1),
        _t("db_disk_at_least_80pct", "DB disk >= 80% for 1 day", DB_DISK, ">=", 0.8, A, 1),
    ))),
}  # fmt: skip
"""The catalog's ceiling: the top phase's conditions for a phase the catalog does not have."""


def retention_days_needed(phase: int) -> int:
    """Days of Prometheus retention the phase's move-up triggers and move-down conditions read back
    (growth also looks 7 days back)."""
    tables = (PHASE_TRIGGERS, PHASE_DOWN_TRIGGERS, CEILING_TRIGGERS)
    conditions = [c for table in tables if phase in table for c in table[phase].conditions]
    if not conditions:
        return 0
    need = max(c.history_s + (7 * DAY_S if c.signal == GROWTH else 0) for c in conditions)
    return -(-need // DAY_S) + 1


def duration(seconds: float) -> str:
    """A Prometheus duration in the largest unit that divides ``seconds`` (``300`` -> ``5m``)."""
    s = int(seconds)
    for unit, size in (("d", DAY_S), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"
