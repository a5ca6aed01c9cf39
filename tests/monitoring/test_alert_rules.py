"""Pure checks of the alert rules, their thresholds and the phase triggers (no promtool)."""

from __future__ import annotations

import re

import pytest

from components.monitoring.alert_rules import Severity, rule_groups, signal_rules
from components.monitoring.thresholds import (
    API_P95,
    CEILING_TRIGGERS,
    DAU,
    DB_DISK,
    DB_TPS,
    GPU_UTIL,
    NETWORK,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    REDIS_MEMORY,
    USERS,
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


def test_the_last_phase_records_its_move_down_and_ceiling_and_recommends_no_move_up() -> None:
    (group,) = [g for g in groups_for(4) if g["name"].endswith("-triggers")]
    signals = signal_rules(MetricSources())
    down, ceiling = PHASE_DOWN_TRIGGERS[4].conditions, CEILING_TRIGGERS[4].conditions
    assert group["name"] == "phasescale.phase4-triggers"
    used = sorted({API_P95, DAU, DB_TPS, GPU_UTIL, NETWORK, USERS, REDIS_MEMORY, DB_DISK})
    assert group["rules"] == [
        *({"record": s, "expr": signals[s]} for s in used),
        {"record": f"{GPU_UTIL}_max1d", "expr": f"max_over_time({GPU_UTIL}[1d])"},  # the ceiling's daily peak
        *({"record": f"phasescale:move_down:{c.name}", "expr": c.expr, "labels": {"trigger": c.name, "phase": "4"}}
          for c in down),
        *({"record": f"phasescale:ceiling:{c.name}", "expr": c.expr, "labels": {"trigger": c.name, "phase": "4"}}
          for c in ceiling),
    ]  # fmt: skip
    # 001's phase 4 -> 5 figures; no alert: there is no phase to recommend.
    assert [(c.name, c.signal, c.op, c.threshold, c.window_s // 86400) for c in ceiling] == [
        ("signups_over_500k", USERS, ">", 500_000, 7), ("dau_at_least_100000", DAU, ">=", 100_000, 5),
        ("gpu_util_peak_at_least_80pct", GPU_UTIL, ">=", 80, 7), ("redis_memory_at_least_80pct", REDIS_MEMORY, ">=", 0.8, 1),
        ("db_disk_at_least_80pct", DB_DISK, ">=", 0.8, 1),
    ]  # fmt: skip
    assert CEILING_TRIGGERS[4].required == len(ceiling) and sorted(CEILING_TRIGGERS) == [4]
    dau = down[0]
    assert dau.expr == (
        "(max_over_time(phasescale:daily_active_users:max[9d]) < bool 7100)"
        " and on () (phasescale:daily_active_users:max offset 9d)"
    )


@pytest.mark.parametrize("phase", [2, 3])
def test_the_move_down_shares_the_move_up_s_signals_and_adds_its_own_records(phase: int) -> None:
    (group,) = [g for g in groups_for(phase) if g["name"].endswith("-triggers")]
    records = [r["record"] for r in group["rules"] if "record" in r]
    assert len(records) == len(set(records))  # each signal once, though both directions read it
    ups, downs = PHASE_TRIGGERS[phase].conditions, PHASE_DOWN_TRIGGERS[phase].conditions
    assert [r for r in records if r.startswith("phasescale:trigger:")] == [c.record for c in ups]
    assert [r for r in records if r.startswith("phasescale:move_down:")] == [c.record for c in downs]
    (alert,) = [r for r in group["rules"] if "alert" in r]
    assert "move_down" not in alert["expr"]  # PhaseUpgradeRecommended counts the move up only


def test_retention_covers_the_longest_trigger() -> None:
    # 2 -> 3 weekly growth: 4 weeks of growth, each against the week before, plus a day of margin.
    assert retention_days_needed(2) == 28 + 7 + 1
    # 3 -> 2 DAU (5 days x 5/3 -> 9) outlasts phase 3's longest trigger (a 7-day daily peak: 8 days);
    # at the last phase the move-down GPU condition reads 7 days x 5/3 -> 12 days back.
    assert retention_days_needed(3) == 9 + 1
    assert retention_days_needed(4) == 12 + 1


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
