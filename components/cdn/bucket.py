"""CdnBucket: a private bucket served only through a CDN, on GCP or AWS; an in-cluster S3 store for dev.

- GCP: a Cloud Storage bucket (uniform access, public access prevention enforced, versioning,
  lifecycle) behind a backend bucket with Cloud CDN, read by the Cloud CDN fill service agent
  (the bucket never becomes public); an HTTPS load balancer (managed certificate, TLS 1.2+ policy,
  global address, forwarding rule on 443) and an HTTP->HTTPS redirect on 80.
- AWS: an S3 bucket (owner-enforced ownership, all four public access blocks, SSE-S3, versioning,
  lifecycle) read only by one CloudFront distribution through Origin Access Control (sigv4, always
  sign); the bucket policy admits that distribution's ARN alone.
- Replication (``replica_location``): GCP a second bucket fed by Storage Transfer Service
  cross-bucket replication; AWS a replica bucket (same account, other region) with S3 replication,
  also CloudFront's failover origin.
- Cluster (target existing): SeaweedFS ``weed server -s3`` as a one-replica StatefulSet with a
  volume, a ClusterIP Service and a NetworkPolicy.

Buckets keep their names across phases, never ``force_destroy``, and are protected when asked. With
``cdn=False`` (GCP, AWS) only the bucket (and on AWS its ownership, public access block, encryption,
versioning and lifecycle) is built: the part keeps it below the CDN's phase, so no phase move deletes it.
"""

from __future__ import annotations

import pulumi

from components.cdn.args import CdnBucketArgs, CdnOutputs, Cloud
from components.cdn.aws import build_aws
from components.cdn.gcp import build_gcp
from components.cdn.store import build_store

TYPE = "phasescale:components:CdnBucket"


class CdnBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    hostname: pulumi.Output[str]
    """What clients use: the CDN's hostname (or the dev store's in-cluster endpoint)."""
    cdn_id: pulumi.Output[str]
    address: pulumi.Output[str]
    """The load balancer's global address (GCP only)."""
    replica_bucket_name: pulumi.Output[str]
    """The replica bucket (GCP and AWS, with ``replica_location`` only)."""

    def __init__(self, name: str, args: CdnBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        out = CdnOutputs()
        if args.cloud is Cloud.GCP:
            build_gcp(self, name, args, out)
        elif args.cloud is Cloud.AWS:
            build_aws(self, name, args, out)
        else:
            build_store(self, name, args, out)
        self.bucket_name, self.hostname, self.cdn_id = out.bucket_name, out.hostname, out.cdn_id
        if out.address is not None:
            self.address = out.address
        if out.replica_bucket_name is not None:
            self.replica_bucket_name = out.replica_bucket_name
        self.register_outputs({"bucket": self.bucket_name, "hostname": self.hostname, "cdn_id": self.cdn_id})
