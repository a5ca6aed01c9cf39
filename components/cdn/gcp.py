"""CdnBucket on GCP: a Cloud Storage bucket behind Cloud CDN and an HTTPS load balancer, and its
Storage Transfer replica (see ``components.cdn.bucket``)."""

from __future__ import annotations

import pulumi

from components.cdn import plan as cp
from components.cdn.args import CdnBucketArgs, CdnOutputs
from components.sdk import gcp


def _gcs_bucket(
    name: str, a: CdnBucketArgs, stateful: pulumi.ResourceOptions, suffix: str, bucket: str, location: str
) -> gcp.storage.Bucket:
    return gcp.storage.Bucket(
        f"{name}{suffix}",
        name=bucket,
        project=a.gcp_project,
        location=location.upper(),
        storage_class="STANDARD",
        uniform_bucket_level_access=True,
        public_access_prevention="enforced",
        versioning={"enabled": True},
        lifecycle_rules=cp.gcs_lifecycle_rules(),
        force_destroy=False,
        opts=stateful,
    )


def build_gcp(owner: pulumi.ComponentResource, name: str, a: CdnBucketArgs, out: CdnOutputs) -> None:
    """The GCP resources, children of ``owner``; fills ``out``."""
    child = pulumi.ResourceOptions(parent=owner)
    stateful = pulumi.ResourceOptions(parent=owner, protect=a.protect)
    bucket = _gcs_bucket(name, a, stateful, "", cp.bucket_name(a.bucket), a.location)
    out.bucket_name = bucket.name
    if not a.cdn:
        return
    assert a.domain and a.gcp_project and a.gcp_project_number, "checked by the cdn part's validate()"
    project, number = a.gcp_project, a.gcp_project_number
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
        opts=pulumi.ResourceOptions(parent=owner, depends_on=fill_deps),
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
        _gcs_replica(owner, name, a, child, stateful, bucket, a.replica_location, project, number, out)
    out.hostname = pulumi.Output.from_input(a.domain)
    out.cdn_id = https_rule.id
    out.address = address.address


def _gcs_replica(
    owner: pulumi.ComponentResource,
    name: str,
    a: CdnBucketArgs,
    child: pulumi.ResourceOptions,
    stateful: pulumi.ResourceOptions,
    source: gcp.storage.Bucket,
    location: str,
    project: str,
    number: str,
    out: CdnOutputs,
) -> None:
    """Cross-bucket replication (Storage Transfer Service): new and changed objects are copied to
    a bucket in the second region. A location change of the primary would replace it, so the
    primary's location stays and the replica is a bucket of its own."""
    replica = _gcs_bucket(name, a, stateful, "-replica", cp.bucket_name(a.bucket, replica=True), location)
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
        description=f"replicate {a.bucket} to {location}",
        replication_spec={
            "gcs_data_source": {"bucket_name": source.name},
            "gcs_data_sink": {"bucket_name": replica.name},
        },
        opts=pulumi.ResourceOptions(parent=owner, depends_on=grants),
    )
    out.replica_bucket_name = replica.name
