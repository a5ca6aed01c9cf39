"""The monitoring part: a MonitoringStack (kube-prometheus-stack, rules, dashboards) per region.

Sizes (retention, storage, replicas, Prometheus resources) come from the catalog's ``monitoring``
row; channels and Grafana from ``phasescale:monitoring``; the Slack webhook from
``pulumi config set --secret phasescale:slackWebhookUrl`` (required in production). Built first in
each region: its release installs the prometheus-operator CRDs the later parts' monitors need.
On GKE with a Memorystore cluster or Cloud Run services, a StackdriverExporter reads their Cloud
Monitoring metrics (``managed_sources``) and the rules read its series.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from components.cluster.addons import INGRESS_CLASS
from components.monitoring import managed_metrics as mm
from components.monitoring import plan as mp
from components.monitoring import stackdriver_plan as sdp
from components.monitoring.alertmanager import SlackChannels
from components.monitoring.stack import MonitoringStack, MonitoringStackArgs
from components.monitoring.stackdriver import StackdriverExporter, StackdriverExporterArgs
from components.monitoring.thresholds import PostgresMetrics
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from components.versions import IMAGES
from infra import config_alerts
from infra.config import Environment, PostgresEngine, RedisEngine, Runtime, Target
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, PROMETHEUS_URL, RegionContext
from infra.services import replica_bounds
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
        postgres=stack.parts.postgres,
        redis=stack.parts.redis,
        app_metrics=any(s.runtime is Runtime.KUBERNETES for s in stack.services.values()),
        alerts=config_alerts.settings(stack.alerts),
    )


def memorystore_cluster(settings: Settings) -> bool:
    """Memorystore in cluster mode (IAM auth): read from Cloud Monitoring, not by redis_exporter."""
    stack = settings.stack
    return stack.parts.redis and stack.redis.engine is RedisEngine.MEMORYSTORE and settings.sizes.redis.mode == "cluster"


def cloud_run_services(settings: Settings) -> list[str]:
    return sorted(n for n, s in settings.stack.services.items() if s.runtime is Runtime.CLOUDRUN)


def needs_stackdriver(settings: Settings) -> bool:
    return settings.stack.cluster.target is Target.GKE and (memorystore_cluster(settings) or bool(cloud_run_services(settings)))


def managed_sources(settings: Settings, cluster_name: str, location: str) -> mm.ManagedSources:
    """The region's Memorystore cluster (named as ``infra.parts.redis.build`` names it) and Cloud Run
    services (named by their key, ``infra.stack``), with their instance bounds at the phase."""
    if not needs_stackdriver(settings):
        return mm.ManagedSources()
    services = settings.stack.services
    return mm.ManagedSources(
        location=location,
        memorystore_cluster=f"{cluster_name}-redis"[:40] if memorystore_cluster(settings) else None,
        cloud_run=tuple(mm.CloudRunAlertSpec(n, location, *replica_bounds(settings, services[n]))
                        for n in cloud_run_services(settings)),
    )  # fmt: skip


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
    if needs_stackdriver(settings):
        exporter: dict[str, Any] = sdp.deployment_spec(sdp.StackdriverPlan("p", mm.ManagedSources(), "i"))
        out.append(pod_group(f"{MONITORING_NAMESPACE}/Deployment/{sdp.NAME}", exporter["template"]["spec"], 1, 1, SIZES_PATH))
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
    managed = managed_sources(ctx.settings, ctx.cluster.cluster_name, ctx.cluster.location)
    p = dataclasses.replace(plan(ctx.settings), managed=managed)
    url = ctx.settings.secrets.get(SLACK_KEY)
    stack = MonitoringStack(
        f"{ctx.key}-monitoring",
        MonitoringStackArgs(plan=p, slack_webhook_url=pulumi.Output.secret(url) if url else None),
        opts=ctx.k8s_opts(),
    )
    ctx.crd_dependencies.append(stack.release)
    if managed.needed:
        project = ctx.settings.stack.cluster.gcp_project
        assert project is not None  # target gke needs gcpProject
        StackdriverExporter(
            f"{ctx.key}-stackdriver-exporter",
            StackdriverExporterArgs(
                plan=sdp.StackdriverPlan(project, managed, IMAGES["stackdriver-exporter"].ref, p.namespace,
                                         dict(MONITOR_LABELS)),
                account_id=sdp.account_id(ctx.cluster.cluster_name),
                cloud_opts=ctx.cluster.cloud_opts,
            ),
            opts=pulumi.ResourceOptions(provider=ctx.cluster.provider, depends_on=[stack.release]),
        )  # fmt: skip
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
