"""Alert levels: the defaults are today's figures, a stack's settings merge over them, every tunable
alert has a rule builder, and the configured rules read as the seeds' figures."""

from __future__ import annotations

import pytest

from components.monitoring.alertmanager import alertmanager_config
from components.monitoring.levels import (
    ROUTED_SEVERITIES,
    SCALING_ALERTS,
    TUNABLE,
    Level,
    LevelSetting,
    Severity,
    levels,
    parse_duration,
    percent,
)
from components.monitoring.metrics import Producer, unproduced
from components.monitoring.thresholds import AlertThresholds, duration
from tests.monitoring.level_cases import SEED_000, SEED_004, configured_groups
from tests.monitoring.rule_cases import alert_rules, groups_for

W, C = Severity.WARNING, Severity.CRITICAL


@pytest.mark.parametrize("phase", [1, 4])
def test_default_levels_are_the_rules_written_without_settings(phase: int) -> None:
    """Each default rule's severity, ``for`` and threshold (the number its expression ends with)
    are its alert's default levels, in order; the alerts off by default have no rule."""
    t = AlertThresholds.for_phase(phase)
    written: dict[str, list[tuple[str, str | None, str]]] = {}
    for r in alert_rules(groups_for(phase)):
        if r["alert"] in {"APIScaleUpNeeded", "HighErrorRate", "HighLatency"} and r["labels"]["service"] != "hot":
            continue
        threshold = r["expr"].rsplit(" > ", 1)[1] if TUNABLE[r["alert"]].unit.value != "none" else None
        written.setdefault(r["alert"], []).append((r["labels"]["severity"], threshold, r.get("for", "0s")))
    expected = {
        name: [(lv.severity.value, None if lv.threshold is None else f"{lv.threshold:g}", duration(lv.for_s))
               for lv in levels(name, t, {})]
        for name in TUNABLE
    }  # fmt: skip
    if phase == 4:  # the last phase recommends no upgrade
        expected.pop("PhaseUpgradeRecommended")
    assert written == {k: v for k, v in expected.items() if v}
    assert {k for k, v in expected.items() if not v} == {"HighLatencyP95", "NodeCPUHigh", "NodeMemoryHigh"}


def test_settings_replace_add_and_remove_levels() -> None:
    t = AlertThresholds()
    assert levels("ReplicationLagHigh", t, {"ReplicationLagHigh": {W: None}}) == (Level(C, 5.0, 120),)
    assert levels("HighErrorRate", t, {"HighErrorRate": {C: LevelSetting(for_s=60)}}) == (Level(C, 0.05, 60),)
    # a level the alert lacks takes the alert's default for; rules come warning first
    assert levels("HighErrorRate", t, {"HighErrorRate": {W: LevelSetting(0.01)}}) == (Level(W, 0.01, 300), Level(C, 0.05, 300))
    assert levels("NodeCPUHigh", t, {"NodeCPUHigh": {C: LevelSetting(0.85), W: LevelSetting(0.7, 600)}}) == (
        Level(W, 0.7, 600), Level(C, 0.85, 300))
    assert levels("HPAMaxedOut", t, {"HPAMaxedOut": {W: None, C: LevelSetting(for_s=600)}}) == (Level(C, None, 600),)
    assert levels("HighLatency", t, {"HighLatency": {W: None}}) == ()


def test_every_tunable_alert_has_rules_once_it_has_a_level() -> None:
    """``TUNABLE`` and the rule builders agree: no name without rules, no rule without a name."""
    on = {"HighLatencyP95": {W: LevelSetting(1.0)}, "NodeCPUHigh": {W: LevelSetting(0.8)},
          "NodeMemoryHigh": {W: LevelSetting(0.8)}}  # fmt: skip
    groups = configured_groups(on, phase=1)
    assert {r["alert"] for r in alert_rules(groups)} == set(TUNABLE)
    # what the alerts off by default read is produced once their scrapes are deployed
    assert unproduced(groups, {}, set(Producer)) == []
    assert "phasescale.nodes" not in {g["name"] for g in groups_for(1)}


def _rule(groups: list[dict], alert: str, severity: str) -> dict:
    (found,) = [r for r in alert_rules(groups) if r["alert"] == alert and r["labels"]["severity"] == severity]
    return found


def test_seed_004_figures_in_the_rules() -> None:
    groups = configured_groups(SEED_004)
    assert _rule(groups, "HighLatencyP95", "warning") == {
        "alert": "HighLatencyP95",
        "expr": 'histogram_quantile(0.95, namespace_service_le:http_request_duration_seconds_bucket:rate5m'
                '{namespace="shop",service="hot"}) > 2',
        "for": "2m",
        "labels": {"severity": "warning", "service": "hot"},
        "annotations": {"summary": "hot p95 latency is above 2 s",
                        "description": "{{ $labels.namespace }}/{{ $labels.service }} p95 latency is "
                                       "{{ $value | humanizeDuration }} over 5m."},
    }  # fmt: skip
    errors = _rule(groups, "HighErrorRate", "critical")
    assert (errors["expr"].endswith(" > 0.01"), errors["for"], errors["annotations"]["summary"]) == (
        True, "1m", "hot answers more than 1% of requests with 5xx")
    assert _rule(groups, "DatabaseConnectionsHigh", "warning")["for"] == "30s"
    assert _rule(groups, "HighLatency", "warning")["for"] == "5m"  # untouched: p99 > 0.5 s for 5 m


def test_seed_000_table_gives_warning_and_critical_rules() -> None:
    groups = configured_groups(SEED_000)
    summaries = [(r["alert"], r["labels"]["severity"], r["annotations"]["summary"]) for r in alert_rules(groups)
                 if r["alert"] in {"HighErrorRate", "NodeCPUHigh", "NodeMemoryHigh"}]  # fmt: skip
    assert summaries == [
        ("HighErrorRate", "warning", "hot answers more than 0.5% of requests with 5xx"),
        ("HighErrorRate", "critical", "hot answers more than 1% of requests with 5xx"),
        ("NodeCPUHigh", "warning", "Node CPU above 70%"),
        ("NodeCPUHigh", "critical", "Node CPU above 85%"),
        ("NodeMemoryHigh", "warning", "Node memory above 80%"),
        ("NodeMemoryHigh", "critical", "Node memory above 90%"),
    ]


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("2m", 120), ("1h30m", 5400), ("1d", 86400),
                                               ("1w", 604800), ("2m500ms", None), ("1500ms", None), ("0s", 0)])
def test_prometheus_durations(text: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(ValueError, match="whole seconds"):
            parse_duration(text)
    else:
        assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "-5m", "1.5m", "5M", "m", "30m1h", "\uff15m", "5 m"])
def test_not_prometheus_durations(text: str) -> None:
    with pytest.raises(ValueError, match="a Prometheus duration"):
        parse_duration(text)


def test_percent_keeps_todays_summaries() -> None:
    assert [percent(x) for x in (0.05, 0.8, 0.005, 0.001, 1.0)] == ["5%", "80%", "0.5%", "0.1%", "100%"]


def test_routed_severities_are_the_alertmanager_routes() -> None:
    """The severities a stack may give are those the Alertmanager config routes to a receiver."""
    routes = alertmanager_config("/f")["route"]["routes"]
    matched = [m.removeprefix('severity="').rstrip('"') for r in routes for m in r["matchers"] if m.startswith("severity=")]
    assert tuple(matched) == tuple(s.value for s in ROUTED_SEVERITIES)
    assert all(name in routes[1]["matchers"][0] for name in SCALING_ALERTS)


@pytest.mark.parametrize("text", ["8d", "300y"])
def test_a_for_longer_than_a_week_is_refused(text: str) -> None:
    # Breaks: `for: 300y` rendered as 109500d, which promtool refuses ("duration out of range").
    with pytest.raises(ValueError, match="at most 7d"):
        parse_duration(text)
