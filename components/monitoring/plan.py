"""Pure planning for MonitoringStack (no Pulumi imports): kube-prometheus-stack values, the
PrometheusRule, the Alertmanager config and the retention check (the Grafana dashboard JSON models
are in ``components.monitoring.dashboards``).

Naming contract: the Helm release is called ``RELEASE`` and ``fullnameOverride`` is ``RELEASE``, so
the Prometheus Service is ``monitoring-prometheus`` (``infra.parts.PROMETHEUS_URL``) and every
ServiceMonitor the chart itself creates carries ``release: monitoring`` (the chart and its
kube-state-metrics / node-exporter subcharts label theirs with the release name). The Prometheus
selectors are set explicitly to ``monitor_labels`` in every namespace, so the chart's monitors and
the project's (``infra.parts.MONITOR_LABELS``) are selected alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from components.monitoring import managed_metrics
from components.monitoring.alert_rules import rule_groups
from components.monitoring.alertmanager import NULL_RECEIVER, SlackChannels, alertmanager_config, secret_file
from components.monitoring.levels import AlertSettings
from components.monitoring.thresholds import (
    API_P95,
    CACHE_MISS,
    CEILING_TRIGGERS,
    CHURN,
    CONCURRENT,
    CONVERSION,
    DAU,
    DB_DISK,
    DB_TPS,
    GPU_UTIL,
    GROWTH,
    LLM_QUEUE_WAIT,
    NPS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    REDIS_MEMORY,
    REVENUE_COST,
    USERS,
    AlertThresholds,
    MetricSources,
    PhaseTriggers,
    PostgresMetrics,
    ServiceAlertSpec,
    retention_days_needed,
)
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
a phase change updates it in place (the trigger group is renamed inside; at the last phase it holds the move down only)."""
MANAGED_OFF = ("kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd")
"""Components of kube-prometheus-stack whose scrape (Service + ServiceMonitor) is switched off on managed
control planes: with them on, their ``*Down`` / TargetDown alerts fire from the first day. Keys as in the
pinned chart's values.yaml (/work/shared/validation/chart-values/kube-prometheus-stack-values.yaml:
``kubeControllerManager.enabled``, ``kubeScheduler.enabled``, ``kubeProxy.enabled``, ``kubeEtcd.enabled``)."""
MANAGED_OFF_RULES = ("etcd", "kubeControllerManager", "kubeProxy", "kubeSchedulerAlerting", "kubeSchedulerRecording")
"""The matching ``defaultRules.rules`` groups of the same values file (their alerts read only those jobs)."""
GPU_GROUP = "phasescale.gpu"
GPU_SIGNALS = frozenset({GPU_UTIL, LLM_QUEUE_WAIT})
"""Trigger signals read from dcgm-exporter and vLLM: dropped with the GPU alerts when there is no GPU pool."""
DATABASE_GROUP, DATABASE_SIGNALS = "phasescale.database", frozenset({DB_TPS, DB_DISK})
CACHE_GROUP, CACHE_SIGNALS = "phasescale.cache", frozenset({CACHE_MISS, REDIS_MEMORY})
"""Likewise for a stack without PostgreSQL or without Redis: no exporter could produce their series."""
API_GROUP = "phasescale.api"
SERVICE_SIGNALS = frozenset({API_P95, CONCURRENT, USERS, DAU, GROWTH, REVENUE_COST, CONVERSION, CHURN, NPS})
"""Series only the stack's Kubernetes services export (README "Services are expected to export"):
a stack without one (Cloud Run only, or no services yet) has no API rules and no product conditions."""
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
    managed_control_plane: bool = False
    """GKE / EKS: the cloud runs the control plane, so controller manager, scheduler and etcd cannot be
    scraped, and kube-proxy binds its metrics to 127.0.0.1 on the node (``MANAGED_OFF``)."""
    gpu: bool = True
    """The GPU pool (dcgm-exporter, vLLM) is deployed. False: no GPU alerts, and the GPU / LLM-queue
    conditions leave the phase's move-up and move-down conditions (nothing could ever produce their series)."""
    postgres: bool = True
    """The postgres part is on (False: no database alerts or conditions, as for ``gpu``)."""
    redis: bool = True
    """The redis part is on (False: no cache alerts or conditions)."""
    app_metrics: bool = True
    """Some Kubernetes service of the stack is scraped (False: no API rules and no product conditions)."""

    @property
    def absent(self) -> tuple[frozenset[str], frozenset[str]]:
        """Rule groups and trigger signals of the parts this stack does not deploy."""
        off = [(g, s) for on, g, s in ((self.gpu, GPU_GROUP, GPU_SIGNALS), (self.postgres, DATABASE_GROUP, DATABASE_SIGNALS),
                                        (self.redis, CACHE_GROUP, CACHE_SIGNALS),
                                        (self.app_metrics, API_GROUP, SERVICE_SIGNALS)) if not on]  # fmt: skip
        return frozenset(g for g, _ in off), frozenset(x for _, sig in off for x in sig)
    managed: managed_metrics.ManagedSources = field(default_factory=managed_metrics.ManagedSources)
    """What the region's stackdriver_exporter reads (Memorystore Cluster, Cloud Run): their rules."""
    alerts: AlertSettings = field(default_factory=dict)
    """``phasescale:alerts``: thresholds, ``for`` and severities over the defaults (``components.monitoring.levels``)."""

    @property
    def thresholds(self) -> AlertThresholds:
        return AlertThresholds.for_phase(self.phase)

    @property
    def sources(self) -> MetricSources:
        return MetricSources(postgres=self.postgres_metrics)


def validate(plan: MonitoringPlan, sizes_path: str) -> list[Problem]:
    """Retention must hold the history the phase's move-up triggers and move-down conditions read back."""
    need = retention_days_needed(plan.phase)
    if plan.retention_days < need:
        return [
            Problem(f"{sizes_path}.retentionDays", plan.retention_days,
                    f"at least {need} days at phase {plan.phase}: the phase's move-up and move-down conditions read "
                    f"{need} days of history (components.monitoring.thresholds.retention_days_needed)")
        ]  # fmt: skip
    return []


def _without(triggers: PhaseTriggers | None, signals: frozenset[str]) -> PhaseTriggers | None:
    if triggers is None or not signals:
        return triggers
    kept = tuple(c for c in triggers.conditions if c.signal not in signals)
    return replace(triggers, conditions=kept, required=min(triggers.required, len(kept)))


def groups(plan: MonitoringPlan) -> list[dict[str, Any]]:
    """The rule groups of the stack (``components.monitoring.alert_rules.rule_groups``)."""
    services = {name: ServiceAlertSpec(namespace=plan.app_namespace) for name in plan.services}
    up, down = PHASE_TRIGGERS.get(plan.phase), PHASE_DOWN_TRIGGERS.get(plan.phase)
    ceiling = CEILING_TRIGGERS.get(plan.phase)
    groups_off, signals_off = plan.absent
    out = rule_groups(
        plan.thresholds, plan.phase, services, sources=plan.sources, runbook_base_url=plan.runbook_base_url,
        triggers=_without(up, signals_off), down_triggers=_without(down, signals_off),
        ceiling_triggers=_without(ceiling, signals_off), alerts=plan.alerts,
    )  # fmt: skip
    out = managed_metrics.adapt(out, plan.thresholds, plan.managed, plan.runbook_base_url)
    return [g for g in out if g["name"] not in groups_off]


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


def _control_plane(plan: MonitoringPlan) -> dict[str, Any]:
    """Off on GKE / EKS: the scrapes of ``MANAGED_OFF`` and the rule groups ``MANAGED_OFF_RULES``."""
    if not plan.managed_control_plane:
        return {}
    return {
        **{key: {"enabled": False} for key in MANAGED_OFF},
        "defaultRules": {"rules": {key: False for key in MANAGED_OFF_RULES}},
    }


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
        **_control_plane(plan),
        "nodeExporter": {"enabled": True},
        "kubeStateMetrics": {"enabled": True},
        # kube-state-metrics' default collectors include horizontalpodautoscalers
        # (kube_horizontalpodautoscaler_*): the HPA alerts and the replicas panels read them.
        "kube-state-metrics": {"releaseLabel": True},
        "prometheus-node-exporter": {"releaseLabel": True},
    }
