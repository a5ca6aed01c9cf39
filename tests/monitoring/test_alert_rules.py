"""Pure checks of the alert rules, their thresholds and the phase triggers (no promtool)."""

from __future__ import annotations

import re

import pytest

from components.monitoring.alert_rules import Severity, rule_groups, signal_rules
from components.monitoring.thresholds import (
    PHASE_TRIGGERS,
    AlertThresholds,
    Hold,
    MetricSources,
    ServiceAlertSpec,
    duration,
    retention_days_needed,
)
from tests.monitoring.rule_cases import ALERT_NAMES, GROUPING_LABELS, alert_rules, groups_for

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
