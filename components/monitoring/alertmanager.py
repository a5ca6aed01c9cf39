"""The Alertmanager configuration for phasescale, as a plain dict (pure: no Pulumi imports).

Three Slack channels: critical (short repeat), warning, and scaling events (every HPA scale up/down,
a service at its max replicas, a phase upgrade recommendation; 000 and 001). The webhook URL never
enters the config: each Slack receiver reads it from a file, a Kubernetes Secret that
kube-prometheus-stack mounts with ``alertmanager.alertmanagerSpec.secrets: [<secret-name>]`` at
``/etc/alertmanager/secrets/<secret-name>/<key>`` (see ``secret_file``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.monitoring.alert_rules import SCALING_ALERTS
from components.monitoring.thresholds import duration

SECRETS_MOUNT = "/etc/alertmanager/secrets"
NULL_RECEIVER = "null"
GROUP_BY = ("alertname", "namespace", "service")


def secret_file(secret_name: str, key: str, mount: str = SECRETS_MOUNT) -> str:
    """Where the operator mounts ``key`` of the Secret listed in ``alertmanagerSpec.secrets``."""
    return f"{mount.rstrip('/')}/{secret_name}/{key}"


@dataclass(frozen=True)
class SlackChannels:
    """Slack channel per receiver; the receiver names are ``slack-<field>``."""

    critical: str = "#alerts-critical"
    warning: str = "#alerts-warning"
    scaling: str = "#scaling-events"


@dataclass(frozen=True)
class RouteTiming:
    """Notification timing, in seconds."""

    group_wait_s: int = 30
    group_interval_s: int = 300
    repeat_s: int = 12 * 3600
    """Default and warning repeat interval."""
    critical_group_wait_s: int = 10
    critical_repeat_s: int = 3600
    """A firing critical alert is repeated every hour until resolved."""
    scaling_group_wait_s: int = 10
    scaling_repeat_s: int = 24 * 3600
    """Scaling events are notifications, not pages: one reminder a day for a lasting HPAMaxedOut."""


def receiver_name(channel_field: str) -> str:
    return f"slack-{channel_field}"


_TITLE = (
    '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
    "{{ .CommonLabels.alertname }}{{ with .CommonLabels.namespace }} {{ . }}{{ end }}"
    "{{ with .CommonLabels.service }}/{{ . }}{{ end }}"
)
_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}* ({{ .Labels.severity }})\n"
    "{{ .Annotations.description }}"
    "{{ with .Annotations.runbook_url }}\nRunbook: {{ . }}{{ end }}\n{{ end }}"
)


def _slack(name: str, channel: str, api_url_file: str, send_resolved: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "slack_configs": [
            {
                "api_url_file": api_url_file,
                "channel": channel,
                "send_resolved": send_resolved,
                "title": _TITLE,
                "text": _TEXT,
            }
        ],
    }


def _any_of(label: str, values: Sequence[str]) -> str:
    return f'{label}=~"{"|".join(values)}"'


def alertmanager_config(
    slack_api_url_file: str,
    channels: SlackChannels | None = None,
    *,
    timing: RouteTiming | None = None,
    scaling_alerts: Sequence[str] = SCALING_ALERTS,
) -> dict[str, Any]:
    """A complete ``alertmanager.yaml`` as a dict.

    ``slack_api_url_file``: path of the mounted webhook URL (``secret_file(name, key)``).
    Routes, first match wins: ``Watchdog``/``InfoInhibitor`` -> ``null``; ``scaling_alerts`` ->
    ``slack-scaling``; ``severity="critical"`` -> ``slack-critical``; ``severity="warning"`` ->
    ``slack-warning``; anything else -> ``null``. A critical alert inhibits the warning alert of the
    same alertname, namespace and service.
    """
    ch = channels or SlackChannels()
    tm = timing or RouteTiming()
    critical, warning, scaling = (receiver_name(f) for f in ("critical", "warning", "scaling"))
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(GROUP_BY),
            "group_wait": duration(tm.group_wait_s),
            "group_interval": duration(tm.group_interval_s),
            "repeat_interval": duration(tm.repeat_s),
            "routes": [
                # kube-prometheus-stack's always-firing heartbeat and its info-inhibitor helper.
                {
                    "receiver": NULL_RECEIVER,
                    "matchers": [_any_of("alertname", ("Watchdog", "InfoInhibitor"))],
                },
                {
                    "receiver": scaling,
                    "matchers": [_any_of("alertname", scaling_alerts)],
                    "group_wait": duration(tm.scaling_group_wait_s),
                    "repeat_interval": duration(tm.scaling_repeat_s),
                },
                {
                    "receiver": critical,
                    "matchers": ['severity="critical"'],
                    "group_wait": duration(tm.critical_group_wait_s),
                    "repeat_interval": duration(tm.critical_repeat_s),
                },
                {"receiver": warning, "matchers": ['severity="warning"']},
            ],
        },
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity="warning"'],
                "equal": list(GROUP_BY),
            },
            {
                # kube-prometheus-stack: info alerts are muted while a namespace has worse problems,
                # except scaling events, which must always notify (000).
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": [
                    'severity="info"',
                    _any_of("alertname", scaling_alerts).replace("=~", "!~"),
                ],
                "equal": ["namespace"],
            },
        ],
        "receivers": [
            {"name": NULL_RECEIVER},
            _slack(critical, ch.critical, slack_api_url_file),
            _slack(warning, ch.warning, slack_api_url_file),
            # HPAScaled resolves by itself 5 m after each change: "resolved" would double the volume.
            _slack(scaling, ch.scaling, slack_api_url_file, send_resolved=False),
        ],
    }
