"""CdnBucket's args and the outputs its cloud builders fill in (``components.cdn.bucket``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi

from components.cdn import plan as cp


class Cloud(StrEnum):
    GCP = "gcp"
    AWS = "aws"
    CLUSTER = "cluster"
    """In-cluster S3-compatible store (development; no CDN)."""


@dataclass(frozen=True)
class CdnBucketArgs:
    cloud: Cloud
    bucket: str
    """Bucket name (global namespace); the replica is ``<bucket>-replica``."""
    location: str
    """GCS location or AWS region of the bucket (the provider's region on AWS)."""
    protect: bool = False
    replica_location: str | None = None
    """Second region for cross-region replication; none: no replica."""
    domain: str | None = None
    """Hostname the CDN serves (required on GCP: the managed certificate is issued for it)."""
    default_ttl_s: int = 3600
    max_ttl_s: int = 86400
    gcp_project: str | None = None
    gcp_project_number: str | None = None
    """Names the Cloud CDN fill and Storage Transfer service agents (GCP)."""
    signed_url_key: pulumi.Input[str] | None = None
    """Cloud CDN signed URL key (base64url, 16 bytes); none: add keys out of band (gcloud)."""
    acm_certificate_arn: str | None = None
    """ACM certificate in us-east-1 for ``domain`` (AWS); none: the *.cloudfront.net name."""
    price_class: str = "PriceClass_200"
    store: cp.StorePlan | None = None
    """The dev store (``Cloud.CLUSTER`` only)."""
    cdn: bool = True
    """GCP / AWS: the CDN in front of the bucket. False: the bucket alone (no replica), so a stack that
    moves below the CDN's phase keeps its bucket and its objects, and moving back up only adds the CDN."""


@dataclass
class CdnOutputs:
    """What a builder (gcp, aws, store) hands back to the component."""

    bucket_name: Any = None
    hostname: Any = None
    cdn_id: Any = None
    address: pulumi.Output[str] | None = None
    replica_bucket_name: pulumi.Output[str] | None = None
