"""Private backup buckets, the same on every component that keeps backups (PostgreSQL, Redis).

Not a ComponentResource: the bucket is a child of the component whose data it holds, named after it
(``<name>``, ``<name>-ownership``, ...), so moving a component's bucket here changed no URN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi

from components.sdk import aws, gcp


def gcs_bucket(
    name: str,
    bucket_name: str,
    project: str,
    location: str,
    lifecycle_rules: Sequence[dict[str, Any]],
    opts: pulumi.ResourceOptions,
    versioning: bool = False,
) -> gcp.storage.Bucket:
    """Uniform access, public access prevented, never force-destroyed; ``opts`` carries ``protect``."""
    return gcp.storage.Bucket(
        name,
        name=bucket_name,
        project=project,
        location=location.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": versioning},
        lifecycle_rules=list(lifecycle_rules),
        force_destroy=False,
        opts=opts,
    )


def s3_bucket(
    name: str,
    bucket_name: str,
    lifecycle_rules: Sequence[dict[str, Any]],
    data_opts: pulumi.ResourceOptions,
    parent: pulumi.Resource,
    versioning: bool = False,
) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
    """The bucket (``data_opts`` carries ``protect``) and its settings: owner-enforced, no public access,
    KMS encryption with a bucket key, optional versioning, the lifecycle rules."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, bucket=bucket_name, force_destroy=False, opts=data_opts)
    settings: list[pulumi.Resource] = [
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        ),
        aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child,
        ),
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse", bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "aws:kms"}, "bucket_key_enabled": True}],
            opts=child,
        ),
    ]
    after: list[pulumi.Resource] = []
    if versioning:
        after.append(aws.s3.BucketVersioning(
            f"{name}-versioning", bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        ))
    settings += after
    settings.append(
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle", bucket=bucket.id, rules=list(lifecycle_rules),
            opts=pulumi.ResourceOptions(parent=parent, depends_on=after),
        )
    )
    return bucket, settings
