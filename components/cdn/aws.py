"""CdnBucket on AWS: a private S3 bucket read only by a CloudFront distribution (Origin Access
Control), and its replica bucket with S3 replication (see ``components.cdn.bucket``)."""

from __future__ import annotations

import pulumi

from components.cdn import plan as cp
from components.cdn.args import CdnBucketArgs, CdnOutputs
from components.sdk import aws


def _s3_bucket(
    owner: pulumi.ComponentResource,
    base: str,
    child: pulumi.ResourceOptions,
    stateful: pulumi.ResourceOptions,
    suffix: str,
    bucket: str,
    region: str | None,
) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
    """A private, encrypted, versioned bucket; returns it and its settings (dependencies)."""
    name = f"{base}{suffix}"
    extra = {"region": region} if region else {}
    b = aws.s3.Bucket(name, bucket=bucket, force_destroy=False, opts=stateful, **extra)
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=b.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
        **extra,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=b.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
        **extra,
    )
    sse = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-sse",
        bucket=b.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=child,
        **extra,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=b.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
        **extra,
    )
    lifecycle = aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=b.id,
        rules=cp.s3_lifecycle_rules(),
        opts=pulumi.ResourceOptions(parent=owner, depends_on=[versioning]),
        **extra,
    )
    return b, [ownership, block, sse, versioning, lifecycle]


def build_aws(owner: pulumi.ComponentResource, name: str, a: CdnBucketArgs, out: CdnOutputs) -> None:
    """The AWS resources, children of ``owner``; fills ``out``."""
    child = pulumi.ResourceOptions(parent=owner)
    stateful = pulumi.ResourceOptions(parent=owner, protect=a.protect)
    bucket, settings = _s3_bucket(owner, name, child, stateful, "", cp.bucket_name(a.bucket), None)
    out.bucket_name = bucket.bucket
    if not a.cdn:
        return
    oac = aws.cloudfront.OriginAccessControl(
        f"{name}-oac",
        name=a.bucket,
        description=f"CloudFront reads {a.bucket}",
        origin_access_control_origin_type="s3",
        signing_behavior="always",
        signing_protocol="sigv4",
        opts=child,
    )
    origins = [
        {
            "origin_id": "primary",
            "domain_name": bucket.bucket_regional_domain_name,
            "origin_access_control_id": oac.id,
        }
    ]
    origin_groups = []
    target = "primary"
    replica = None
    replica_settings: list[pulumi.Resource] = []
    if a.replica_location:
        replica, replica_settings = _s3_bucket(
            owner, name, child, stateful, "-replica", cp.bucket_name(a.bucket, replica=True), a.replica_location
        )
        origins.append(
            {
                "origin_id": "replica",
                "domain_name": replica.bucket_regional_domain_name,
                "origin_access_control_id": oac.id,
            }
        )
        origin_groups = [
            {
                "origin_id": "primary-then-replica",
                "failover_criteria": {"status_codes": list(cp.FAILOVER_STATUS_CODES)},
                "members": [{"origin_id": "primary"}, {"origin_id": "replica"}],
            }
        ]
        target = "primary-then-replica"
    if a.acm_certificate_arn:
        viewer_certificate: dict[str, object] = {
            "acm_certificate_arn": a.acm_certificate_arn,
            "ssl_support_method": "sni-only",
            "minimum_protocol_version": cp.CLOUDFRONT_TLS_MIN,
        }
    else:
        # The *.cloudfront.net certificate; its TLS floor is CloudFront's, not settable.
        viewer_certificate = {"cloudfront_default_certificate": True}
    distribution = aws.cloudfront.Distribution(
        f"{name}-distribution",
        enabled=True,
        comment=a.bucket,
        aliases=[a.domain] if a.domain else [],
        http_version="http2and3",
        is_ipv6_enabled=True,
        price_class=a.price_class,
        origins=origins,
        origin_groups=origin_groups,
        default_cache_behavior={
            "target_origin_id": target,
            "viewer_protocol_policy": "redirect-to-https",
            "allowed_methods": ["GET", "HEAD", "OPTIONS"],
            "cached_methods": ["GET", "HEAD"],
            "compress": True,
            "cache_policy_id": cp.CLOUDFRONT_CACHING_OPTIMIZED,
            "response_headers_policy_id": cp.CLOUDFRONT_SECURITY_HEADERS,
        },
        restrictions={"geo_restriction": {"restriction_type": "none"}},
        viewer_certificate=viewer_certificate,
        opts=pulumi.ResourceOptions(parent=owner, depends_on=settings + replica_settings),
    )
    for suffix, b, deps in (("", bucket, settings), ("-replica", replica, replica_settings)):
        if b is None:
            continue
        aws.s3.BucketPolicy(
            f"{name}{suffix}-policy",
            bucket=b.id,
            policy=pulumi.Output.all(b.arn, distribution.arn).apply(
                lambda arns: cp.s3_cloudfront_read_policy(arns[0], arns[1])
            ),
            region=a.replica_location if suffix else None,
            opts=pulumi.ResourceOptions(parent=owner, depends_on=deps),
        )
    if replica is not None:
        _s3_replication(owner, name, child, bucket, replica, settings + replica_settings, out)
    out.hostname = pulumi.Output.from_input(a.domain) if a.domain else distribution.domain_name
    out.cdn_id = distribution.id


def _s3_replication(
    owner: pulumi.ComponentResource,
    name: str,
    child: pulumi.ResourceOptions,
    source: aws.s3.Bucket,
    replica: aws.s3.Bucket,
    deps: list[pulumi.Resource],
    out: CdnOutputs,
) -> None:
    role = aws.iam.Role(f"{name}-replication", assume_role_policy=cp.S3_ASSUME_ROLE, opts=child)
    policy = aws.iam.RolePolicy(
        f"{name}-replication",
        role=role.id,
        policy=pulumi.Output.all(source.arn, replica.arn).apply(
            lambda arns: cp.s3_replication_policy(arns[0], arns[1])
        ),
        opts=child,
    )
    aws.s3.BucketReplicationConfig(
        f"{name}-replication",
        bucket=source.id,
        role=role.arn,
        rules=[
            {
                "id": "replica",
                "status": "Enabled",
                "filter": {"prefix": ""},
                "delete_marker_replication": {"status": "Enabled"},
                "destination": {"bucket": replica.arn, "storage_class": "STANDARD"},
            }
        ],
        opts=pulumi.ResourceOptions(parent=owner, depends_on=[*deps, policy]),
    )
    out.replica_bucket_name = replica.bucket
