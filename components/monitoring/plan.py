"""Pure planning for MonitoringStack (no Pulumi imports): kube-prometheus-stack values, the
PrometheusRule, the Alertmanager config, the retention check and the Grafana dashboard JSON models.

Naming contract: the Helm release is called ``RELEASE`` and ``fullnameOverride`` is ``RELEASE``, so
the Prometheus Service is ``monitoring-prometheus`` (``infra.parts.PROMETHEUS_URL``) and every
ServiceMonitor the chart itself creates carries ``release: monitoring`` (the chart and its
kube-state-metrics / node-exporter subcharts label theirs with the release name). The Prometheus
selectors are set explicitly to ``monitor_labels`` in every namespace, so the chart's monitors and
the project's (``infra.parts.MONITOR_LABELS``) are selected alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from components.monitoring.alert_rules import (
    PHASE_TRIGGERS,
    AlertThresholds,
    MetricSources,
    PostgresMetrics,
    ServiceAlertSpec,
    retention_days_needed,
    rule_groups,
)
from components.monitoring.alertmanager import NULL_RECEIVER, SlackChannels, alertmanager_config, secret_file
from components.problems import Problem

RELEASE = "monitoring"
"""Helm release name and ``fullnameOverride``: Services are ``monitoring-prometheus``, ``monitoring-grafana``..."""
SCRAPE_INTERVAL = "15s"
SLACK_SECRET = "alertmanager-slack"
SLACK_KEY = "webhook-url"
DASHBOARD_LABEL = {"grafana_dashboard": "1"}
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
"""The chart's provisioned Prometheus datasource (``grafana.sidecar.datasources.uid``)."""
RETENTION_SIZE_RATIO = 0.85
"""``retentionSize`` as a share of the volume: old blocks go before the disk fills."""
RULES_NAME = "phasescale"
"""The one PrometheusRule of the stack. One object for every group keeps its name free of the phase:
a phase change updates it in place (the trigger group is renamed inside, and absent at the last phase)."""
SELECTORS = ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig")


@dataclass(frozen=True)
class MonitoringPlan:
    """Everything the MonitoringStack of one region needs, resolved from config and catalog."""

    phase: int
    app_namespace: str
    """Namespace of the stack's API services (their alerts and dashboard panels)."""
    services: tuple[str, ...] = ()
    """API services on Kubernetes (each gets APIScaleUpNeeded / HighErrorRate / HighLatency)."""
    namespace: str = "monitoring"
    monitor_labels: Mapping[str, str] = field(default_factory=lambda: {"release": RELEASE})
    retention_days: int = 30
    storage_gib: int = 30
    storage_class: str | None = None
    prometheus_replicas: int = 1
    alertmanager_replicas: int = 1
    prometheus_cpu_m: int = 500
    prometheus_memory_gib: int = 2
    postgres_metrics: PostgresMetrics = PostgresMetrics.CNPG
    slack: bool = True
    """A Slack webhook Secret exists (``SLACK_SECRET``); without one every alert goes to ``null``."""
    channels: SlackChannels = field(default_factory=SlackChannels)
    grafana_host: str | None = None
    grafana_tls_secret: str = "grafana-tls"
    grafana_admin_secret: str | None = None
    ingress_class: str = "haproxy"
    runbook_base_url: str | None = None

    @property
    def thresholds(self) -> AlertThresholds:
        return AlertThresholds.for_phase(self.phase)

    @property
    def sources(self) -> MetricSources:
        return MetricSources(postgres=self.postgres_metrics)


def validate(plan: MonitoringPlan, sizes_path: str) -> list[Problem]:
    """Retention must hold the history the phase's upgrade triggers read back."""
    need = retention_days_needed(plan.phase)
    if plan.retention_days < need:
        return [
            Problem(f"{sizes_path}.retentionDays", plan.retention_days,
                    f"at least {need} days at phase {plan.phase}: the phase's upgrade triggers read "
                    f"{need} days of history (components.monitoring.alert_rules.retention_days_needed)")
        ]  # fmt: skip
    return []


def groups(plan: MonitoringPlan) -> list[dict[str, Any]]:
    """The rule groups of the stack (``components.monitoring.alert_rules.rule_groups``)."""
    services = {name: ServiceAlertSpec(namespace=plan.app_namespace) for name in plan.services}
    return rule_groups(
        plan.thresholds, plan.phase, services, sources=plan.sources, runbook_base_url=plan.runbook_base_url
    )


def prometheus_rule(plan: MonitoringPlan) -> dict[str, Any]:
    """The stack's ``monitoring.coreos.com/v1`` PrometheusRule, labelled for the ruleSelector."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": RULES_NAME,
            "namespace": plan.namespace,
            "labels": {"app.kubernetes.io/part-of": "phasescale", **plan.monitor_labels},
        },
        "spec": {"groups": groups(plan)},
    }


def alertmanager(plan: MonitoringPlan) -> dict[str, Any]:
    """The complete ``alertmanager.yaml``. ``templates: []`` replaces the chart's default glob, so the
    config the chart renders is exactly this one (Helm merges maps into the chart's defaults)."""
    if plan.slack:
        config = alertmanager_config(secret_file(SLACK_SECRET, SLACK_KEY), plan.channels)
    else:
        config = {
            "global": {"resolve_timeout": "5m"},
            "route": {"receiver": NULL_RECEIVER, "group_by": ["alertname", "namespace"]},
            "inhibit_rules": [],
            "receivers": [{"name": NULL_RECEIVER}],
        }
    return {**config, "templates": []}


def _selectors(labels: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in SELECTORS:
        out[f"{kind}SelectorNilUsesHelmValues"] = False
        out[f"{kind}Selector"] = {"matchLabels": dict(labels)}
        out[f"{kind}NamespaceSelector"] = {}
    return out


def _volume(size_gib: int, storage_class: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{size_gib}Gi"}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def _grafana(plan: MonitoringPlan) -> dict[str, Any]:
    values: dict[str, Any] = {
        "enabled": True,
        "sidecar": {
            "dashboards": {
                "enabled": True,
                "label": next(iter(DASHBOARD_LABEL)),
                "labelValue": DASHBOARD_LABEL["grafana_dashboard"],
                "searchNamespace": "ALL",
            },
            "datasources": {
                "enabled": True,
                "uid": DATASOURCE["uid"],
                "defaultDatasourceScrapeInterval": SCRAPE_INTERVAL,
            },
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "512Mi"},
        },
    }
    if plan.grafana_admin_secret:
        values["admin"] = {
            "existingSecret": plan.grafana_admin_secret,
            "userKey": "admin-user",
            "passwordKey": "admin-password",
        }
    if plan.grafana_host:
        values["ingress"] = {
            "enabled": True,
            "ingressClassName": plan.ingress_class,
            "hosts": [plan.grafana_host],
            "path": "/",
            "tls": [{"secretName": plan.grafana_tls_secret, "hosts": [plan.grafana_host]}],
        }
    return values


def helm_values(plan: MonitoringPlan) -> dict[str, Any]:
    """kube-prometheus-stack values (chart version: ``components.versions.CHARTS``)."""
    mem = f"{plan.prometheus_memory_gib}Gi"
    retention_size_gb = int(plan.storage_gib * RETENTION_SIZE_RATIO)
    am_secrets = [SLACK_SECRET] if plan.slack else []
    return {
        "fullnameOverride": RELEASE,
        "crds": {"enabled": True},
        "prometheus": {
            "prometheusSpec": {
                "replicas": plan.prometheus_replicas,
                "scrapeInterval": SCRAPE_INTERVAL,
                "evaluationInterval": SCRAPE_INTERVAL,
                "retention": f"{plan.retention_days}d",
                "retentionSize": f"{retention_size_gb}GB",
                "walCompression": True,
                "resources": {
                    "requests": {"cpu": f"{plan.prometheus_cpu_m}m", "memory": mem},
                    "limits": {"cpu": f"{2 * plan.prometheus_cpu_m}m", "memory": mem},
                },
                "storageSpec": _volume(plan.storage_gib, plan.storage_class),
                **_selectors(plan.monitor_labels),
            }
        },
        "alertmanager": {
            "config": alertmanager(plan),
            "alertmanagerSpec": {
                "replicas": plan.alertmanager_replicas,
                "secrets": am_secrets,
                "storage": _volume(2, plan.storage_class),
                "resources": {
                    "requests": {"cpu": "50m", "memory": "128Mi"},
                    "limits": {"cpu": "200m", "memory": "256Mi"},
                },
            },
        },
        "grafana": _grafana(plan),
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        # kube-state-metrics' default collectors include horizontalpodautoscalers
        # (kube_horizontalpodautoscaler_*): the HPA alerts and the replicas panels read them.
        "kube-state-metrics": {"releaseLabel": True},
        "prometheus-node-exporter": {"releaseLabel": True},
    }


# --- Dashboards (Grafana JSON models, provisioned by the sidecar from labelled ConfigMaps) --------

DASHBOARD_SCHEMA_VERSION = 39
GPU_SCALE_UP_PERCENT = 85.0
"""001's GPU autoscaler: scale up above 85 % utilisation..."""
GPU_SCALE_DOWN_PERCENT = 30.0
"""... and down below 30 %."""
USER_PHASE_LINES = (1_000, 10_000, 100_000, 500_000)
"""001's signup triggers for leaving phases 1-4: the forecast panel's phase lines."""
SCALE_ALERTS = ("GPUScaleUpNeeded", "APIScaleUpNeeded", "DBScaleUpNeeded", "CacheScaleUpNeeded",
                "LLMQueueBacklog", "HPAMaxedOut", "HPAScaled", "PhaseUpgradeRecommended")  # fmt: skip
TRIGGERS = '{__name__=~"phasescale:trigger:.+"}'


def _target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": dict(DATASOURCE), "expr": expr, "legendFormat": legend, "range": True}


def _thresholds(*lines: tuple[float, str], base: str = "green") -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": base, "value": None}]
    steps += [{"color": color, "value": value} for value, color in lines]
    return {"mode": "absolute", "steps": steps}


def _panel(
    title: str, targets: list[dict[str, Any]], *, unit: str = "short", kind: str = "timeseries",
    lines: tuple[tuple[float, str], ...] = (), base: str = "green", description: str = "",
    extra: Mapping[str, Any] | None = None, custom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    defaults: dict[str, Any] = {"unit": unit, "thresholds": _thresholds(*lines, base=base)}
    if kind == "timeseries":
        defaults["custom"] = {"thresholdsStyle": {"mode": "line" if lines else "off"}, **(custom or {})}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": dict(DATASOURCE),
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]}}
        if kind == "timeseries" else {},
        **(extra or {}),
    }  # fmt: skip


def _layout(panels: list[dict[str, Any]], per_row: int = 2, height: int = 8) -> list[dict[str, Any]]:
    width = 24 // per_row
    return [
        {
            "id": i + 1,
            "gridPos": {"h": height, "w": width, "x": (i % per_row) * width, "y": (i // per_row) * height},
            **p,
        }
        for i, p in enumerate(panels)
    ]


def _db_connections(plan: MonitoringPlan) -> str:
    if plan.postgres_metrics is PostgresMetrics.CNPG:
        return (
            "sum by (namespace, pod) (cnpg_backends_total) / on (namespace, pod) "
            'max by (namespace, pod) (cnpg_pg_settings_setting{name="max_connections"})'
        )
    return (
        "sum by (namespace, service, pod) (pg_stat_activity_count) / on (namespace, service, pod) "
        "max by (namespace, service, pod) (pg_settings_max_connections)"
    )


def scaling_dashboard(plan: MonitoringPlan) -> dict[str, Any]:
    """001's "scaling decision" dashboard and 000's instance / CPU / memory / scaling-event panels."""
    t = plan.thresholds
    ns = f'namespace="{plan.app_namespace}"'
    hpa = "max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_{m}{{" + ns + "}})"
    w = "5m"
    triggers = PHASE_TRIGGERS.get(plan.phase)
    trigger_title = (
        f"Phase {plan.phase} -> {plan.phase + 1} triggers holding (upgrade at {triggers.required} of "
        f"{len(triggers.conditions)})"
        if triggers
        else f"Phase {plan.phase} is the last phase: no upgrade triggers"
    )
    required = float(triggers.required) if triggers else 1.0
    panels = [
        _panel("GPU utilisation", [
            _target("avg(DCGM_FI_DEV_GPU_UTIL)", "mean"),
            _target("DCGM_FI_DEV_GPU_UTIL", "{{Hostname}} gpu {{gpu}}", "B"),
        ], unit="percent", lines=((GPU_SCALE_DOWN_PERCENT, "blue"), (GPU_SCALE_UP_PERCENT, "red")), base="green",
            description=f"Scale up above {GPU_SCALE_UP_PERCENT:g}% (3 checks), down below {GPU_SCALE_DOWN_PERCENT:g}% (5 checks).",
            custom={"min": 0, "max": 100}),
        _panel("Replicas against max per service", [
            _target(hpa.format(m="status_current_replicas"), "{{horizontalpodautoscaler}} replicas"),
            _target(hpa.format(m="spec_max_replicas"), "{{horizontalpodautoscaler}} max", "B"),
        ], description="kube-state-metrics HPA series; HPAMaxedOut fires when replicas sit at max."),
        _panel("Scale events (desired replica changes)", [
            _target(f"sum by (horizontalpodautoscaler) (changes(kube_horizontalpodautoscaler_status_desired_replicas{{{ns}}}[{w}]))",
                    "{{horizontalpodautoscaler}}"),
        ], custom={"drawStyle": "bars"}),
        _panel("Scaling alerts timeline", [
            _target(f'max by (alertname) (ALERTS{{alertstate="firing", alertname=~"{"|".join(SCALE_ALERTS)}"}})',
                    "{{alertname}}"),
        ], kind="state-timeline"),
        _panel("p95 latency per service", [
            _target(f"histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{{{ns}}}[{w}])))",
                    "{{service}}"),
        ], unit="s", lines=((0.2, "yellow"), (0.3, "orange"), (0.5, "red")),
            description="Phase goals: p95 < 500 ms (1), < 300 ms (2), < 200 ms (3)."),
        _panel("Error rate (5xx) per service", [
            _target(f'sum by (service) (rate(http_requests_total{{{ns}, status=~"5.."}}[{w}])) / '
                    f"sum by (service) (rate(http_requests_total{{{ns}}}[{w}]))", "{{service}}"),
        ], unit="percentunit", lines=((0.01, "orange"), (t.error_ratio, "red"))),
        _panel("DB connections / max_connections", [_target(_db_connections(plan), "{{namespace}}/{{pod}}")],
               unit="percentunit", lines=((t.db_connections_ratio, "red"),)),
        _panel("Redis memory / maxmemory", [
            _target("max by (namespace, pod) (redis_memory_used_bytes / (redis_memory_max_bytes > 0))",
                    "{{namespace}}/{{pod}}"),
        ], unit="percentunit", lines=((t.cache_memory_ratio, "red"),)),
        _panel("CPU per service (cores)", [
            _target(f'sum by (container) (rate(container_cpu_usage_seconds_total{{{ns}, container!="", container!="POD"}}[{w}]))',
                    "{{container}}"),
        ]),
        _panel("Memory per service", [
            _target(f'sum by (container) (container_memory_working_set_bytes{{{ns}, container!="", container!="POD"}})',
                    "{{container}}"),
        ], unit="bytes"),
        _panel(trigger_title, [_target(f"max by (trigger) ({TRIGGERS})", "{{trigger}}")], kind="stat",
               lines=((1, "green"),), base="text",
               extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background",
                                  "textMode": "name", "graphMode": "none"},
                      "description": "phasescale:trigger:* recording rules: green = holds, grey = not (yet)."}),
        _panel("Triggers holding", [_target(f"count({TRIGGERS} == 1) or vector(0)", "holding")], kind="stat",
               lines=((required, "red"),), base="green",
               extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background",
                                  "graphMode": "area"},
                      "description": "PhaseUpgradeRecommended fires at the threshold (red)."}),
        _panel("Registered users: 30-day forecast with phase lines", [
            _target("max(phasescale_users_registered)", "users"),
            _target("predict_linear(max(phasescale_users_registered)[7d:1h], 30 * 86400)", "forecast (+30 d)", "B"),
        ], lines=tuple((float(n), "red") for n in USER_PHASE_LINES),
            description="Signups leaving phase 1 / 2 / 3 / 4 (001)."),
    ]  # fmt: skip
    return {
        "uid": "phasescale-scaling",
        "title": "phasescale / scaling decisions",
        "tags": ["phasescale", "scaling"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": DASHBOARD_SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": []},
        "annotations": {
            "list": [
                {
                    "name": "Scale events",
                    "enable": True,
                    "datasource": dict(DATASOURCE),
                    "expr": 'ALERTS{alertname="HPAScaled", alertstate="firing"}',
                    "iconColor": "orange",
                    "step": "1m",
                    "titleFormat": "{{service}} scaled",
                    "textFormat": "{{namespace}}/{{service}}",
                }
            ]
        },
        "panels": _layout(panels),
    }


def dashboards(plan: MonitoringPlan) -> dict[str, dict[str, Any]]:
    """Dashboard JSON models by ConfigMap key (``<uid>.json``)."""
    board = scaling_dashboard(plan)
    return {f"{board['uid']}.json": board}
