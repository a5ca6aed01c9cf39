"""CdnBucket in the cluster (development): SeaweedFS ``weed server -s3`` as a one-replica StatefulSet
with a volume, a ClusterIP Service and a NetworkPolicy (see ``components.cdn.bucket``)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cdn import plan as cp
from components.cdn.args import CdnBucketArgs, CdnOutputs


def build_store(owner: pulumi.ComponentResource, name: str, a: CdnBucketArgs, out: CdnOutputs) -> None:
    """The dev store's resources, children of ``owner``; fills ``out``."""
    plan = a.store
    assert plan is not None, "Cloud.CLUSTER needs a StorePlan"
    child = pulumi.ResourceOptions(parent=owner)
    stateful = pulumi.ResourceOptions(parent=owner, protect=a.protect)
    labels = kube.labels(plan.name, "object-store")

    def meta(annotations: dict[str, str] | None = None) -> dict[str, object]:
        out: dict[str, object] = {"name": plan.name, "namespace": plan.namespace, "labels": labels}
        if annotations:
            out["annotations"] = annotations
        return out

    k8s.apps.v1.StatefulSet(
        name,
        metadata=meta(
            kube.checkov_skips(
                kube.CHECKOV_DIGEST_SKIP,
                ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
            )
        ),
        spec=cp.store_statefulset_spec(plan),
        opts=stateful,
    )
    k8s.core.v1.Service(f"{name}-svc", metadata=meta(), spec=cp.store_service_spec(plan), opts=child)
    k8s.networking.v1.NetworkPolicy(
        f"{name}-netpol", metadata=meta(), spec=cp.store_network_policy_spec(plan), opts=child
    )
    out.bucket_name = pulumi.Output.from_input(a.bucket)
    out.hostname = pulumi.Output.from_input(cp.store_endpoint(plan))
    out.cdn_id = pulumi.Output.from_input("")  # no CDN in front of the dev store
