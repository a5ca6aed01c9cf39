"""``phasescale:alerts``: each validation rule proven by a stack that breaks it, all reported at once
(path, value, what is valid), and the settings a valid one hands to the monitoring plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.monitoring.levels import LevelSetting, Severity
from infra import config_alerts
from infra.__main__ import main
from infra.parts import monitoring
from infra.settings import resolve
from tests.infra.test_config import problems, raw

RATIO = "a ratio above 0 and at most 1 (0.05 is 5%)"
DURATION = "a Prometheus duration such as 30s, 2m, 1h or 1h30m (units y w d h m s ms, largest first)"
P = "phasescale:alerts."


def test_every_broken_rule_is_reported_together() -> None:
    found = problems(raw(alerts={
        "HighErrorRat": {"critical": {"threshold": 0.01}},                    # unknown alert
        "HighErrorRate": {"critical": {"threshold": 1.5, "for": "-5m"}},      # ratio > 1, negative duration
        "DatabaseConnectionsHigh": {"warning": {"for": "30"}},                # no unit
        "CacheScaleUpNeeded": {"warning": {"for": 30}},                       # a number, no unit
        "ReplicationLagHigh": {"warning": {"threshold": 6}},                  # warning above critical (5 s)
        "HighLatency": {"page": {"threshold": 1}, "info": {"for": "5m"}},     # unknown / unrouted severity
        "HighLatencyP95": {"warning": {"for": "2m"}},                         # a new level needs a threshold
        "HPAMaxedOut": {"warning": {"threshold": 3}},                         # a condition, no threshold
        "GPUScaleUpNeeded": {"warning": {"threshold": 0}, "critical": {"threshold": True, "for": "1.5m"}},
        "NodeCPUHigh": {"warning": {"threshold": 0.9}, "critical": {"threshold": 0.9}},  # equal levels
    }))  # fmt: skip
    assert found == [
        f"{P}CacheScaleUpNeeded.warning.for: got 30; {DURATION}",
        f"{P}DatabaseConnectionsHigh.warning.for: got '30'; {DURATION}",
        f"{P}GPUScaleUpNeeded.critical.for: got '1.5m'; {DURATION}",
        f"{P}GPUScaleUpNeeded.critical.threshold: got true; a number, not the boolean true",
        f"{P}GPUScaleUpNeeded.warning.threshold: got 0.0; a percentage above 0 and at most 100",
        f"{P}HPAMaxedOut.warning.threshold: got 3.0; no threshold: this alert fires on a condition; set only its "
        "for and severity",
        f"{P}HighErrorRat: got 'HighErrorRat'; an alert of phasescale: APIScaleUpNeeded, CacheScaleUpNeeded, "
        "DBScaleUpNeeded, DatabaseConnectionsHigh, GPUScaleUpNeeded, HPAMaxedOut, HPAScaled, HighErrorRate, "
        "HighLatency, HighLatencyP95, LLMQueueBacklog, NodeCPUHigh, NodeMemoryHigh, PhaseUpgradeRecommended, "
        "ReplicationLagHigh (README, Alert thresholds)",
        f"{P}HighErrorRate.critical.for: got '-5m'; {DURATION}",
        f"{P}HighErrorRate.critical.threshold: got 1.5; {RATIO}",
        f"{P}HighLatency.info: got 'info'; one of critical, warning: info reaches no receiver (only the scaling "
        "alerts HPAScaled, HPAMaxedOut, PhaseUpgradeRecommended route by name)",
        f"{P}HighLatency.page: got 'page'; a severity the Alertmanager routes: critical, warning (info: the "
        "scaling alerts only)",
        f"{P}HighLatencyP95.warning.threshold: got 'not set'; required: HighLatencyP95 has no warning level by "
        "default",
        f"{P}NodeCPUHigh.warning.threshold: got 0.9; warning below critical (NodeCPUHigh fires as it grows: "
        "warning 0.9, critical 0.9)",
        f"{P}ReplicationLagHigh.warning.threshold: got 6.0; warning below critical (ReplicationLagHigh fires as it "
        "grows: warning 6, critical 5)",
    ]


def test_level_order_is_checked_against_the_phase_defaults() -> None:
    """APIScaleUpNeeded warns at 100/s in phase 1 and 1,000/s in phase 4: a critical level at 500/s is
    above the warning in phase 1 and below it in phase 4."""
    alerts = {"APIScaleUpNeeded": {"critical": {"threshold": 500}}}
    assert resolve(raw(alerts=alerts, phase="1")).stack.alerts
    assert problems(raw(alerts=alerts, phase="4")) == [
        f"{P}APIScaleUpNeeded.critical.threshold: got 500.0; warning below critical (APIScaleUpNeeded fires as it "
        "grows: warning 1000, critical 500)"
    ]


def test_a_valid_setting_reaches_the_monitoring_plan_in_seconds() -> None:
    settings = resolve(raw(alerts={
        "HighLatencyP95": {"warning": {"threshold": 2, "for": "2m"}},
        "HighErrorRate": {"critical": {"threshold": "0.01", "for": "1m"}},  # as pulumi config set --path writes it
        "DatabaseConnectionsHigh": {"warning": {"for": "30s"}},
        "ReplicationLagHigh": {"warning": None},
    }))  # fmt: skip
    assert monitoring.plan(settings).alerts == {
        "HighLatencyP95": {Severity.WARNING: LevelSetting(2.0, 120)},
        "HighErrorRate": {Severity.CRITICAL: LevelSetting(0.01, 60)},
        "DatabaseConnectionsHigh": {Severity.WARNING: LevelSetting(None, 30)},
        "ReplicationLagHigh": {Severity.WARNING: None},
    }


def test_the_cli_exits_2_before_planning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = Path(__file__).resolve().parents[2] / "Pulumi.dev.yaml"
    alerts = json.dumps({"HighErrorRate": {"critical": {"threshold": 5}}})
    (tmp_path / "Pulumi.t.yaml").write_text(stack.read_text() + f"  phasescale:alerts: {alerts}\n")
    assert main(["plan", "--stack", "t", "--dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.splitlines()[1:] == [f"  - {P}HighErrorRate.critical.threshold: got 5.0; {RATIO}"]


def test_readme_carries_the_defaults_table() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    begin, end = readme.index(config_alerts.TABLE_BEGIN), readme.index(config_alerts.TABLE_END)
    assert readme[begin : end + len(config_alerts.TABLE_END)] == config_alerts.defaults_table()
