"""MilvusCluster: a Milvus instance through the Milvus operator (``milvus.io/v1beta1`` Milvus), its
namespace, the service account its pods use for object storage, and a PodMonitor for Prometheus.

Stateful: the CR (and the namespace holding it and its retained etcd/MinIO volumes) are registered
with ``protect``. A change of ``spec.mode`` (standalone -> cluster) replaces the CR: in a protected
stack Pulumi refuses it, so the move is a planned migration (README 'Stateful migrations'), never an
in-place surprise. The CR's name never carries the phase.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.milvus import plan as mp

TYPE = "phasescale:components:MilvusCluster"

POD_SECURITY = {
    # baseline, not restricted: the operator's config init container and the bundled etcd/MinIO charts
    # do not set every restricted field (seccomp, dropped capabilities). The Milvus containers do.
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


@dataclass(frozen=True)
class MilvusClusterArgs:
    plan: mp.MilvusPlan
    service_account_annotations: dict[str, pulumi.Input[str]] | None = None
    """Cloud identity of the pods: ``eks.amazonaws.com/role-arn`` or ``iam.gke.io/gcp-service-account``."""
    monitor_labels: dict[str, str] | None = None
    """Labels the Prometheus ``podMonitorSelector`` matches; ``None`` creates no PodMonitor."""
    protect: bool = False


class MilvusCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: MilvusClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        deps = list((opts.depends_on if opts and isinstance(opts.depends_on, list) else None) or [])
        child = pulumi.ResourceOptions(parent=self, depends_on=deps)
        labels = kube.labels(plan.name, "vector-db")

        def meta(extra_labels: dict[str, str] | None = None, **kw: object) -> dict[str, object]:
            return {
                "name": plan.name,
                "namespace": plan.namespace,
                "labels": {**labels, **(extra_labels or {})},
                **kw,
            }

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": plan.namespace, "labels": {**labels, **POD_SECURITY}},
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=args.protect)),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[*deps, self.namespace])
        sa_meta: dict[str, object] = {
            "name": plan.service_account,
            "namespace": plan.namespace,
            "labels": labels,
        }
        if args.service_account_annotations:
            sa_meta["annotations"] = args.service_account_annotations
        self.service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=sa_meta, automount_service_account_token=False, opts=in_ns
        )
        self.milvus = k8s.apiextensions.CustomResource(
            name,
            api_version=mp.MILVUS_API,
            kind="Milvus",
            metadata=meta(),
            spec=mp.milvus_spec(plan),
            opts=pulumi.ResourceOptions.merge(
                in_ns,
                pulumi.ResourceOptions(
                    protect=args.protect,
                    replace_on_changes=["spec.mode"],
                    depends_on=[self.service_account],
                ),
            ),
        )
        if args.monitor_labels is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-monitor",
                api_version=mp.MONITOR_API,
                kind="PodMonitor",
                metadata=meta(args.monitor_labels),
                spec=mp.pod_monitor_spec(plan),
                opts=in_ns,
            )
        self.register_outputs({"name": plan.name, "mode": plan.mode.value})
