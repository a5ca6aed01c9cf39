"""The promtool unit tests of the trigger signals (from raw metrics) and of the time-scaled phase
triggers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from components.monitoring.alert_rules import rule_groups
from components.monitoring.thresholds import (
    CEILING_TRIGGERS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    AlertThresholds,
    Hold,
    PhaseTriggers,
    TriggerCondition,
)
from tests.monitoring.rule_cases import SERVICES, _buckets, find_rule
from tests.promtool import render, series

# ---------------------------------------------------------------- signals from raw metrics


@dataclass(frozen=True)
class SignalCase:
    inputs: list[dict[str, str]]
    value: float
    eval_time: str = "10m"
    interval: str = "1m"


PG_POD = {"namespace": "db", "datname": "app"}
NODE = {"device": "eth0"}
SIGNAL_CASES: dict[str, SignalCase] = {
    "phasescale:gpu_utilization:avg5m": SignalCase(
        [series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "0"}, "80x15"), series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "1"}, "90x15")], 85),
    "phasescale:http_request_duration_seconds:p95_5m": SignalCase(_buckets({"0.25": 0, "0.5": 60, "+Inf": 60}), 0.4875),
    "phasescale:vllm_request_queue_time_seconds:mean5m": SignalCase(
        [series("vllm:request_queue_time_seconds_sum", {"pod": "v-0"}, "0+120x15"),
         series("vllm:request_queue_time_seconds_count", {"pod": "v-0"}, "0+10x15")], 12),
    "phasescale:redis_keyspace_miss:ratio5m": SignalCase(
        [series("redis_keyspace_hits_total", {"pod": "r-0"}, "0+70x15"),
         series("redis_keyspace_misses_total", {"pod": "r-0"}, "0+30x15")], 0.3),
    # pods of one cluster add up (pg-1 6,000 + 60 rollbacks, pg-2 600 per minute); another cluster is smaller
    "phasescale:pg_transactions:rate5m": SignalCase(
        [series("cnpg_pg_stat_database_xact_commit", {**PG_POD, "pod": "pg-1"}, "0+6000x15"),
         series("cnpg_pg_stat_database_xact_rollback", {**PG_POD, "pod": "pg-1"}, "0+60x15"),
         series("cnpg_pg_stat_database_xact_commit", {**PG_POD, "pod": "pg-2"}, "0+600x15"),
         series("cnpg_pg_stat_database_xact_rollback", {**PG_POD, "pod": "pg-2"}, "0+0x15"),
         series("cnpg_pg_stat_database_xact_commit", {**PG_POD, "pod": "other-1"}, "0+60x15"),
         series("cnpg_pg_stat_database_xact_rollback", {**PG_POD, "pod": "other-1"}, "0+0x15")], 111),
    "phasescale:redis_memory_used:max_ratio": SignalCase(
        [series("redis_memory_used_bytes", {"pod": "r-0"}, "800x15"), series("redis_memory_max_bytes", {"pod": "r-0"}, "1000x15"),
         series("redis_memory_used_bytes", {"pod": "r-1"}, "900x15"), series("redis_memory_max_bytes", {"pod": "r-1"}, "0x15")], 0.8),
    "phasescale:pg_volume_used:max_ratio": SignalCase(
        [series("kubelet_volume_stats_used_bytes", {"persistentvolumeclaim": "postgres-1"}, "70x15"),
         series("kubelet_volume_stats_capacity_bytes", {"persistentvolumeclaim": "postgres-1"}, "100x15"),
         series("kubelet_volume_stats_used_bytes", {"persistentvolumeclaim": "postgres-1-wal"}, "50x15"),
         series("kubelet_volume_stats_capacity_bytes", {"persistentvolumeclaim": "postgres-1-wal"}, "100x15"),
         series("kubelet_volume_stats_used_bytes", {"persistentvolumeclaim": "redis-data-0"}, "99x15"),
         series("kubelet_volume_stats_capacity_bytes", {"persistentvolumeclaim": "redis-data-0"}, "100x15")], 0.7),
    # n1: 1 MB/s in + 1 MB/s out on eth0 = 16 Mbit/s; loopback and the smaller n2 do not count
    "phasescale:node_network_bits:max_rate5m": SignalCase(
        [series("node_network_receive_bytes_total", {"instance": "n1", **NODE}, "0+60000000x15"),
         series("node_network_transmit_bytes_total", {"instance": "n1", **NODE}, "0+60000000x15"),
         series("node_network_receive_bytes_total", {"instance": "n1", "device": "lo"}, "0+6000000000x15"),
         series("node_network_transmit_bytes_total", {"instance": "n1", "device": "lo"}, "0+6000000000x15"),
         series("node_network_receive_bytes_total", {"instance": "n2", **NODE}, "0+6000000x15"),
         series("node_network_transmit_bytes_total", {"instance": "n2", **NODE}, "0+6000000x15")], 16e6),
    "phasescale:app_concurrent_users:sum": SignalCase(
        [series("app_concurrent_users", {"pod": "a"}, "100x15"), series("app_concurrent_users", {"pod": "b"}, "200x15")], 300),
    "phasescale:users_registered:max": SignalCase(
        [series("phasescale_users_registered", {"pod": "a"}, "1500x15"), series("phasescale_users_registered", {"pod": "b"}, "1490x15")], 1500),
    "phasescale:daily_active_users:max": SignalCase([series("phasescale_daily_active_users", {"pod": "a"}, "300x15")], 300),
    "phasescale:users_registered:growth7d": SignalCase(
        [series("phasescale_users_registered", {"pod": "a"}, "100 _x6 170")], 0.7, eval_time="7d", interval="1d"),
    "phasescale:revenue_to_cost:ratio": SignalCase(
        [series("phasescale_revenue_usd_30d", {"pod": "a"}, "3000x15"), series("phasescale_infra_cost_usd_30d", {"pod": "a"}, "1000x15")], 3),
    "phasescale:paid_conversion:ratio": SignalCase([series("phasescale_paid_conversion_ratio", {"pod": "a"}, "0.05x15")], 0.05),
    "phasescale:churn:ratio30d": SignalCase([series("phasescale_churn_ratio_30d", {"pod": "a"}, "0.1x15")], 0.1),
    "phasescale:nps:max": SignalCase([series("phasescale_nps", {"pod": "a"}, "40x15")], 40),
}  # fmt: skip


def first_phase_using(signal: str) -> int:
    return min(p for p, t in PHASE_TRIGGERS.items() if any(c.signal == signal for c in t.conditions))


def signal_case_test(signal: str, case: SignalCase) -> dict[str, Any]:
    # Rounded to 6 decimals: rates and quantiles carry float noise (11.999999999999998).
    expr = f"round({signal} * 1e6) / 1e6"
    return {
        "name": f"signal {signal}",
        "interval": case.interval,
        "input_series": case.inputs,
        "promql_expr_test": [
            {
                "expr": expr,
                "eval_time": case.eval_time,
                "exp_samples": [{"labels": "{}", "value": case.value}],
            }
        ],
    }


# ---------------------------------------------------------------- phase triggers (time-scaled)

# promtool's test TSDB compacts (and stalls for seconds) once its data spans more than 36 h, so the
# trigger scenarios run the real conditions, counts and hold modes with every day shrunk to 30 minutes.
SCALE = 48
STEP_S = 300


def scaled_or_none(triggers: PhaseTriggers | None) -> PhaseTriggers | None:
    return scaled(triggers) if triggers is not None else None


def scaled(triggers: PhaseTriggers) -> PhaseTriggers:
    conds = tuple(
        replace(c, window_s=c.window_s // SCALE, peak_period_s=c.peak_period_s // SCALE)
        for c in triggers.conditions
    )
    return replace(triggers, conditions=conds)


def scaled_groups(phase: int) -> list[dict[str, Any]]:
    thresholds = AlertThresholds.for_phase(phase, phase_upgrade_for_s=STEP_S)
    up, down = scaled_or_none(PHASE_TRIGGERS.get(phase)), scaled_or_none(PHASE_DOWN_TRIGGERS.get(phase))
    ceiling = scaled_or_none(CEILING_TRIGGERS.get(phase))
    groups = rule_groups(thresholds, phase, SERVICES, triggers=up, down_triggers=down, ceiling_triggers=ceiling)
    return [g for g in groups if g["name"].endswith("-triggers")]  # signals are given as input series


def trigger_values(c: TriggerCondition, n: int, mode: str, t_check: int) -> list[float]:
    """Signal samples, one per step: ``hold``, ``miss`` (clearly on the wrong side), or ``almost``
    (holding except once inside the window: one dip, one day without a peak, a mean just short)."""
    up = c.op != "<"
    hi = c.threshold * 2 if up else c.threshold / 2
    lo = c.threshold / 2 if up else c.threshold * 2
    if mode == "miss":
        return [lo] * n
    if c.hold is Hold.DAILY_PEAK:
        day = c.peak_period_s // STEP_S
        spikes = [i for i in range(n) if i % day == day // 2]
        skip = max(i for i in spikes if i < t_check) if mode == "almost" else -1
        return [hi if i in spikes and i != skip else lo for i in range(n)]
    if c.hold is Hold.AVERAGE and mode == "almost":
        return [c.threshold * (1.9 if i % 2 else 0.05) for i in range(n)]
    values = [hi] * n
    if mode == "almost":
        values[t_check - 2] = lo
    return values


def trigger_scenario(
    triggers: PhaseTriggers, n_holding: int, move_down: bool = False, kind: str = "move down"
) -> dict[str, Any]:
    """The ``required`` triggers with the shortest history are driven: the first ``n_holding`` hold,
    the rest of the chosen ones almost hold; every other trigger's signal is clearly off. A move up
    also proves PhaseUpgradeRecommended; a move down (``PHASE_DOWN_TRIGGERS``, no alert) proves its
    ``phasescale:move_down:*`` records and how many of them hold, and so does the top phase's
    ceiling (``CEILING_TRIGGERS``, ``phasescale:ceiling:*``, ``kind="ceiling"``)."""
    conds = sorted(triggers.conditions, key=lambda c: (c.history_s, c.name))
    chosen = conds[: triggers.required]
    holding = chosen[:n_holding]
    t_on = max(c.history_s for c in chosen) // STEP_S
    t_check = t_on + 1  # PhaseUpgradeRecommended has for: one step
    n = t_check + 3
    inputs, samples = [], []
    for c in triggers.conditions:
        mode = "hold" if c in holding else "almost" if c in chosen else "miss"
        inputs.append(series(c.signal, {}, trigger_values(c, n, mode, t_check)))
        value = 1 if mode == "hold" else 0
        recorded = f'{c.record}{{phase="{triggers.phase}",trigger="{c.name}"}}'
        # Absent, not 0, until the signal has a full window of history.
        expect = [] if c.history_s // STEP_S > t_check else [{"labels": recorded, "value": value}]
        samples.append({"expr": c.record, "eval_time": f"{t_check * 5}m", "exp_samples": expect})
    if move_down:
        count = f"count({' or '.join(f'{c.record} == 1' for c in triggers.conditions)}) or vector(0)"
        samples.append({"expr": count, "eval_time": f"{t_check * 5}m", "exp_samples": [{"labels": "{}", "value": n_holding}]})
        return {"name": f"phase {triggers.phase} {kind}: {n_holding} of {len(triggers.conditions)} hold",
                "interval": "5m", "input_series": inputs, "promql_expr_test": samples}  # fmt: skip
    firing: list[dict[str, Any]] = []
    if n_holding >= triggers.required:
        rule = find_rule(scaled_groups(triggers.phase), "PhaseUpgradeRecommended", "info", {})
        labels = {"severity": "info", "phase": str(triggers.phase), "next_phase": str(triggers.phase + 1)}
        ann = {k: render(v, {}, n_holding, [c.name for c in holding]) for k, v in rule["annotations"].items()}
        firing = [{"exp_labels": labels, "exp_annotations": ann}]
    alerts = [
        {"eval_time": f"{t_on * 5}m", "alertname": "PhaseUpgradeRecommended", "exp_alerts": []},
        {"eval_time": f"{t_check * 5}m", "alertname": "PhaseUpgradeRecommended", "exp_alerts": firing},
    ]
    return {"name": f"phase {triggers.phase}: {n_holding} of {len(triggers.conditions)} hold",
            "interval": "5m", "input_series": inputs, "alert_rule_test": alerts, "promql_expr_test": samples}  # fmt: skip
