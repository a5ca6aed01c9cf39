"""The charts with control-plane-called ports (webhooks, APIServices) that a region installs (pure).

Decided from the settings the same way the composition and the parts decide (``infra/stack.py``
ClusterAddons, ``infra/parts/monitoring.py``, ``infra/parts/postgres.py``), before any resource is
registered, so the GKE cluster's firewall can open their ports before the first webhook is called.
``tests/cluster/test_webhooks.py`` checks this set against the Helm releases of every stack's plan
at every phase.
"""

from __future__ import annotations

from components.cluster.webhooks import control_plane_ports
from infra.config import PostgresEngine, StackConfig, Target
from infra.config_logging import LoggingBackend
from infra.settings import Settings, has_ingress


def cnpg_backups(stack: StackConfig) -> bool:
    """CNPG with an object store: the barman-cloud plugin (which needs cert-manager) is installed."""
    cnpg = stack.parts.postgres and stack.postgres.engine is PostgresEngine.CNPG
    return cnpg and (stack.cluster.target is not Target.EXISTING or stack.postgres.backup_endpoint_url is not None)


def needs_cert_manager(stack: StackConfig) -> bool:
    return has_ingress(stack) or cnpg_backups(stack)


def webhook_charts(settings: Settings) -> frozenset[str]:
    """Keys of ``components.versions.CHARTS`` installed in each region whose pods the API server calls."""
    stack = settings.stack
    charts = {"keda"}
    if stack.parts.monitoring:
        charts.add("kube-prometheus-stack")
    if stack.parts.postgres and stack.postgres.engine is PostgresEngine.CNPG:
        charts.add("cloudnative-pg")
    if needs_cert_manager(stack):
        charts.add("cert-manager")
    if stack.cluster.target is Target.EKS:
        charts.add("metrics-server")
    if stack.parts.logging and stack.logging.backend is LoggingBackend.ECK:
        charts.add("eck-operator")
    return frozenset(charts)


def webhook_ports(settings: Settings) -> tuple[int, ...]:
    """The ports a region's control plane must reach on its nodes."""
    return control_plane_ports(webhook_charts(settings))
