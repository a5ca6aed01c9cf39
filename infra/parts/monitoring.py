"""The monitoring part: a MonitoringStack (kube-prometheus-stack, rules, dashboards) per region.

Sizes (retention, storage, replicas, Prometheus resources) come from the catalog's ``monitoring``
row; channels and Grafana from ``phasescale:monitoring``; the Slack webhook from
``pulumi config set --secret phasescale:slackWebhookUrl`` (required in production). Built first in
each region: its release installs the prometheus-operator CRDs the later parts' monitors need.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components.cluster.addons import INGRESS_CLASS
from components.monitoring import plan as mp
from components.monitoring.alertmanager import SlackChannels
from components.monitoring.stack import MonitoringStack, MonitoringStackArgs
from components.monitoring.thresholds import PostgresMetrics
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from infra import config_alerts
from infra.config import Environment, PostgresEngine, Runtime, Target
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, PROMETHEUS_URL, RegionContext
from infra.settings import Settings

SIZES_PATH = "phasescale:overrides.monitoring"
SLACK_KEY = "slackWebhookUrl"


def plan(settings: Settings) -> mp.MonitoringPlan:
    cfg = settings.stack.monitoring
    sizes = settings.sizes.monitoring
    stack = settings.stack
    postgres = (
        PostgresMetrics.CNPG
        if stack.postgres.engine is PostgresEngine.CNPG
        else PostgresMetrics.POSTGRES_EXPORTER
    )
    return mp.MonitoringPlan(
        phase=settings.phase,
        app_namespace=stack.namespace,
        services=tuple(sorted(n for n, s in stack.services.items() if s.runtime is Runtime.KUBERNETES)),
        namespace=MONITORING_NAMESPACE,
        monitor_labels=dict(MONITOR_LABELS),
        retention_days=sizes.retention_days,
        storage_gib=sizes.storage_gib,
        storage_class=cfg.storage_class,
        prometheus_replicas=sizes.prometheus_replicas,
        alertmanager_replicas=sizes.alertmanager_replicas,
        prometheus_cpu_m=sizes.prometheus_cpu_millicores,
        prometheus_memory_gib=sizes.prometheus_memory_gib,
        postgres_metrics=postgres,
        slack=bool(settings.secrets.get(SLACK_KEY)),
        channels=SlackChannels(**cfg.slack_channels.model_dump()),
        grafana_host=cfg.grafana_host,
        grafana_admin_secret=cfg.grafana_admin_secret,
        ingress_class=INGRESS_CLASS,
        runbook_base_url=cfg.runbook_base_url,
        managed_control_plane=stack.cluster.target in (Target.GKE, Target.EKS),
        gpu=stack.parts.gpu,
        alerts=config_alerts.settings(stack.alerts),
    )


def pods(settings: Settings) -> list[PodGroup]:
    """The Prometheus and Alertmanager pods the operator makes from the chart's custom resources.
    decided: they stay on the general pool (their requests fit it at every phase; the check proves
    it), so the data pool holds only the data tier."""
    values: dict[str, Any] = mp.helm_values(plan(settings))
    out = []
    for kind, spec in (("Prometheus", values["prometheus"]["prometheusSpec"]),
                       ("Alertmanager", values["alertmanager"]["alertmanagerSpec"])):
        n = spec["replicas"]
        pod = {"containers": [{"resources": spec["resources"]}], "nodeSelector": spec.get("nodeSelector"),
               "tolerations": spec.get("tolerations")}
        out.append(pod_group(f"{MONITORING_NAMESPACE}/{kind}/monitoring", pod, n, n, SIZES_PATH))
    return out


def validate(settings: Settings) -> list[Problem]:
    problems = mp.validate(plan(settings), SIZES_PATH)
    if settings.stack.environment is Environment.PRODUCTION and not settings.secrets.get(SLACK_KEY):
        problems.append(
            Problem(f"phasescale:{SLACK_KEY}", None,
                    f"required in production (alerts go to Slack): pulumi config set --secret phasescale:{SLACK_KEY}")
        )  # fmt: skip
    return problems


def build(ctx: RegionContext) -> dict[str, Any]:
    p = plan(ctx.settings)
    url = ctx.settings.secrets.get(SLACK_KEY)
    stack = MonitoringStack(
        f"{ctx.key}-monitoring",
        MonitoringStackArgs(plan=p, slack_webhook_url=pulumi.Output.secret(url) if url else None),
        opts=ctx.k8s_opts(),
    )
    ctx.crd_dependencies.append(stack.release)
    return {
        "prometheus": PROMETHEUS_URL,
        "retentionDays": p.retention_days,
        "storageGib": p.storage_gib,
        "prometheusReplicas": p.prometheus_replicas,
        "alertmanagerReplicas": p.alertmanager_replicas,
        "slack": p.slack,
        "grafana": p.grafana_host
        or f"kubectl -n {p.namespace} port-forward svc/{mp.RELEASE}-grafana 3000:80",
    }
