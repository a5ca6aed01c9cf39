"""Alert/recording rules and the Alertmanager config, proven with promtool and amtool.

Every rule file and promtool unit test is generated into tmp_path. All promtool unit tests run in one
``promtool test rules`` call (module fixture); a second call proves that a wrong expectation fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from components.monitoring.alert_rules import (
    PHASE_TRIGGERS,
    SCALING_ALERTS,
    AlertThresholds,
    Hold,
    MetricSources,
    PhaseTriggers,
    PostgresMetrics,
    ServiceAlertSpec,
    Severity,
    TriggerCondition,
    duration,
    retention_days_needed,
    rule_groups,
    signal_rules,
)
from components.monitoring.alertmanager import SlackChannels, alertmanager_config, secret_file
from tests.promtool import render, run, run_all, series, tool, write_yaml

SERVICES = {"hot": ServiceAlertSpec("shop")}
GROUPING_LABELS = {"namespace", "service", "pod", "le", "horizontalpodautoscaler"}
PG_EXPORTER = MetricSources(postgres=PostgresMetrics.POSTGRES_EXPORTER)
ALERT_NAMES = {
    "GPUScaleUpNeeded", "APIScaleUpNeeded", "DBScaleUpNeeded", "DatabaseConnectionsHigh", "ReplicationLagHigh",
    "CacheScaleUpNeeded", "HighErrorRate", "HighLatency", "LLMQueueBacklog", "HPAMaxedOut", "HPAScaled",
    "PhaseUpgradeRecommended",
}  # fmt: skip


def groups_for(phase: int, sources: MetricSources | None = None) -> list[dict[str, Any]]:
    return rule_groups(AlertThresholds.for_phase(phase), phase, SERVICES, sources=sources)


def alert_rules(groups: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [r for g in groups for r in g["rules"] if "alert" in r]


def find_rule(
    groups: Sequence[Mapping[str, Any]], alert: str, severity: str, labels: Mapping[str, str]
) -> dict:
    found = [
        r for r in alert_rules(groups)
        if r["alert"] == alert and r["labels"]["severity"] == severity
        and ("service" not in labels or f'service="{labels["service"]}"' in r["expr"] or "service=" not in r["expr"])
    ]  # fmt: skip
    assert len(found) == 1, (alert, severity, found)
    return found[0]


# ---------------------------------------------------------------- alert cases (1 m steps)

SHOP = {"namespace": "shop", "service": "hot"}
CNPG1 = {"namespace": "db", "pod": "pg-1"}
KSM = {"namespace": "shop", "job": "kube-state-metrics", "service": "kps-kube-state-metrics"}


def _hpa(name: str, current: str, max_: str, min_: str, desired: str | None = None) -> list[dict[str, str]]:
    labels = {**KSM, "horizontalpodautoscaler": name}
    out = [
        series("kube_horizontalpodautoscaler_status_current_replicas", labels, current),
        series("kube_horizontalpodautoscaler_spec_max_replicas", labels, max_),
        series("kube_horizontalpodautoscaler_spec_min_replicas", labels, min_),
    ]
    if desired is not None:
        out.append(series("kube_horizontalpodautoscaler_status_desired_replicas", labels, desired))
    return out


def _buckets(per_min: Mapping[str, int]) -> list[dict[str, str]]:
    return [
        series("http_request_duration_seconds_bucket", {**SHOP, "pod": "a", "le": le}, f"0+{n}x30")
        for le, n in per_min.items()
    ]


Expected = tuple[dict[str, str], float]


@dataclass(frozen=True)
class AlertCase:
    """``above`` series make ``alert`` fire with ``expected`` once active from ``active_m`` for its
    ``for``; ``below`` series (at or under the threshold) give ``below_expected`` (usually none)."""

    alert: str
    above: list[dict[str, str]]
    expected: list[Expected]
    below: list[dict[str, str]]
    active_m: int = 0
    below_expected: list[Expected] = field(default_factory=list)
    quiet_after_m: int | None = None
    sources: MetricSources | None = None


ALERT_CASES = [
    AlertCase("GPUScaleUpNeeded",
              [series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "0"}, "90x30"), series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "1"}, "84x30")],
              [({"severity": "warning"}, 87)],
              [series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "0"}, "85x30"), series("DCGM_FI_DEV_GPU_UTIL", {"gpu": "1"}, "85x30")]),
    # Counters start high: rate() over 5 m is exact once 4 m of samples exist.
    AlertCase("APIScaleUpNeeded",
              [series("http_requests_total", {**SHOP, "pod": "a", "status": "200"}, "100000+6600x30")],
              [({"severity": "warning", **SHOP}, 110)],
              [series("http_requests_total", {**SHOP, "pod": "a", "status": "200"}, "100000+5400x30")], active_m=4),
    # Ratios of rates over the same samples are exact from the second sample.
    AlertCase("HighErrorRate",
              [series("http_requests_total", {**SHOP, "pod": "a", "status": "200"}, "0+9000x30"),
               series("http_requests_total", {**SHOP, "pod": "a", "status": "503"}, "0+1000x30")],
              [({"severity": "critical", **SHOP}, 0.1)],
              [series("http_requests_total", {**SHOP, "pod": "a", "status": "200"}, "0+9600x30"),
               series("http_requests_total", {**SHOP, "pod": "a", "status": "500"}, "0+400x30")], active_m=1),
    AlertCase("HighLatency",
              _buckets({"0.25": 0, "0.5": 0, "1": 60, "+Inf": 60}), [({"severity": "warning", **SHOP}, 0.995)],
              _buckets({"0.25": 0, "0.5": 60, "1": 60, "+Inf": 60}), active_m=1),
    AlertCase("DBScaleUpNeeded",
              [series("cnpg_pg_stat_database_xact_commit", {**CNPG1, "datname": "app"}, "1000000+66000x30"),
               series("cnpg_pg_stat_database_xact_rollback", {**CNPG1, "datname": "app"}, "1000+0x30")],
              [({"severity": "warning", "namespace": "db", "service": "pg"}, 1100)],
              [series("cnpg_pg_stat_database_xact_commit", {**CNPG1, "datname": "app"}, "1000000+54000x30"),
               series("cnpg_pg_stat_database_xact_rollback", {**CNPG1, "datname": "app"}, "1000+0x30")], active_m=4),
    AlertCase("DatabaseConnectionsHigh",
              [series("cnpg_backends_total", {**CNPG1, "state": "active"}, "50x30"),
               series("cnpg_backends_total", {**CNPG1, "state": "idle"}, "35x30"),
               series("cnpg_pg_settings_setting", {**CNPG1, "name": "max_connections"}, "100x30")],
              [({"severity": "warning", **CNPG1, "service": "pg"}, 0.85)],
              [series("cnpg_backends_total", {**CNPG1, "state": "active"}, "45x30"),
               series("cnpg_backends_total", {**CNPG1, "state": "idle"}, "35x30"),
               series("cnpg_pg_settings_setting", {**CNPG1, "name": "max_connections"}, "100x30")]),
    AlertCase("ReplicationLagHigh",
              [series("cnpg_pg_replication_lag", {"namespace": "db", "pod": "pg-2"}, "3x30")],
              [({"severity": "warning", "namespace": "db", "pod": "pg-2", "service": "pg"}, 3)],
              [series("cnpg_pg_replication_lag", {"namespace": "db", "pod": "pg-2"}, "1x30")]),
    AlertCase("ReplicationLagHigh",
              [series("cnpg_pg_replication_lag", {"namespace": "db", "pod": "pg-2"}, "6x30")],
              [({"severity": "warning", "namespace": "db", "pod": "pg-2", "service": "pg"}, 6),
               ({"severity": "critical", "namespace": "db", "pod": "pg-2", "service": "pg"}, 6)],
              [series("cnpg_pg_replication_lag", {"namespace": "db", "pod": "pg-2"}, "5x30")],
              below_expected=[({"severity": "warning", "namespace": "db", "pod": "pg-2", "service": "pg"}, 5)]),
    AlertCase("DatabaseConnectionsHigh",
              [series("pg_stat_activity_count", {"namespace": "db", "service": "pgx", "pod": "x-0", "state": "active"}, "170x30"),
               series("pg_settings_max_connections", {"namespace": "db", "service": "pgx", "pod": "x-0"}, "200x30")],
              [({"severity": "warning", "namespace": "db", "service": "pgx", "pod": "x-0"}, 0.85)],
              [series("pg_stat_activity_count", {"namespace": "db", "service": "pgx", "pod": "x-0", "state": "active"}, "160x30"),
               series("pg_settings_max_connections", {"namespace": "db", "service": "pgx", "pod": "x-0"}, "200x30")],
              sources=PG_EXPORTER),
    AlertCase("ReplicationLagHigh",
              [series("pg_replication_lag_seconds", {"namespace": "db", "service": "pgx", "pod": "x-1"}, "7.5x30")],
              [({"severity": "warning", "namespace": "db", "service": "pgx", "pod": "x-1"}, 7.5),
               ({"severity": "critical", "namespace": "db", "service": "pgx", "pod": "x-1"}, 7.5)],
              [series("pg_replication_lag_seconds", {"namespace": "db", "service": "pgx", "pod": "x-1"}, "0.5x30")],
              sources=PG_EXPORTER),
    AlertCase("CacheScaleUpNeeded",
              [series("redis_memory_used_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-0"}, "900x30"),
               series("redis_memory_max_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-0"}, "1000x30"),
               # maxmemory 0 (unlimited) must not divide by zero into an alert
               series("redis_memory_used_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-1"}, "500x30"),
               series("redis_memory_max_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-1"}, "0x30")],
              [({"severity": "warning", "namespace": "cache", "service": "redis", "pod": "redis-0"}, 0.9)],
              [series("redis_memory_used_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-0"}, "800x30"),
               series("redis_memory_max_bytes", {"namespace": "cache", "service": "redis", "pod": "redis-0"}, "1000x30")]),
    AlertCase("LLMQueueBacklog",
              [series("vllm:num_requests_waiting", {"namespace": "llm", "service": "vllm", "pod": "v-0"}, "15x30"),
               series("vllm:num_requests_waiting", {"namespace": "llm", "service": "vllm", "pod": "v-1"}, "10x30")],
              [({"severity": "warning", "namespace": "llm", "service": "vllm"}, 25)],
              [series("vllm:num_requests_waiting", {"namespace": "llm", "service": "vllm", "pod": "v-0"}, "12x30"),
               series("vllm:num_requests_waiting", {"namespace": "llm", "service": "vllm", "pod": "v-1"}, "8x30")]),
    # ``fixed`` (min == max) and ``warm`` (below max) must stay quiet.
    AlertCase("HPAMaxedOut",
              _hpa("hot", "10x30", "10x30", "2x30") + _hpa("fixed", "3x30", "3x30", "3x30") + _hpa("warm", "5x30", "10x30", "2x30"),
              [({"severity": "warning", "namespace": "shop", "horizontalpodautoscaler": "hot", "service": "hot"}, 10)],
              _hpa("hot", "9x30", "10x30", "2x30")),
    # desired replicas 2 -> 3 at minute 5: notifies at once, quiet again once 5 m without change passed.
    AlertCase("HPAScaled",
              _hpa("hot", "3x30", "10x30", "2x30", desired="2 2 2 2 2 3x25"),
              [({"severity": "info", "namespace": "shop", "horizontalpodautoscaler": "hot", "service": "hot"}, 3)],
              _hpa("hot", "2x30", "10x30", "2x30", desired="2x30"), active_m=5, quiet_after_m=10),
]  # fmt: skip


def _exp_alerts(groups: Sequence[Mapping[str, Any]], alert: str, expected: Sequence[Expected]) -> list[dict]:
    out = []
    for labels, value in expected:
        rule = find_rule(groups, alert, labels["severity"], labels)
        # $labels are the expression's labels: static rule labels only, unless the series carry them too.
        expr_labels = {k: v for k, v in labels.items() if k not in rule["labels"] or f'{k}="' in rule["expr"]}
        annotations = {k: render(v, expr_labels, value) for k, v in rule["annotations"].items()}
        out.append({"exp_labels": labels, "exp_annotations": annotations})
    return out


def alert_case_tests(case: AlertCase) -> list[dict[str, Any]]:
    groups = groups_for(1, case.sources)
    sev = case.expected[0][0]["severity"]
    rule = find_rule(groups, case.alert, sev, case.expected[0][0])
    for_m = math.ceil(_seconds(rule.get("for", "0s")) / 60)
    fire = case.active_m + for_m
    checks = [
        {
            "eval_time": f"{fire}m",
            "alertname": case.alert,
            "exp_alerts": _exp_alerts(groups, case.alert, case.expected),
        }
    ]
    if fire > 0:
        checks.append({"eval_time": f"{fire - 1}m", "alertname": case.alert, "exp_alerts": []})
    if case.quiet_after_m is not None:
        checks.append(
            {"eval_time": f"{fire + case.quiet_after_m}m", "alertname": case.alert, "exp_alerts": []}
        )
    below = {"eval_time": f"{fire + 5}m", "alertname": case.alert,
             "exp_alerts": _exp_alerts(groups, case.alert, case.below_expected)}  # fmt: skip
    return [
        {
            "name": f"{case.alert} above",
            "interval": "1m",
            "input_series": case.above,
            "alert_rule_test": checks,
        },
        {
            "name": f"{case.alert} at/below",
            "interval": "1m",
            "input_series": case.below,
            "alert_rule_test": [below],
        },
    ]


def _seconds(d: str) -> int:
    n, unit = int(d[:-1]), d[-1]
    return n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


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


def scaled(triggers: PhaseTriggers) -> PhaseTriggers:
    conds = tuple(
        replace(c, window_s=c.window_s // SCALE, peak_period_s=c.peak_period_s // SCALE)
        for c in triggers.conditions
    )
    return replace(triggers, conditions=conds)


def scaled_groups(phase: int) -> list[dict[str, Any]]:
    thresholds = AlertThresholds.for_phase(phase, phase_upgrade_for_s=STEP_S)
    groups = rule_groups(thresholds, phase, SERVICES, triggers=scaled(PHASE_TRIGGERS[phase]))
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


def trigger_scenario(triggers: PhaseTriggers, n_holding: int) -> dict[str, Any]:
    """The ``required`` triggers with the shortest history are driven: the first ``n_holding`` hold,
    the rest of the chosen ones almost hold; every other trigger's signal is clearly off."""
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


# ---------------------------------------------------------------- the promtool runs


def rule_files(tmp: Path) -> dict[str, list[dict[str, Any]]]:
    """Rule groups by file key: each phase, the postgres_exporter variant, time-scaled triggers."""
    out = {f"phase{p}": groups_for(p) for p in (1, 2, 3, 4)}
    out["pg-exporter"] = groups_for(1, PG_EXPORTER)
    out |= {f"scaled{p}": scaled_groups(p) for p in PHASE_TRIGGERS}
    return out


def _metrics(test: Mapping[str, Any]) -> set[str]:
    return {s["series"].split("{")[0] for s in test["input_series"]}


def pack(tests: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge test groups that cannot disturb each other (same interval, no shared metric, no shared
    alertname): promtool builds a fresh TSDB per group, the main cost of a run."""
    packed: list[dict[str, Any]] = []
    for test in tests:
        alerts = {t["alertname"] for t in test.get("alert_rule_test", [])}
        for group in packed:
            if (
                group["interval"] == test["interval"]
                and not _metrics(group) & _metrics(test)
                and not alerts & {t["alertname"] for t in group.get("alert_rule_test", [])}
            ):
                group["name"] += "; " + test["name"]
                for key in ("input_series", "alert_rule_test", "promql_expr_test"):
                    group.setdefault(key, []).extend(test.get(key, []))
                break
        else:
            packed.append({k: list(v) if isinstance(v, list) else v for k, v in test.items()})
    return packed


def unit_test_files(tmp: Path, rules: Mapping[str, list[dict[str, Any]]]) -> list[Path]:
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for case in ALERT_CASES:
        by_file.setdefault(("pg-exporter" if case.sources else "phase1", "1m"), []).extend(
            alert_case_tests(case)
        )
    for signal, scase in SIGNAL_CASES.items():
        by_file.setdefault((f"phase{first_phase_using(signal)}", scase.interval), []).append(
            signal_case_test(signal, scase)
        )
    for phase, triggers in PHASE_TRIGGERS.items():
        by_file.setdefault((f"scaled{phase}", "5m"), []).extend(
            trigger_scenario(scaled(triggers), n) for n in (triggers.required, triggers.required - 1)
        )
    out = []
    for (key, every), tests in sorted(by_file.items()):
        tests = pack(tests)
        out.append(write_yaml(tmp / f"test-{key}-{every}.yml", {
            "rule_files": [str(tmp / f"rules-{key}.yml")], "evaluation_interval": every,
            "group_eval_order": [g["name"] for g in rules[key]], "tests": tests,
        }))  # fmt: skip
    return out


def wrong_expectation_files(tmp: Path) -> list[Path]:
    """GPUScaleUpNeeded expected one minute early, and with a wrong value: promtool must reject both."""
    gpu = ALERT_CASES[0]
    good = alert_case_tests(gpu)[0]
    check = good["alert_rule_test"][0]
    wrong_value = _exp_alerts(groups_for(1), gpu.alert, [({"severity": "warning"}, 88)])
    bad = {"early": {**check, "eval_time": "4m"}, "wrong": {**check, "exp_alerts": wrong_value}}
    return [
        write_yaml(tmp / f"bad-{name}.yml",
                   {"rule_files": [str(tmp / "rules-phase1.yml")], "tests": [{**good, "alert_rule_test": [test]}]})
        for name, test in bad.items()
    ]  # fmt: skip


@pytest.fixture(scope="module")
def promtool_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every promtool run, side by side: check, the unit tests in two halves (two cores), the bad tests."""
    promtool = tool("promtool")
    tmp = tmp_path_factory.mktemp("promtool")
    rules = rule_files(tmp)
    paths = [write_yaml(tmp / f"rules-{key}.yml", {"groups": groups}) for key, groups in rules.items()]
    tests = sorted(unit_test_files(tmp, rules), key=lambda p: p.stat().st_size, reverse=True)
    results = run_all({
        "check": [promtool, "check", "rules", *map(str, paths)],
        "test-a": [promtool, "test", "rules", *map(str, tests[0::2])],
        "test-b": [promtool, "test", "rules", *map(str, tests[1::2])],
        "bad": [promtool, "test", "rules", *map(str, wrong_expectation_files(tmp))],
    })  # fmt: skip
    return {**results, "tests": tests, "rules": rules}


def test_promtool_accepts_every_rule_file(promtool_results: dict[str, Any]) -> None:
    res = promtool_results["check"]
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == len(promtool_results["rules"])


def test_promtool_unit_tests_pass(promtool_results: dict[str, Any]) -> None:
    for half in ("test-a", "test-b"):
        res = promtool_results[half]
        assert res.returncode == 0, res.stdout + res.stderr
    passed = sum(promtool_results[h].stdout.count("SUCCESS") for h in ("test-a", "test-b"))
    assert passed == len(promtool_results["tests"])


def test_promtool_unit_tests_cover_every_alert_and_signal() -> None:
    cased = {c.alert for c in ALERT_CASES} | {"PhaseUpgradeRecommended"}
    assert cased == ALERT_NAMES
    assert set(SIGNAL_CASES) == set(signal_rules(MetricSources()))


def test_wrong_expectations_make_promtool_fail(promtool_results: dict[str, Any]) -> None:
    """The harness can fail: firing one minute early, or with a wrong value, is rejected."""
    res = promtool_results["bad"]
    assert res.returncode != 0
    assert (res.stdout + res.stderr).count("FAILED") == 2, res.stdout + res.stderr


# ---------------------------------------------------------------- pure checks of the rules


def test_thresholds_default_to_the_requirements() -> None:
    t = AlertThresholds()
    assert (t.gpu_util_percent, t.gpu_util_for_s) == (85, 300)
    assert (t.api_rps_per_service, t.api_rps_for_s) == (100, 300)
    assert (t.db_connections_ratio, t.db_connections_for_s) == (0.8, 300)
    assert (t.replication_lag_warning_s, t.replication_lag_critical_s) == (1, 5)
    assert (t.cache_memory_ratio, t.cache_memory_for_s) == (0.8, 300)
    assert (t.error_ratio, t.error_for_s) == (0.05, 300)
    assert (t.p99_latency_s, t.latency_for_s) == (0.5, 300)
    assert t.llm_queue_requests == 20
    assert [AlertThresholds.for_phase(p).api_rps_per_service for p in (1, 2, 3, 4)] == [100, 200, 500, 1000]
    assert AlertThresholds.for_phase(3, error_ratio=0.01).error_ratio == 0.01


def test_phase_triggers_follow_the_requirements() -> None:
    assert sorted(PHASE_TRIGGERS) == [1, 2, 3]
    assert [PHASE_TRIGGERS[p].required for p in (1, 2, 3)] == [3, 4, 4]
    assert [len(PHASE_TRIGGERS[p].conditions) for p in (1, 2, 3)] == [11, 11, 6]
    signals = signal_rules(MetricSources())
    for phase, triggers in PHASE_TRIGGERS.items():
        assert triggers.phase == phase
        names = [c.name for c in triggers.conditions]
        assert len(set(names)) == len(names)
        assert len({c.signal for c in triggers.conditions}) == len(names), (
            "each scenario signal drives one trigger"
        )
        assert all(c.signal in signals for c in triggers.conditions)
        assert all(c.hold is not Hold.DAILY_PEAK or c.op != "<" for c in triggers.conditions)
    gpu = {c.name: c for c in PHASE_TRIGGERS[1].conditions}["gpu_util_peak_over_85pct"]
    assert (gpu.threshold, gpu.window_s, gpu.hold) == (85, 3 * 86400, Hold.DAILY_PEAK)
    assert gpu.expr == (
        "(min_over_time(phasescale:gpu_utilization:avg5m_max1d[3d]) > bool 85)"
        " and on () (phasescale:gpu_utilization:avg5m offset 4d)"
    )


def test_retention_covers_the_longest_trigger() -> None:
    # 2 -> 3 weekly growth: 4 weeks of growth, each against the week before, plus a day of margin.
    assert retention_days_needed(2) == 28 + 7 + 1
    assert retention_days_needed(4) == 0


def test_every_alert_is_labelled_and_annotated() -> None:
    for phase in (1, 2, 3, 4):
        alerts = alert_rules(groups_for(phase))
        names = {r["alert"] for r in alerts}
        assert names == (ALERT_NAMES if phase < 4 else ALERT_NAMES - {"PhaseUpgradeRecommended"})
        for r in alerts:
            assert r["labels"]["severity"] in set(Severity), r
            assert r["annotations"]["summary"] and r["annotations"]["description"], r
            for clause in re.findall(r"\bby \(([^)]*)\)", r["expr"]):
                assert set(re.split(r",\s*", clause)) <= GROUPING_LABELS, r["expr"]


def test_service_overrides_and_runbooks() -> None:
    services = {"auth": ServiceAlertSpec("app", rps_threshold=500, error_ratio=0.01, p99_latency_s=0.2)}
    groups = rule_groups(AlertThresholds(), 1, services, runbook_base_url="https://runbooks.example/")
    by_name = {r["alert"]: r for r in alert_rules(groups)}
    assert (
        by_name["APIScaleUpNeeded"]["expr"]
        == 'namespace_service:http_requests:rate5m{namespace="app",service="auth"} > 500'
    )
    assert by_name["HighErrorRate"]["expr"].endswith("> 0.01")
    assert by_name["HighLatency"]["expr"].endswith("> 0.2")
    assert by_name["HighLatency"]["annotations"]["runbook_url"] == "https://runbooks.example/highlatency"
    assert "runbook_url" not in alert_rules(groups_for(1))[0]["annotations"]
    with pytest.raises(ValueError, match="phase"):
        rule_groups(AlertThresholds(), 5, services)


def test_durations() -> None:
    cases = {90: "90s", 300: "5m", 3600: "1h", 86400: "1d", 4 * 86400: "4d", 0: "0s"}
    assert {s: duration(s) for s in cases} == cases


# ---------------------------------------------------------------- Alertmanager

AM_SECRET = secret_file("alertmanager-slack", "webhook-url")


@pytest.fixture(scope="module")
def am_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_yaml(tmp_path_factory.mktemp("am") / "alertmanager.yml", alertmanager_config(AM_SECRET))


def test_amtool_accepts_the_config(am_file: Path) -> None:
    res = run([tool("amtool"), "check-config", str(am_file)])
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS" in res.stdout and "4 receivers" in res.stdout


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (
            {"alertname": "HighErrorRate", "severity": "critical", "namespace": "shop", "service": "hot"},
            "slack-critical",
        ),
        ({"alertname": "ReplicationLagHigh", "severity": "critical"}, "slack-critical"),
        ({"alertname": "HighLatency", "severity": "warning"}, "slack-warning"),
        ({"alertname": "HPAScaled", "severity": "info", "namespace": "shop"}, "slack-scaling"),
        ({"alertname": "HPAMaxedOut", "severity": "warning"}, "slack-scaling"),
        ({"alertname": "PhaseUpgradeRecommended", "severity": "info"}, "slack-scaling"),
        ({"alertname": "Watchdog", "severity": "none"}, "null"),
        ({"alertname": "KubeletTooManyPods", "severity": "info"}, "null"),
    ],
)
def test_amtool_routes(am_file: Path, labels: dict[str, str], receiver: str) -> None:
    res = run([tool("amtool"), "config", "routes", "test", f"--config.file={am_file}",
               *(f"{k}={v}" for k, v in labels.items())])  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receiver


def test_alertmanager_secrets_and_inhibition() -> None:
    cfg = alertmanager_config(AM_SECRET, SlackChannels(critical="#oncall"))
    assert AM_SECRET == "/etc/alertmanager/secrets/alertmanager-slack/webhook-url"
    slack = [s for r in cfg["receivers"] for s in r.get("slack_configs", [])]
    assert len(slack) == 3 and all(s["api_url_file"] == AM_SECRET and "api_url" not in s for s in slack)
    assert {s["channel"] for s in slack} == {"#oncall", "#alerts-warning", "#scaling-events"}
    assert [s["send_resolved"] for s in slack] == [True, True, False]  # critical, warning, scaling
    assert cfg["route"]["group_by"] == ["alertname", "namespace", "service"]
    critical_first = cfg["inhibit_rules"][0]
    assert critical_first["source_matchers"] == ['severity="critical"']
    assert critical_first["target_matchers"] == ['severity="warning"']
    assert critical_first["equal"] == ["alertname", "namespace", "service"]
    assert all(a in cfg["inhibit_rules"][1]["target_matchers"][1] for a in SCALING_ALERTS)
