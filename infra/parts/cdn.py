"""The cdn part: object storage behind a CDN (components/cdn/bucket.py).

- gke / eks: a private bucket whenever the part is on, at every phase, and its CDN from the catalog's
  phase (3 by default), built once, in the primary region (the CDN is global). The bucket exists
  below the CDN's phase too, so moving down (3 -> 2) removes the CDN and keeps the bucket and its
  objects; moving back up adds only the CDN. With ``crossRegionReplication`` (phase 4) a replica bucket in
  the second listed region; on AWS it is also CloudFront's failover origin. Buckets keep their names
  across phases and are protected in production.
- existing: an in-cluster S3 store (SeaweedFS) in every region's cluster, whenever the part is on,
  whatever the phase: development needs object storage from day one (003: "MinIO first, then a
  CDN") and there is no CDN to switch on.

The GCS bucket stays private: Cloud CDN reads it as its fill service agent
``service-<project number>@cloud-cdn-fill.iam.gserviceaccount.com``. The project number comes from
``phasescale:cdn.gcpProjectNumber`` (required on gke once the CDN is on) rather than a
``gcp.organizations.getProject`` lookup: the plan then shows the real grant offline, and nothing is
looked up at preview time. Cloud CDN creates that agent when the first signed URL key is added; the
key comes from the secret ``phasescale:cdnSignedUrlKey`` when set, else from
``gcloud compute backend-buckets add-signed-url-key`` before the first ``pulumi up``.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi

from components.cdn import plan as cp
from components.cdn.args import CdnBucketArgs, Cloud
from components.cdn.bucket import CdnBucket
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from components.versions import IMAGES
from infra.config import Target
from infra.parts import RegionContext
from infra.settings import NAMESPACE, Settings

ACM_ARN_RE = re.compile(r"^arn:aws:acm:us-east-1:\d{12}:certificate/[-0-9a-f]{36}$")
STORE_NAME = "cdn-store"
SIGNED_URL_KEY = "cdnSignedUrlKey"
"""Secret config key of the Cloud CDN signed URL key (optional)."""


def _path(key: str) -> str:
    return f"{NAMESPACE}:cdn.{key}"


def validate(settings: Settings) -> list[Problem]:
    cfg, sizes = settings.stack.cdn, settings.sizes.cdn
    target = settings.stack.cluster.target
    if target is Target.EXISTING or not sizes.enabled:
        return []
    found = []
    if target is Target.GKE:
        if not cfg.domain:
            found.append(Problem(_path("domain"), None, "required on gke from the CDN's phase: the "
                                 "Google-managed certificate is issued for it (e.g. cdn.example.com)"))
        if not cfg.gcp_project_number:
            found.append(Problem(_path("gcpProjectNumber"), None, "required on gke from the CDN's phase: "
                                 "Cloud CDN reads the private bucket as service-<number>@cloud-cdn-fill; "
                                 "gcloud projects describe <project> --format='value(projectNumber)'"))
    if target is Target.EKS:
        arn = cfg.acm_certificate_arn
        if cfg.domain and not arn:
            found.append(Problem(_path("acmCertificateArn"), None, f"required with cdn.domain {cfg.domain!r}: "
                                 "an ACM certificate for it, issued in us-east-1"))
        if arn and not cfg.domain:
            found.append(Problem(_path("domain"), None, "required with cdn.acmCertificateArn (the alias "
                                 "the certificate covers)"))
        if arn and not ACM_ARN_RE.match(arn):
            found.append(Problem(_path("acmCertificateArn"), arn, "an ACM certificate ARN in us-east-1 "
                                 "(CloudFront reads certificates there only): "
                                 "arn:aws:acm:us-east-1:<account>:certificate/<uuid>"))
    if sizes.cross_region_replication and len(settings.stack.regions) < 2:
        found.append(Problem(f"{NAMESPACE}:regions", sorted(settings.stack.regions), "cross-region "
                             "replication needs a second region; add one or set "
                             "overrides.cdn.crossRegionReplication: false"))
    return found


def bucket_base(settings: Settings, stack: str) -> str:
    cfg = settings.stack
    return cfg.cdn.bucket_name or cp.default_bucket_base(cfg.cluster.gcp_project or "phasescale", stack)


def store_plan(settings: Settings) -> cp.StorePlan:
    """The in-cluster store of target existing."""
    cfg = settings.stack
    return cp.StorePlan(
        name=STORE_NAME,
        namespace=cfg.namespace,
        image=IMAGES["seaweedfs"].ref,
        storage_gib=cfg.cdn.dev_store_gib,
        credentials_secret=f"{STORE_NAME}-s3-config",
        storage_class=cfg.cdn.storage_class,
    )


def pods(settings: Settings) -> list[PodGroup]:
    """The in-cluster store's StatefulSet (target existing); the clouds' CDNs run no pods."""
    if settings.stack.cluster.target is not Target.EXISTING:
        return []
    spec: dict[str, Any] = cp.store_statefulset_spec(store_plan(settings))
    n = spec["replicas"]
    return [pod_group(f"{settings.stack.namespace}/StatefulSet/{STORE_NAME}", spec["template"]["spec"], n, n,
                      "phasescale:cdn")]


def build(ctx: RegionContext) -> dict[str, Any]:
    s = ctx.settings
    cfg, sizes = s.stack, s.sizes.cdn
    target = cfg.cluster.target
    base = bucket_base(s, pulumi.get_stack())
    if target is Target.EXISTING:
        store = store_plan(s)
        dev = CdnBucket(
            f"{ctx.key}-cdn",
            CdnBucketArgs(cloud=Cloud.CLUSTER, bucket=base, location=ctx.cluster.location,
                          protect=ctx.protect, store=store),
            opts=ctx.k8s_opts(),
        )
        return {
            "store": "seaweedfs",
            "endpoint": dev.hostname,
            "bucket": base,
            "credentials": f"secret {store.credentials_secret} (key s3.json), created with kubectl",
        }
    if not ctx.primary:
        return {"enabled": sizes.enabled, "builtIn": s.active_regions[0]}
    replica_location = None
    if sizes.enabled and sizes.cross_region_replication:
        replica_location = list(cfg.regions.values())[1].location
    signed_url_key = s.secrets.get(SIGNED_URL_KEY)
    bucket = CdnBucket(
        f"{ctx.key}-cdn",
        CdnBucketArgs(
            cloud=Cloud.GCP if target is Target.GKE else Cloud.AWS,
            bucket=base,
            location=ctx.cluster.location,
            protect=ctx.protect,
            replica_location=replica_location,
            domain=cfg.cdn.domain,
            default_ttl_s=sizes.default_ttl_s,
            max_ttl_s=sizes.max_ttl_s,
            gcp_project=cfg.cluster.gcp_project,
            gcp_project_number=cfg.cdn.gcp_project_number,
            signed_url_key=signed_url_key,
            acm_certificate_arn=cfg.cdn.acm_certificate_arn,
            price_class=sizes.price_class,
            cdn=sizes.enabled,
        ),
        opts=_cloud_opts(ctx),
    )
    if not sizes.enabled:
        return {"enabled": False, "bucket": bucket.bucket_name}
    out: dict[str, Any] = {"enabled": True, "bucket": bucket.bucket_name, "hostname": bucket.hostname,
                           "cdnId": bucket.cdn_id}
    if replica_location:
        out["replica"] = {"bucket": cp.bucket_name(base, replica=True), "location": replica_location}
    return out


def _cloud_opts(ctx: RegionContext) -> pulumi.ResourceOptions:
    """The region's AWS provider for every child (``providers=`` reaches a component's children)."""
    p = ctx.cluster.aws_provider
    return pulumi.ResourceOptions(providers=[p]) if p is not None else ctx.cluster.cloud_opts
