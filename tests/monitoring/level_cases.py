"""Configured alert levels for the promtool runs: seed 004's figures (p95 > 2 s for 2 m, errors > 1 %
for 1 m, DB connections > 80 % for 30 s) and seed 000's thresholds table (CPU, memory, p95 and errors,
warning / critical), each as a stack's ``phasescale:alerts`` would give them."""

from __future__ import annotations

from typing import Any

from components.monitoring.alert_rules import rule_groups
from components.monitoring.levels import AlertSettings, LevelSetting, Severity
from components.monitoring.thresholds import AlertThresholds
from tests.monitoring.rule_cases import CNPG1, SERVICES, SHOP, _exp_alerts
from tests.promtool import series

W, C = Severity.WARNING, Severity.CRITICAL
SEED_004: AlertSettings = {
    "HighLatencyP95": {W: LevelSetting(2.0, 120)},
    "HighErrorRate": {C: LevelSetting(0.01, 60)},
    "DatabaseConnectionsHigh": {W: LevelSetting(0.8, 30)},
}
SEED_000: AlertSettings = {
    "NodeCPUHigh": {W: LevelSetting(0.7), C: LevelSetting(0.85)},
    "NodeMemoryHigh": {W: LevelSetting(0.8), C: LevelSetting(0.9)},
    "HighLatencyP95": {W: LevelSetting(0.5), C: LevelSetting(1.0)},
    "HighErrorRate": {W: LevelSetting(0.005), C: LevelSetting(0.01)},
}


def configured_groups(settings: AlertSettings, phase: int = 2) -> list[dict[str, Any]]:
    return rule_groups(AlertThresholds.for_phase(phase), phase, SERVICES, alerts=settings)


def _p95_buckets(le_1: int, le_2: int, le_3: int) -> list[dict[str, str]]:
    """Per-minute bucket counts: p95 of (0 | 1, 2, 3 | +Inf) by histogram_quantile's interpolation."""
    counts = {"1": le_1, "2": le_2, "3": le_3, "+Inf": le_3}
    return [series("http_request_duration_seconds_bucket", {**SHOP, "pod": "a", "le": le}, f"0+{n}x30")
            for le, n in counts.items()]  # fmt: skip


P95_2_1S = _p95_buckets(170, 170, 180)
"""rank 0.95 x 180 = 171 falls 1 of 10 into (2, 3]: p95 = 2.1 s."""
P95_1_9S = _p95_buckets(10, 20, 20)
"""rank 0.95 x 20 = 19 falls 9 of 10 into (1, 2]: p95 = 1.9 s."""


def seed_004_tests() -> list[dict[str, Any]]:
    """p95 2.1 s: pending from 1 m (rate needs two samples), firing at 3 m (2 m later), not at 2 m;
    p95 1.9 s: never. DB connections 85 % of max_connections: firing 30 s after the first sample."""
    groups = configured_groups(SEED_004)
    labels = {"severity": "warning", **SHOP}
    conns = [series("cnpg_backends_total", {**CNPG1, "state": "active"}, "85x20"),
             series("cnpg_pg_settings_setting", {**CNPG1, "name": "max_connections"}, "100x20")]  # fmt: skip
    pool = {"severity": "warning", **CNPG1, "service": "pg"}
    return [
        {"name": "seed 004 p95 2.1 s", "interval": "1m", "input_series": P95_2_1S, "alert_rule_test": [
            {"eval_time": "2m", "alertname": "HighLatencyP95", "exp_alerts": []},
            {"eval_time": "3m", "alertname": "HighLatencyP95",
             "exp_alerts": _exp_alerts(groups, "HighLatencyP95", [(labels, 2.1)])},
        ]},
        {"name": "seed 004 p95 1.9 s", "interval": "1m", "input_series": P95_1_9S, "alert_rule_test": [
            {"eval_time": "10m", "alertname": "HighLatencyP95", "exp_alerts": []},
        ]},
        {"name": "seed 004 DB pool 85 %", "interval": "15s", "input_series": conns, "alert_rule_test": [
            {"eval_time": "15s", "alertname": "DatabaseConnectionsHigh", "exp_alerts": []},
            {"eval_time": "30s", "alertname": "DatabaseConnectionsHigh",
             "exp_alerts": _exp_alerts(groups, "DatabaseConnectionsHigh", [(pool, 0.85)])},
        ]},
    ]  # fmt: skip


def seed_000_tests() -> list[dict[str, Any]]:
    """A node 80 % busy and 95 % full: CPU warning only (70 % < 80 % < 85 %), 5 m after its rate has
    two samples (1 m); memory warning and critical from the first sample (both levels fire; the
    Alertmanager's inhibit rule keeps the critical one)."""
    groups = configured_groups(SEED_000)
    node = {"instance": "10.0.0.1:9100"}
    idle = [series("node_cpu_seconds_total", {**node, "cpu": str(c), "mode": "idle"}, "0+12x20") for c in (0, 1)]
    memory = [series("node_memory_MemAvailable_bytes", node, "50x20"), series("node_memory_MemTotal_bytes", node, "1000x20")]
    return [{"name": "seed 000 node", "interval": "1m", "input_series": idle + memory, "alert_rule_test": [
        {"eval_time": "5m", "alertname": "NodeCPUHigh", "exp_alerts": []},
        {"eval_time": "6m", "alertname": "NodeCPUHigh",
         "exp_alerts": _exp_alerts(groups, "NodeCPUHigh", [({"severity": "warning", **node}, 0.8)])},
        {"eval_time": "4m", "alertname": "NodeMemoryHigh", "exp_alerts": []},
        {"eval_time": "5m", "alertname": "NodeMemoryHigh", "exp_alerts": _exp_alerts(
            groups, "NodeMemoryHigh", [({"severity": "warning", **node}, 0.95), ({"severity": "critical", **node}, 0.95)])},
    ]}]  # fmt: skip
