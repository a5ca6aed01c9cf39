"""The logging part's alert rules (pure): one PrometheusRule in ``logging``, Loki backend with the
MonitoringStack on. Every metric is registered in components/monitoring/metrics.py (producers
``loki`` and ``alloy``: the charts' ServiceMonitors).

- ``LokiRequestErrors``: the Loki mixin's alert (grafana/loki production/loki-mixin/alerts.libsonnet
  @ 65e30f84): more than 10% of a route's requests fail with 5xx for 15 minutes.
- ``LogShipperDroppingLogs``: Alloy's ``loki.write`` gave up on entries (retries exhausted or
  rejected by Loki: ``loki_write_dropped_entries_total``, internal/component/common/loki/client/
  metrics.go @ helm-chart/1.11.1): those log lines are lost.
"""

from __future__ import annotations

from typing import Any

from components.logging.plan import NAMESPACE

RULES_NAME = "logging"
RUNBOOK = "README 'Logs: when ECK, when Loki'"


def groups() -> list[dict[str, Any]]:
    return [{
        "name": "logging",
        "rules": [
            {
                "alert": "LokiRequestErrors",
                "expr": (
                    '100 * sum by (job, route) (rate(loki_request_duration_seconds_count{status_code=~"5.."}[2m]))'
                    " / sum by (job, route) (rate(loki_request_duration_seconds_count[2m])) > 10"
                ),
                "for": "15m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": "Loki {{ $labels.route }} fails {{ printf \"%.1f\" $value }}% of its requests",
                    "description": f"5xx answers on {{{{ $labels.job }}}} {{{{ $labels.route }}}} for 15 minutes; {RUNBOOK}.",
                },
            },
            {
                "alert": "LogShipperDroppingLogs",
                "expr": "sum by (pod) (increase(loki_write_dropped_entries_total[10m])) > 0",
                "for": "5m",
                "labels": {"severity": "warning"},
                "annotations": {
                    "summary": "{{ $labels.pod }} dropped {{ $value }} log lines in 10 minutes",
                    "description": "Alloy gave up sending these lines to Loki (Loki down or rejecting): they are lost.",
                },
            },
        ],
    }]


def prometheus_rule(monitor_labels: dict[str, str]) -> dict[str, Any]:
    """The PrometheusRule's metadata and spec (labelled for the MonitoringStack's ruleSelector)."""
    return {
        "metadata": {"name": RULES_NAME, "namespace": NAMESPACE,
                     "labels": {"app.kubernetes.io/part-of": "phasescale", **monitor_labels}},
        "spec": {"groups": groups()},
    }
