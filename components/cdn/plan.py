"""Pure planning for CdnBucket: names, lifecycle rules, policies and the dev store's specs.

No Pulumi calls: plain data with each API's own key spelling, testable on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from components import kube

NONCURRENT_DAYS = 30
"""Noncurrent object versions are kept this long (undo an overwrite or delete), then deleted."""
ABORT_MULTIPART_DAYS = 7
"""Incomplete multipart uploads are aborted after this many days (they cost storage, invisibly)."""

CLOUDFRONT_CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
"""AWS managed cache policy ``Managed-CachingOptimized`` (gzip + brotli keys, no cookies/query)."""
CLOUDFRONT_SECURITY_HEADERS = "67f7725c-6f97-4210-82d7-5512b31e9d03"
"""AWS managed response headers policy ``Managed-SecurityHeadersPolicy`` (HSTS, nosniff, ...)."""
CLOUDFRONT_TLS_MIN = "TLSv1.2_2021"
FAILOVER_STATUS_CODES = (500, 502, 503, 504)
"""CloudFront tries the replica origin when the primary answers with one of these."""

CDN_FILL_MEMBER = "serviceAccount:service-{number}@cloud-cdn-fill.iam.gserviceaccount.com"
"""Cloud CDN's fill service agent: reads private buckets behind a backend bucket."""
TRANSFER_MEMBER = "serviceAccount:project-{number}@storage-transfer-service.iam.gserviceaccount.com"
"""Storage Transfer Service's agent: runs cross-bucket replication."""
GCS_AGENT_MEMBER = "serviceAccount:service-{number}@gs-project-accounts.iam.gserviceaccount.com"
"""Cloud Storage's agent: publishes the object-change notifications replication listens to."""

STORE_S3_PORT = 8333
STORE_DATA_DIR = "/data"
STORE_CONFIG_DIR = "/etc/seaweedfs"


def bucket_name(base: str, replica: bool = False) -> str:
    """The bucket's stable name (never the phase: renaming replaces the bucket and its data)."""
    return f"{base}-replica" if replica else base


def default_bucket_base(owner: str, stack: str) -> str:
    """``<gcp project or 'phasescale'>-<stack>-cdn``, trimmed to leave room for ``-replica``."""
    return f"{owner}-{stack}-cdn"[:54].rstrip("-")


def gcs_lifecycle_rules() -> list[dict[str, object]]:
    """``gcp.storage.Bucket.lifecycle_rules``: drop old versions, abort stale uploads."""
    return [
        {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": NONCURRENT_DAYS}},
        {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": ABORT_MULTIPART_DAYS}},
    ]


def s3_lifecycle_rules() -> list[dict[str, object]]:
    """``aws.s3.BucketLifecycleConfiguration.rules``: the same two rules as on GCS."""
    return [
        {
            "id": "noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": NONCURRENT_DAYS},
            "abort_incomplete_multipart_upload": {"days_after_initiation": ABORT_MULTIPART_DAYS},
        }
    ]


def gcs_cdn_policy(default_ttl_s: int, max_ttl_s: int) -> dict[str, object]:
    """Cloud CDN on the backend bucket: cache static content, short negative caching."""
    return {
        "cache_mode": "CACHE_ALL_STATIC",
        "default_ttl": default_ttl_s,
        "client_ttl": default_ttl_s,
        "max_ttl": max_ttl_s,
        "negative_caching": True,
        "negative_caching_policies": [{"code": 404, "ttl": 60}, {"code": 410, "ttl": 60}],
        "serve_while_stale": 86400,
        "request_coalescing": True,
    }


def s3_cloudfront_read_policy(bucket_arn: str, distribution_arn: str) -> str:
    """Bucket policy: only this CloudFront distribution (via OAC) reads; plain HTTP is refused."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudFrontOriginAccessControlRead",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": f"{bucket_arn}/*",
                    "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
                },
                deny_insecure_transport(bucket_arn),
            ],
        },
        sort_keys=True,
    )


def deny_insecure_transport(bucket_arn: str) -> dict[str, object]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


S3_ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    },
    sort_keys=True,
)
"""Trust policy of the replication role: assumed by S3 only."""


def s3_replication_policy(source_arn: str, replica_arn: str) -> str:
    """The least the replication role needs (AWS 'Setting up permissions for live replication')."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    "Resource": source_arn,
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    "Resource": f"{source_arn}/*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    "Resource": f"{replica_arn}/*",
                },
            ],
        },
        sort_keys=True,
    )


# --- The dev store (target existing): SeaweedFS `weed server -s3` in one pod ----------------------


@dataclass(frozen=True)
class StorePlan:
    """The in-cluster S3 store for target existing."""

    name: str
    namespace: str
    image: str
    storage_gib: int
    credentials_secret: str
    """Secret holding ``s3.json`` (SeaweedFS identities); created out of band, never in Pulumi state."""
    storage_class: str | None = None
    cpu_m: int = 250
    memory_mib: int = 512


def store_args(plan: StorePlan) -> list[str]:
    """One process: master, volume, filer and the S3 gateway; state under /data."""
    return [
        "server",
        f"-dir={STORE_DATA_DIR}",
        "-ip=127.0.0.1",  # master, volume and filer talk in-pod; only the S3 port is a Service
        "-ip.bind=0.0.0.0",
        "-master.volumeSizeLimitMB=1024",
        "-volume.max=0",
        "-s3",
        f"-s3.port={STORE_S3_PORT}",
        f"-s3.config={STORE_CONFIG_DIR}/s3.json",
    ]


def store_statefulset_spec(plan: StorePlan) -> dict[str, object]:
    probe = {"tcpSocket": {"port": "s3"}, "periodSeconds": 10}
    claim: dict[str, object] = {
        "metadata": {"name": "data", "labels": kube.labels(plan.name, "object-store")},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": f"{plan.storage_gib}Gi"}},
        },
    }
    if plan.storage_class:
        claim["spec"]["storageClassName"] = plan.storage_class  # type: ignore[index]
    return {
        "serviceName": plan.name,
        "replicas": 1,
        "selector": {"matchLabels": kube.selector(plan.name)},
        "podManagementPolicy": "OrderedReady",
        "updateStrategy": {"type": "RollingUpdate"},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": {
            "metadata": {"labels": kube.labels(plan.name, "object-store")},
            "spec": {
                "automountServiceAccountToken": False,
                "enableServiceLinks": False,
                "securityContext": {**kube.pod_security_context(), "fsGroupChangePolicy": "OnRootMismatch"},
                "containers": [
                    {
                        "name": "seaweedfs",
                        "image": plan.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["weed"],
                        "args": store_args(plan),
                        "ports": [{"name": "s3", "containerPort": STORE_S3_PORT, "protocol": "TCP"}],
                        "readinessProbe": {**probe, "initialDelaySeconds": 5},
                        "livenessProbe": {**probe, "initialDelaySeconds": 30, "failureThreshold": 6},
                        "resources": kube.resources(plan.cpu_m, plan.memory_mib),
                        "securityContext": kube.container_security_context(),
                        "volumeMounts": [
                            {"name": "data", "mountPath": STORE_DATA_DIR},
                            {"name": "config", "mountPath": STORE_CONFIG_DIR, "readOnly": True},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                    }
                ],
                "volumes": [
                    {
                        "name": "config",
                        "secret": {"secretName": plan.credentials_secret, "defaultMode": 0o440},
                    },
                    {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                ],
            },
        },
        "volumeClaimTemplates": [claim],
    }


def store_service_spec(plan: StorePlan) -> dict[str, object]:
    return {
        "type": "ClusterIP",
        "selector": kube.selector(plan.name),
        "ports": [{"name": "s3", "port": STORE_S3_PORT, "targetPort": "s3", "protocol": "TCP"}],
    }


def store_network_policy_spec(plan: StorePlan) -> dict[str, object]:
    """Only pods of the same namespace reach the S3 port; master/volume/filer ports stay in-pod."""
    return {
        "podSelector": {"matchLabels": kube.selector(plan.name)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": STORE_S3_PORT}]}],
    }


def store_endpoint(plan: StorePlan) -> str:
    return f"http://{plan.name}.{plan.namespace}.svc:{STORE_S3_PORT}"
