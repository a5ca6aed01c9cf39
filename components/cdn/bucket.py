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

Buckets keep their names across phases, never ``force_destroy``, and are protected when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import kube
from components.cdn import plan as cp

TYPE = "phasescale:components:CdnBucket"


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


class CdnBucket(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    hostname: pulumi.Output[str]
    """What clients use: the CDN's hostname (or the dev store's in-cluster endpoint)."""
    cdn_id: pulumi.Output[str]

    def __init__(self, name: str, args: CdnBucketArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name = name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)
        self._stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        if args.cloud is Cloud.GCP:
            self._gcp()
        elif args.cloud is Cloud.AWS:
            self._aws()
        else:
            self._cluster()
        self.register_outputs({"bucket": self.bucket_name, "hostname": self.hostname, "cdn_id": self.cdn_id})

    # --- GCP ---------------------------------------------------------------------------------------

    def _gcs_bucket(self, suffix: str, bucket: str, location: str) -> gcp.storage.Bucket:
        return gcp.storage.Bucket(
            f"{self._name}{suffix}",
            name=bucket,
            project=self._args.gcp_project,
            location=location.upper(),
            storage_class="STANDARD",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            versioning={"enabled": True},
            lifecycle_rules=cp.gcs_lifecycle_rules(),
            force_destroy=False,
            opts=self._stateful,
        )

    def _gcp(self) -> None:
        a, name, child = self._args, self._name, self._child
        assert a.domain and a.gcp_project and a.gcp_project_number, "checked by the cdn part's validate()"
        project, number = a.gcp_project, a.gcp_project_number
        bucket = self._gcs_bucket("", cp.bucket_name(a.bucket), a.location)
        backend = gcp.compute.BackendBucket(
            f"{name}-backend",
            name=f"{a.bucket}-backend",
            project=project,
            bucket_name=bucket.name,
            enable_cdn=True,
            compression_mode="AUTOMATIC",
            cdn_policy=cp.gcs_cdn_policy(a.default_ttl_s, a.max_ttl_s),
            opts=child,
        )
        fill_deps: list[pulumi.Resource] = []
        if a.signed_url_key is not None:
            # Adding the first key creates the fill service agent the grant below names.
            fill_deps.append(
                gcp.compute.BackendBucketSignedUrlKey(
                    f"{name}-signed-url-key",
                    name=f"{a.bucket}-key",
                    project=project,
                    backend_bucket=backend.name,
                    key_value=pulumi.Output.secret(a.signed_url_key),
                    opts=child,
                )
            )
        gcp.storage.BucketIAMMember(
            f"{name}-cdn-fill-reader",
            bucket=bucket.name,
            role="roles/storage.objectViewer",
            member=cp.CDN_FILL_MEMBER.format(number=number),
            opts=pulumi.ResourceOptions(parent=self, depends_on=fill_deps),
        )
        address = gcp.compute.GlobalAddress(
            f"{name}-ip", name=f"{a.bucket}-ip", project=project, ip_version="IPV4", opts=child
        )
        cert = gcp.compute.ManagedSslCertificate(
            f"{name}-cert",
            name=f"{a.bucket}-cert",
            project=project,
            managed={"domains": [a.domain]},
            opts=child,
        )
        tls = gcp.compute.SSLPolicy(
            f"{name}-tls",
            name=f"{a.bucket}-tls",
            project=project,
            min_tls_version="TLS_1_2",
            profile="MODERN",
            opts=child,
        )
        url_map = gcp.compute.URLMap(
            f"{name}-urlmap",
            name=f"{a.bucket}-urlmap",
            project=project,
            default_service=backend.id,
            opts=child,
        )
        https_proxy = gcp.compute.TargetHttpsProxy(
            f"{name}-https-proxy",
            name=f"{a.bucket}-https-proxy",
            project=project,
            url_map=url_map.id,
            ssl_certificates=[cert.id],
            ssl_policy=tls.id,
            opts=child,
        )
        https_rule = gcp.compute.GlobalForwardingRule(
            f"{name}-https",
            name=f"{a.bucket}-https",
            project=project,
            target=https_proxy.id,
            ip_address=address.address,
            ip_protocol="TCP",
            port_range="443",
            load_balancing_scheme="EXTERNAL_MANAGED",
            opts=child,
        )
        redirect_map = gcp.compute.URLMap(
            f"{name}-redirect",
            name=f"{a.bucket}-redirect",
            project=project,
            default_url_redirect={
                "https_redirect": True,
                "redirect_response_code": "MOVED_PERMANENTLY_DEFAULT",
                "strip_query": False,
            },
            opts=child,
        )
        http_proxy = gcp.compute.TargetHttpProxy(
            f"{name}-http-proxy",
            name=f"{a.bucket}-http-proxy",
            project=project,
            url_map=redirect_map.id,
            opts=child,
        )
        gcp.compute.GlobalForwardingRule(
            f"{name}-http",
            name=f"{a.bucket}-http",
            project=project,
            target=http_proxy.id,
            ip_address=address.address,
            ip_protocol="TCP",
            port_range="80",
            load_balancing_scheme="EXTERNAL_MANAGED",
            opts=child,
        )
        if a.replica_location:
            self._gcs_replica(bucket, a.replica_location, project, number)
        self.bucket_name = bucket.name
        self.hostname = pulumi.Output.from_input(a.domain)
        self.cdn_id = https_rule.id
        self.address = address.address

    def _gcs_replica(self, source: gcp.storage.Bucket, location: str, project: str, number: str) -> None:
        """Cross-bucket replication (Storage Transfer Service): new and changed objects are copied to
        a bucket in the second region. A location change of the primary would replace it, so the
        primary's location stays and the replica is a bucket of its own."""
        name, child = self._name, self._child
        replica = self._gcs_bucket("-replica", cp.bucket_name(self._args.bucket, replica=True), location)
        transfer_agent = cp.TRANSFER_MEMBER.format(number=number)
        grants: list[pulumi.Resource] = [
            gcp.storage.BucketIAMMember(
                f"{name}-{which}-transfer-admin",
                bucket=b.name,
                role="roles/storage.admin",  # reads/writes objects and manages the change notifications
                member=transfer_agent,
                opts=child,
            )
            for which, b in (("source", source), ("replica", replica))
        ]
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-transfer-pubsub",
                project=project,
                role="roles/pubsub.editor",
                member=transfer_agent,
                opts=child,
            )
        )
        grants.append(
            gcp.projects.IAMMember(
                f"{name}-gcs-pubsub",
                project=project,
                role="roles/pubsub.publisher",
                member=cp.GCS_AGENT_MEMBER.format(number=number),
                opts=child,
            )
        )
        gcp.storage.TransferJob(
            f"{name}-replication",
            project=project,
            description=f"replicate {self._args.bucket} to {location}",
            replication_spec={
                "gcs_data_source": {"bucket_name": source.name},
                "gcs_data_sink": {"bucket_name": replica.name},
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.replica_bucket_name = replica.name

    # --- AWS ---------------------------------------------------------------------------------------

    def _s3_bucket(
        self, suffix: str, bucket: str, region: str | None
    ) -> tuple[aws.s3.Bucket, list[pulumi.Resource]]:
        """A private, encrypted, versioned bucket; returns it and its settings (dependencies)."""
        name, child = f"{self._name}{suffix}", self._child
        extra = {"region": region} if region else {}
        b = aws.s3.Bucket(name, bucket=bucket, force_destroy=False, opts=self._stateful, **extra)
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
            **extra,
        )
        return b, [ownership, block, sse, versioning, lifecycle]

    def _aws(self) -> None:
        a, name, child = self._args, self._name, self._child
        bucket, settings = self._s3_bucket("", cp.bucket_name(a.bucket), None)
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
            replica, replica_settings = self._s3_bucket(
                "-replica", cp.bucket_name(a.bucket, replica=True), a.replica_location
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=settings + replica_settings),
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
                opts=pulumi.ResourceOptions(parent=self, depends_on=deps),
            )
        if replica is not None:
            self._s3_replication(bucket, replica, settings + replica_settings)
        self.bucket_name = bucket.bucket
        self.hostname = pulumi.Output.from_input(a.domain) if a.domain else distribution.domain_name
        self.cdn_id = distribution.id

    def _s3_replication(
        self, source: aws.s3.Bucket, replica: aws.s3.Bucket, deps: list[pulumi.Resource]
    ) -> None:
        name, child = self._name, self._child
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*deps, policy]),
        )
        self.replica_bucket_name = replica.bucket

    # --- Cluster (dev) -----------------------------------------------------------------------------

    def _cluster(self) -> None:
        plan = self._args.store
        assert plan is not None, "Cloud.CLUSTER needs a StorePlan"
        name, child = self._name, self._child
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
            opts=self._stateful,
        )
        k8s.core.v1.Service(f"{name}-svc", metadata=meta(), spec=cp.store_service_spec(plan), opts=child)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(), spec=cp.store_network_policy_spec(plan), opts=child
        )
        self.bucket_name = pulumi.Output.from_input(self._args.bucket)
        self.hostname = pulumi.Output.from_input(cp.store_endpoint(plan))
        self.cdn_id = pulumi.Output.from_input("")  # no CDN in front of the dev store
