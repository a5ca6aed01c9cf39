"""StatelessService: Deployment, Service, autoscaler (HPA or KEDA ScaledObject), PDB, NetworkPolicy,
ServiceAccount, and optionally an Ingress route, a VerticalPodAutoscaler and a ServiceMonitor."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.service import stateless_plan as sp

TYPE = "phasescale:components:StatelessService"


@dataclass(frozen=True)
class IngressOptions:
    host: str
    path_prefix: str
    tls_secret: str
    ingress_class: str
    load_balance_annotations: dict[str, str]


@dataclass(frozen=True)
class StatelessServiceArgs:
    plan: sp.ServicePlan
    prometheus_url: str
    """KEDA's Prometheus server address (used only when a custom metric drives scaling)."""
    ingress: IngressOptions | None = None
    vpa: bool = False
    service_monitor_labels: dict[str, str] | None = None
    """Labels the Prometheus ``serviceMonitorSelector`` matches; ``None`` creates no ServiceMonitor."""
    metrics_path: str = "/metrics"
    service_account_annotations: pulumi.Input[dict[str, str]] | None = None
    """E.g. ``iam.gke.io/gcp-service-account``: the Google identity the pods act as (workload identity)."""


class StatelessService(pulumi.ComponentResource):
    def __init__(self, name: str, args: StatelessServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        ns = plan.namespace
        base_labels = kube.labels(plan.name, "api")
        skips = [
            kube.CHECKOV_DIGEST_SKIP,
            ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
        ]
        if plan.secret_env:
            skips.append(("CKV_K8S_35", "connection settings come from Secrets by secretKeyRef env, the "
                                        "contract every service reads (README, Connection settings)"))
        workload_annotations = kube.checkov_skips(*skips)

        def meta(suffix: str = "", annotations: dict[str, str] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": plan.name + suffix, "namespace": ns, "labels": base_labels}
            if annotations:
                out["annotations"] = annotations
            return out

        sa_meta: pulumi.Input[dict[str, object]] = meta()
        if args.service_account_annotations is not None:
            sa_meta = pulumi.Output.from_input(args.service_account_annotations).apply(
                lambda a: meta(annotations=a)
            )
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=sa_meta, automount_service_account_token=False, opts=child
        )
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta(annotations=workload_annotations),
            spec=sp.deployment_spec(plan, plan.name),
            opts=child,
        )
        self.service = k8s.core.v1.Service(f"{name}-svc", metadata=meta(), spec=sp.service_spec(plan), opts=child)
        if plan.uses_keda:
            self.autoscaler: pulumi.CustomResource = k8s.apiextensions.CustomResource(
                f"{name}-scaler",
                api_version=sp.KEDA_API,
                kind="ScaledObject",
                metadata=meta(),
                spec=sp.scaled_object_spec(plan, args.prometheus_url),
                opts=child,
            )
        else:
            self.autoscaler = k8s.autoscaling.v2.HorizontalPodAutoscaler(
                f"{name}-hpa", metadata=meta(), spec=sp.hpa_spec(plan), opts=child
            )
        if plan.wants_pdb:
            k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(), spec=sp.pdb_spec(plan), opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(), spec=sp.network_policy_spec(plan), opts=child
        )
        if args.ingress is not None:
            ing = args.ingress
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata=meta(annotations=ing.load_balance_annotations),
                spec=sp.ingress_spec(plan, ing.host, ing.path_prefix, ing.tls_secret, ing.ingress_class),
                opts=child,
            )
        if args.vpa:
            k8s.apiextensions.CustomResource(
                f"{name}-vpa",
                api_version="autoscaling.k8s.io/v1",
                kind="VerticalPodAutoscaler",
                metadata=meta(),
                spec=sp.vpa_spec(plan),
                opts=child,
            )
        if args.service_monitor_labels is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata={**meta(), "labels": {**base_labels, **args.service_monitor_labels}},
                spec={
                    "selector": {"matchLabels": kube.selector(plan.name)},
                    "endpoints": [{"port": "http", "path": args.metrics_path, "interval": "15s"}],
                },
                opts=child,
            )
        self.register_outputs({"deployment": self.deployment.metadata.name, "service": self.service.metadata.name})
