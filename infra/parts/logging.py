"""The logging part (``parts.logging``): container logs of every node, kept ``retentionDays``.

- ``logging.backend: eck``: ECK operator, Elasticsearch on the data pool (gke/eks), Kibana, Filebeat.
- ``logging.backend: loki``: Loki with its data in a private bucket (gke: GCS through Workload
  Identity; eks: S3 through IRSA, a role only ``logging/loki`` can assume; existing: the pod's
  volume, one replica), Alloy, and Loki as a Grafana datasource.

Buckets never change with the phase, are never force-destroyed and are protected in production.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pulumi

from components import buckets
from components.logging import eck_plan as ep
from components.logging import loki_plan as lp
from components.logging import plan as lgp
from components.logging.stack import LoggingStack, LoggingStackArgs
from components.problems import Problem
from components.scheduling import DaemonSet, PodGroup, pod_group, pod_requests, tolerations_of
from components.sdk import aws, gcp
from components.versions import IMAGES
from infra.config import Target
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, RegionContext
from infra.settings import Settings, cluster_storage_classes
from infra.targets import data_pool

PATH = "phasescale:overrides.logging"
SERVICE_ACCOUNT = "loki"
"""The Loki chart's ServiceAccount (``serviceAccount.name`` null: the release's fullname)."""
STORES = {Target.GKE: lgp.ObjectStore.GCS, Target.EKS: lgp.ObjectStore.S3, Target.EXISTING: lgp.ObjectStore.FILESYSTEM}
ZONES = {Target.GKE: 3, Target.EKS: 3, Target.EXISTING: 0}
"""gke: a regional cluster's three zones; eks: the region's first three (infra/targets.zones_of)."""


def bucket_name(settings: Settings, cluster_name: str) -> str | None:
    """Globally unique per stack and region, like Milvus's; never with the phase."""
    target = settings.stack.cluster.target
    if target is Target.GKE:
        return f"{settings.stack.cluster.gcp_project}-{cluster_name}-logs"
    if target is Target.EKS:
        return f"phasescale-{cluster_name}-logs"
    return None


def plan(settings: Settings, cluster_name: str = "", location: str | None = None) -> lgp.LoggingPlan:
    size = settings.sizes.logging
    stack = settings.stack
    target = stack.cluster.target
    zones = len(next(iter(stack.regions.values())).zones) or ZONES[target]
    return lgp.LoggingPlan(
        backend=lgp.Backend(stack.logging.backend.value),
        retention_days=size.retention_days,
        es_nodes=size.elasticsearch_nodes,
        es_cpu_m=size.elasticsearch_cpu_millicores,
        es_memory_gib=size.elasticsearch_memory_gib,
        es_heap_gib=size.elasticsearch_heap_gib,
        es_storage_gib=size.elasticsearch_storage_gib,
        kibana_replicas=size.kibana_replicas,
        loki_replicas=size.loki_replicas,
        loki_cpu_m=size.loki_cpu_millicores,
        loki_memory_gib=size.loki_memory_gib,
        loki_storage_gib=size.loki_storage_gib,
        shipper_cpu_m=size.shipper_cpu_millicores,
        shipper_memory_mib=size.shipper_memory_mib,
        es_version=IMAGES["elasticsearch"].tag,
        storage_class=stack.logging.storage_class,
        data_pool=data_pool(settings) is not None,
        zones=zones if target is not Target.EXISTING else 0,
        object_store=STORES[target],
        bucket=bucket_name(settings, cluster_name or next(iter(stack.regions))),
        region=location if target is Target.EKS else None,
        monitoring=stack.parts.monitoring,
        monitoring_namespace=MONITORING_NAMESPACE,
        monitor_labels=tuple(sorted(MONITOR_LABELS.items())),
    )


def pods(settings: Settings) -> list[PodGroup]:
    """Elasticsearch and Kibana (eck) or Loki (loki), from the specs the component sends."""
    p = plan(settings)
    if p.backend is lgp.Backend.ECK:
        node_set = ep.elasticsearch_spec(p)["nodeSets"][0]
        spec = dict(node_set["podTemplate"]["spec"])
        if "zoneAwareness" in node_set:  # ECK adds a DoNotSchedule zone spread (maxSkew 1)
            spec["topologySpreadConstraints"] = [{"topologyKey": "topology.kubernetes.io/zone",
                                                  "whenUnsatisfiable": "DoNotSchedule", "maxSkew": 1}]
        kibana = ep.kibana_spec(p)["podTemplate"]["spec"]
        return [
            pod_group(f"{lgp.NAMESPACE}/Elasticsearch/{lgp.NAME}", spec, p.es_nodes, p.es_nodes, PATH),
            pod_group(f"{lgp.NAMESPACE}/Kibana/{lgp.NAME}", kibana, p.kibana_replicas, p.kibana_replicas, PATH),
        ]
    single = lp.loki_values(p)["singleBinary"]
    # The chart's default singleBinary.affinity: required anti-affinity on the hostname.
    spec = {"containers": [{"resources": single["resources"]}],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname"}]}}}
    return [pod_group(f"{lgp.NAMESPACE}/StatefulSet/{lp.RELEASE}", spec, p.loki_replicas, p.loki_replicas, PATH)]


def daemonsets(settings: Settings) -> list[DaemonSet]:
    """The log shipper on every node of every pool (it tolerates every taint)."""
    p = plan(settings)
    if p.backend is lgp.Backend.ECK:
        pod = ep.beat_spec(p, "", "")["daemonSet"]["podTemplate"]["spec"]
        name, containers, tolerations = f"{lgp.SHIPPER_NAMESPACE}/Beat/{lgp.NAME}", pod["containers"], pod["tolerations"]
    else:
        values = lp.alloy_values(p)
        name, tolerations = f"{lgp.SHIPPER_NAMESPACE}/DaemonSet/{lp.ALLOY_RELEASE}", values["controller"]["tolerations"]
        # Alloy beside the chart's config reloader sidecar (values.yaml configReloader.resources: 10m / 50Mi).
        containers = [{"resources": values["alloy"]["resources"]},
                      {"resources": {"requests": {"cpu": "10m", "memory": "50Mi"}}}]
    return [DaemonSet(name, pod_requests(containers), tolerations_of(tolerations))]


def validate(settings: Settings) -> list[Problem]:
    target = settings.stack.cluster.target
    found = lgp.validate(plan(settings), PATH, managed_cloud=target is not Target.EXISTING)
    classes = cluster_storage_classes(target)
    storage_class = settings.stack.logging.storage_class
    if classes is not None and storage_class is not None and storage_class not in classes:
        found.append(Problem("phasescale:logging.storageClass", storage_class,
                             f"a StorageClass of {target.value} clusters: {', '.join(sorted(classes))}"))
    return found


def workload_identity_member(project: str) -> str:
    """The Kubernetes ServiceAccount ``logging/loki`` as a Workload Identity member."""
    return f"serviceAccount:{project}.svc.id.goog[{lgp.NAMESPACE}/{SERVICE_ACCOUNT}]"


def _gcs(ctx: RegionContext, name: str) -> tuple[pulumi.Output[str], str]:
    """The bucket and the Google service account ``logging/loki`` acts as (objects read/write/delete)."""
    project = ctx.settings.stack.cluster.gcp_project
    assert project is not None
    key = f"{ctx.key}-logs"
    stateful = pulumi.ResourceOptions.merge(ctx.cluster.cloud_opts, pulumi.ResourceOptions(protect=ctx.protect))
    bucket = buckets.gcs_bucket(key, name, project, ctx.cluster.location, [], stateful)
    account = gcp.serviceaccount.Account(
        key, project=project, account_id=f"{ctx.cluster.cluster_name}-logs"[:30].rstrip("-"),
        display_name=f"Loki of {ctx.cluster.cluster_name}", opts=ctx.cluster.cloud_opts,
    )
    grant = gcp.storage.BucketIAMMember(
        f"{key}-objectadmin", bucket=bucket.name, role="roles/storage.objectAdmin",
        member=account.email.apply(lambda e: f"serviceAccount:{e}"), opts=ctx.cluster.cloud_opts,
    )
    binding = gcp.serviceaccount.IAMMember(
        f"{key}-workload-identity", service_account_id=account.name, role="roles/iam.workloadIdentityUser",
        member=workload_identity_member(project), opts=ctx.cluster.cloud_opts,
    )
    # The release reads the e-mail through its service account annotation: carried through both grants,
    # so Loki starts only once it may use the bucket (without them it gets 403 and crash-loops).
    email = pulumi.Output.all(account.email, grant.id, binding.id).apply(lambda a: str(a[0]))
    return email, "iam.gke.io/gcp-service-account"


def _s3(ctx: RegionContext, name: str) -> tuple[pulumi.Output[str], str]:
    """The bucket (TLS only) and an IRSA role only ``logging/loki`` can assume, for this bucket only."""
    eks = ctx.cluster.eks
    assert eks is not None
    key = f"{ctx.key}-logs"
    cloud = ctx.cluster.cloud_opts
    stateful = pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(protect=ctx.protect))
    # Loki's compactor deletes expired chunks; the rule only clears abandoned multipart uploads.
    rules = [{"id": "abort-incomplete-uploads", "status": "Enabled", "filter": {},
              "abort_incomplete_multipart_upload": {"days_after_initiation": 7}}]
    # The bucket's settings are children of the EKS cluster component (its AWS provider), as the IRSA role is.
    bucket, _ = buckets.s3_bucket(key, name, rules, stateful, eks)
    arn = f"arn:aws:s3:::{name}"
    aws.s3.BucketPolicy(
        f"{key}-tls-only", bucket=bucket.id,
        policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }]}),
        opts=pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(depends_on=[bucket])),
    )
    policy = aws.iam.Policy(
        f"{key}-access", description=f"Loki of {ctx.cluster.cluster_name}: its bucket only",
        policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [arn]},
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "Resource": [f"{arn}/*"]},
        ]}),
        opts=cloud,
    )
    role = eks.irsa_role(f"{ctx.cluster.cluster_name}-logs", lgp.NAMESPACE, SERVICE_ACCOUNT, [cast(str, policy.arn)])
    return role.arn, "eks.amazonaws.com/role-arn"


def build(ctx: RegionContext) -> dict[str, Any]:
    rc = ctx.cluster
    p = plan(ctx.settings, rc.cluster_name, rc.location)
    annotations: dict[str, pulumi.Input[str]] | None = None
    if p.backend is lgp.Backend.LOKI and p.bucket is not None:
        identity, annotation = (_gcs if p.object_store is lgp.ObjectStore.GCS else _s3)(ctx, p.bucket)
        annotations = {annotation: identity}
    LoggingStack(
        f"{ctx.key}-logging",
        LoggingStackArgs(plan=p, service_account_annotations=annotations, protect=ctx.protect),
        opts=ctx.k8s_opts(),
    )
    out: dict[str, Any] = {"backend": p.backend.value, "retentionDays": p.retention_days}
    if p.backend is lgp.Backend.ECK:
        out.update(elasticsearchNodes=p.es_nodes, kibana=f"kubectl -n {lgp.NAMESPACE} port-forward svc/{lgp.NAME}-kb-http 5601")
    else:
        out.update(lokiReplicas=p.loki_replicas, loki=lp.URL)
        if p.bucket:
            out["bucket"] = p.bucket
    return out
