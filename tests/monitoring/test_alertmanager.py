"""The Alertmanager config, proven with amtool."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.monitoring.alert_rules import SCALING_ALERTS
from components.monitoring.alertmanager import SlackChannels, alertmanager_config, secret_file
from tests.promtool import run, tool, write_yaml

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
