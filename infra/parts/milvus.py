"""The milvus part: the Milvus operator per region, the object storage of the target and one Milvus.

- existing: the operator's in-cluster MinIO (persistent, retained).
- gke: a GCS bucket; the pods reach it as a Google service account through Workload Identity.
- eks: an S3 bucket; the pods reach it through IRSA (a role only ``milvus/milvus`` can assume).

Buckets are private, versioned, encrypted and registered with ``protect`` in production.
"""

from __future__ import annotations

import json
from typing import Any, cast

import pulumi

from components.helm import release
from components.milvus import plan as mp
from components.milvus.cluster import MilvusCluster, MilvusClusterArgs
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from components.sdk import aws, gcp
from components.versions import IMAGES
from infra.config import Target
from infra.parts import MONITOR_LABELS, RegionContext
from infra.settings import Settings
from infra.targets import data_pool

NAMESPACE = "milvus"
OPERATOR_NAMESPACE = "milvus-operator"
SERVICE_ACCOUNT = "milvus"
PATH = "phasescale:overrides.milvus"
STORAGE = {Target.EXISTING: mp.Storage.MINIO, Target.GKE: mp.Storage.GCS, Target.EKS: mp.Storage.S3}
GCS_ROLES = ("roles/storage.objectAdmin", "roles/storage.legacyBucketReader")
"""Objects read/write/delete, plus ``storage.buckets.get`` (Milvus checks the bucket exists)."""


def bucket_name(settings: Settings, cluster_name: str) -> str | None:
    """Globally unique per stack and region; GCS names lead with the (unique) project id."""
    target = settings.stack.cluster.target
    if target is Target.GKE:
        return f"{settings.stack.cluster.gcp_project}-{cluster_name}-milvus"
    if target is Target.EKS:
        return f"phasescale-{cluster_name}-milvus"
    return None


def plan(settings: Settings, region: str, cluster_name: str = "", location: str | None = None) -> mp.MilvusPlan:
    size = settings.sizes.milvus
    target = settings.stack.cluster.target
    etcd, minio = IMAGES["milvus-etcd"], IMAGES["milvus-minio"]
    return mp.MilvusPlan(
        name=f"{region}-milvus",
        namespace=NAMESPACE,
        image=IMAGES["milvus"].ref,
        mode=mp.Mode(size.mode),
        storage=STORAGE[target],
        service_account=SERVICE_ACCOUNT,
        etcd_image=(etcd.repository, etcd.tag),
        minio_image=(minio.repository, minio.tag),
        query_nodes=size.query_nodes,
        data_nodes=size.data_nodes,
        streaming_nodes=size.streaming_nodes,
        proxies=size.proxies,
        query_node_memory_gib=size.query_node_memory_gib,
        minio_storage_gib=size.minio_storage_gib,
        storage_class=settings.stack.milvus.storage_class,
        bucket=bucket_name(settings, cluster_name or region),
        region=location if target is Target.EKS else None,
        data_pool=data_pool(settings) is not None,
    )


MINIO_DISTRIBUTED_REPLICAS = 4
"""The MinIO chart's ``replicas`` default in distributed mode (milvus chart's minio values)."""


def pods(settings: Settings, key: str) -> list[PodGroup]:
    """The pods the operator makes from the Milvus CR: every role, etcd and (existing) MinIO."""
    p = plan(settings, key)
    spec: dict[str, Any] = mp.milvus_spec(p)
    com = spec["components"]
    base = f"{p.namespace}/Milvus/{p.name}"

    def pod(res: Any, where: dict[str, Any]) -> dict[str, Any]:
        return {"containers": [{"resources": res}], "nodeSelector": where.get("nodeSelector"),
                "tolerations": where.get("tolerations")}

    roles = ("mixCoord", "proxy", "queryNode", "dataNode", "streamingNode") if p.cluster else ("standalone",)
    out = [pod_group(f"{base}/{r}", pod(com[r]["resources"], com), com[r]["replicas"], com[r]["replicas"], PATH)
           for r in roles]
    etcd = spec["dependencies"]["etcd"]["inCluster"]["values"]
    out.append(pod_group(f"{base}/etcd", pod(etcd["resources"], etcd), etcd["replicaCount"], etcd["replicaCount"], PATH))
    storage = spec["dependencies"]["storage"]
    if p.storage is mp.Storage.MINIO:
        minio = storage["inCluster"]["values"]
        n = MINIO_DISTRIBUTED_REPLICAS if minio["mode"] == "distributed" else 1
        out.append(pod_group(f"{base}/minio", pod(minio["resources"], minio), n, n, PATH))
    return out


def validate(settings: Settings) -> list[Problem]:
    """The sizes (the same in every region); bucket and identity follow from the checked target."""
    return mp.validate(plan(settings, next(iter(settings.stack.regions))), PATH)


def _s3_bucket(ctx: RegionContext, name: str) -> tuple[pulumi.Output[str], str]:
    """A private, versioned, KMS-encrypted, TLS-only S3 bucket and the IRSA role that may use it."""
    eks = ctx.cluster.eks
    assert eks is not None
    key = f"{ctx.key}-milvus"
    cloud = ctx.cluster.cloud_opts
    stateful = pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(protect=ctx.protect))
    bucket = aws.s3.Bucket(key, bucket=name, force_destroy=False, opts=stateful)
    after = pulumi.ResourceOptions.merge(cloud, pulumi.ResourceOptions(depends_on=[bucket]))
    aws.s3.BucketPublicAccessBlock(
        f"{key}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=after,
    )
    aws.s3.BucketOwnershipControls(
        f"{key}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=after
    )
    aws.s3.BucketVersioning(
        f"{key}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=after
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{key}-encryption",
        bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}],
        opts=after,
    )
    arn = f"arn:aws:s3:::{name}"
    aws.s3.BucketPolicy(
        f"{key}-tls-only",
        bucket=bucket.id,
        policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }],
        }),
        opts=after,
    )
    policy = aws.iam.Policy(
        f"{key}-access",
        description=f"Milvus of {ctx.cluster.cluster_name}: its bucket only",
        policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [arn]},
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                    "Resource": [f"{arn}/*"],
                },
            ],
        }),
        opts=cloud,
    )
    role = eks.irsa_role(f"{ctx.cluster.cluster_name}-milvus", NAMESPACE, SERVICE_ACCOUNT, [cast(str, policy.arn)])
    return role.arn, "eks.amazonaws.com/role-arn"


def _gcs_bucket(ctx: RegionContext, name: str) -> tuple[pulumi.Output[str], str]:
    """A private, versioned GCS bucket (uniform access, public access prevented, Google-managed
    encryption) and the Google service account the Kubernetes one acts as."""
    project = ctx.settings.stack.cluster.gcp_project
    assert project is not None
    key = f"{ctx.key}-milvus"
    bucket = gcp.storage.Bucket(
        key,
        name=name,
        project=project,
        location=ctx.cluster.location.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        soft_delete_policy={"retention_duration_seconds": 7 * 24 * 3600},
        force_destroy=False,
        opts=pulumi.ResourceOptions.merge(ctx.cluster.cloud_opts, pulumi.ResourceOptions(protect=ctx.protect)),
    )
    account = gcp.serviceaccount.Account(
        key,
        project=project,
        account_id=f"{ctx.cluster.cluster_name}-milvus"[:30].rstrip("-"),
        display_name=f"Milvus of {ctx.cluster.cluster_name}",
        opts=ctx.cluster.cloud_opts,
    )
    member = account.email.apply(lambda e: f"serviceAccount:{e}")
    for role in GCS_ROLES:
        gcp.storage.BucketIAMMember(
            f"{key}-{role.split('.')[-1].lower()}", bucket=bucket.name, role=role, member=member,
            opts=ctx.cluster.cloud_opts,
        )
    gcp.serviceaccount.IAMMember(
        f"{key}-workload-identity",
        service_account_id=account.name,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{project}.svc.id.goog[{NAMESPACE}/{SERVICE_ACCOUNT}]",
        opts=ctx.cluster.cloud_opts,
    )
    return account.email, "iam.gke.io/gcp-service-account"


def build(ctx: RegionContext) -> dict[str, Any]:
    rc = ctx.cluster
    p = plan(ctx.settings, ctx.key, rc.cluster_name, rc.location)
    annotations: dict[str, pulumi.Input[str]] | None = None
    if p.storage is mp.Storage.S3:
        assert p.bucket is not None
        identity, annotation = _s3_bucket(ctx, p.bucket)
        annotations = {annotation: identity}
    elif p.storage is mp.Storage.GCS:
        assert p.bucket is not None
        identity, annotation = _gcs_bucket(ctx, p.bucket)
        annotations = {annotation: identity}
    operator = release(
        f"{ctx.key}-milvus-operator", "milvus-operator", OPERATOR_NAMESPACE, mp.operator_values(), ctx.k8s_opts()
    )
    MilvusCluster(
        p.name,
        MilvusClusterArgs(
            plan=p,
            service_account_annotations=annotations,
            monitor_labels=MONITOR_LABELS if ctx.settings.stack.parts.monitoring else None,
            protect=ctx.protect,
        ),
        opts=ctx.k8s_opts(operator),
    )
    out: dict[str, Any] = {"name": p.name, "mode": p.mode.value, "storage": p.storage.value}
    if p.cluster:
        out.update(queryNodes=p.query_nodes, dataNodes=p.data_nodes, streamingNodes=p.streaming_nodes, proxies=p.proxies)
    if p.bucket:
        out["bucket"] = p.bucket
    return out
