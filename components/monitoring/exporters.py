"""ManagedExporter: postgres_exporter or redis_exporter beside a managed database or cache, so the
database and cache alerts and phase triggers have data on Cloud SQL, RDS, Memorystore and ElastiCache
(the operators' exporters cover CNPG and the OT Redis operator).

Children, all named ``<name>`` in Kubernetes: the Secret with the target and credentials (values are
Pulumi secrets), the Deployment (restricted pod, read-only root, no service-account token), the
Service, the NetworkPolicy (Prometheus's namespace only) and the ServiceMonitor labelled for the
MonitoringStack's selectors. Specs: ``components.monitoring.exporters_plan``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.monitoring import exporters_plan as xp

TYPE = "phasescale:components:ManagedExporter"


@dataclass(frozen=True)
class ManagedExporterArgs:
    plan: xp.ExporterPlan
    secret: dict[str, pulumi.Input[str]]
    """The Secret's data, keys ``exporters_plan.secret_keys(plan)`` (``postgres_uri`` and
    ``redis_password_file`` build them; ``CA_KEY`` with ``plan.ca``); every value is stored as a secret."""
    redis_addr: pulumi.Input[str] | None = None
    """Redis only: ``REDIS_ADDR`` (``exporters_plan.redis_address``)."""


class ManagedExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: ManagedExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        wanted = set(xp.secret_keys(plan).values())
        if set(args.secret) != wanted:
            raise ValueError(f"{plan.kind.value} secret needs exactly the keys {sorted(wanted)}")
        child = pulumi.ResourceOptions(parent=self)

        def meta(annotations: dict[str, str] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": plan.name, "namespace": plan.namespace, "labels": plan.labels}
            if annotations:
                out["annotations"] = annotations
            return out

        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=meta(),
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in sorted(args.secret.items())},
            opts=child,
        )
        k8s.apps.v1.Deployment(
            name,
            metadata=meta(kube.checkov_skips(
                kube.CHECKOV_DIGEST_SKIP,
                ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
            )),
            spec=xp.deployment_spec(plan, args.redis_addr),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
        )  # fmt: skip
        k8s.core.v1.Service(f"{name}-svc", metadata=meta(), spec=xp.service_spec(plan), opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(), spec=xp.network_policy_spec(plan), opts=child
        )
        monitor = xp.service_monitor(plan)
        k8s.apiextensions.CustomResource(
            f"{name}-monitor",
            api_version=monitor["apiVersion"],
            kind=monitor["kind"],
            metadata=monitor["metadata"],
            spec=monitor["spec"],
            opts=child,
        )
        self.register_outputs({"name": plan.name})
