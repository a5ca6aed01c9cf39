"""Shared helpers of the alert-rule tests, and the alert cases of the promtool unit tests: each alert
fires above its threshold and stays quiet at or below it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from components.monitoring.alert_rules import rule_groups
from components.monitoring.thresholds import AlertThresholds, MetricSources, PostgresMetrics, ServiceAlertSpec
from tests.promtool import render, series

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
