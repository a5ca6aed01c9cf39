"""Optional parts of a stack (data tier, GPU pool, monitoring, CDN), one module each.

Every part module exposes the same two functions, which the composition calls in this order:

- ``validate(settings) -> list[Problem]``: every check of the part, before anything is registered;
- ``build(ctx) -> dict``: register the part's resources in one region; return a small summary
  (sizes, endpoints) that becomes a stack output.

A part is switched on by ``phasescale:parts.<name>``; its sizes come from the phase catalog.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.monitoring import exporters_plan as xp
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from components.versions import IMAGES
from infra.config import Environment, Target
from infra.settings import Settings
from infra.targets import RegionCluster

MONITORING_NAMESPACE = "monitoring"
PROMETHEUS_URL = f"http://monitoring-prometheus.{MONITORING_NAMESPACE}.svc:9090"
MONITOR_LABELS = {"release": "monitoring"}
"""Labels the MonitoringStack's Prometheus selects ServiceMonitors, PodMonitors and rules by."""


@dataclass
class RegionContext:
    """What a part needs to build itself in one region."""

    settings: Settings
    cluster: RegionCluster
    namespace: k8s.core.v1.Namespace
    primary: bool
    """True for the first (primary) region: global resources (CDN, DNS) are built there only."""
    crd_dependencies: list[pulumi.Resource] = field(default_factory=list)
    """Resources (Helm releases) that must exist before custom resources of their CRDs."""
    primary_region: RegionContext | None = None
    """The primary region's context, in the other regions (set by the composition): parts that link a
    region to the primary (RDS cross-region replica, VPC peering) read its cluster and ``built``."""
    built: dict[str, pulumi.Resource] = field(default_factory=dict)
    """The main component each part built in this region (``postgres``: the PostgresCluster)."""

    @property
    def key(self) -> str:
        return self.cluster.key

    @property
    def app_namespace(self) -> str:
        return self.settings.stack.namespace

    @property
    def protect(self) -> bool:
        return self.settings.stack.protect_stateful

    def k8s_opts(self, *extra_deps: pulumi.Resource) -> pulumi.ResourceOptions:
        """Options for Kubernetes resources of this region, after the namespace and CRDs."""
        return pulumi.ResourceOptions(
            provider=self.cluster.provider,
            depends_on=[self.namespace, *self.crd_dependencies, *extra_deps],
        )


def backup_endpoint_problems(settings: Settings, path: str, endpoint: str | None, purpose: str) -> list[Problem]:
    """A part's ``backupEndpointUrl``: only on target existing (the clouds back up to their own object
    storage), and required there outside development. ``purpose`` says what needs it."""
    target, environment = settings.stack.cluster.target, settings.stack.environment
    if endpoint and target is not Target.EXISTING:
        return [Problem(path, endpoint, f"only for cluster.target existing; {target.value} backs up to its own object storage")]
    if target is Target.EXISTING and not endpoint and environment is not Environment.DEVELOPMENT:
        return [Problem(path, None, f"required on target existing in {environment.value}: {purpose}")]
    return []


def exporter_pods(namespace: str, names: list[str], kind: xp.ExporterKind, path: str) -> list[PodGroup]:
    """The ManagedExporter Deployments (one replica each) beside managed databases and caches, for
    the scheduling check."""
    out = []
    for name in names:
        spec: dict[str, Any] = xp.deployment_spec(xp.ExporterPlan(name, kind, namespace, IMAGES[kind.value].ref))
        out.append(pod_group(f"{namespace}/Deployment/{name}", spec["template"]["spec"], 1, 1, path))
    return out
