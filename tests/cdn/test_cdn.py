"""CdnBucket and the cdn part: private buckets behind a CDN per cloud, the dev store, phases, checks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cdn import plan as cp
from components.cdn.args import CdnBucketArgs, Cloud
from components.cdn.bucket import CdnBucket
from infra import plan as planner
from infra.parts import cdn
from infra.settings import Settings, resolve
from tests.planning import k8s_objects, plan_of

CDN_TYPE = "phasescale:components:CdnBucket"
Records = dict[tuple[str, str], planner.Record]


def build(args: CdnBucketArgs) -> Records:
    records = planner.record(lambda: CdnBucket("seoul-cdn", args))
    return {(r.type, r.name): r for r in records}


def gcp_args(**kw: Any) -> CdnBucketArgs:
    base: dict[str, Any] = dict(
        cloud=Cloud.GCP, bucket="acme-prod-cdn", location="asia-northeast3", protect=True,
        domain="cdn.example.com", gcp_project="acme-prod", gcp_project_number="123456789012",
    )
    base.update(kw)
    return CdnBucketArgs(**base)


def aws_args(**kw: Any) -> CdnBucketArgs:
    base: dict[str, Any] = dict(cloud=Cloud.AWS, bucket="acme-prod-cdn", location="ap-northeast-2", protect=True)
    base.update(kw)
    return CdnBucketArgs(**base)


# --- GCP --------------------------------------------------------------------------------------------


def test_gcs_bucket_is_private_versioned_with_lifecycle_and_protected() -> None:
    got = build(gcp_args())
    bucket = got[("gcp:storage/bucket:Bucket", "seoul-cdn")]
    assert bucket.protect is True
    assert bucket.parent == f"{CDN_TYPE}::seoul-cdn"
    assert bucket.inputs == {
        "name": "acme-prod-cdn", "project": "acme-prod", "location": "ASIA-NORTHEAST3", "storageClass": "STANDARD",
        "uniformBucketLevelAccess": True, "publicAccessPrevention": "enforced", "versioning": {"enabled": True},
        "forceDestroy": False,
        "lifecycleRules": [
            {"action": {"type": "Delete"}, "condition": {"daysSinceNoncurrentTime": 30}},
            {"action": {"type": "AbortIncompleteMultipartUpload"}, "condition": {"age": 7}},
        ],
    }
    # Only the Cloud CDN fill agent reads it: no allUsers anywhere.
    members = [r.inputs["member"] for (t, _), r in got.items() if t == "gcp:storage/bucketIAMMember:BucketIAMMember"]
    assert members == ["serviceAccount:service-123456789012@cloud-cdn-fill.iam.gserviceaccount.com"]
    fill = got[("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-cdn-cdn-fill-reader")].inputs
    assert fill["role"] == "roles/storage.objectViewer"


def test_gcp_cdn_https_frontend_and_http_redirect() -> None:
    got = build(gcp_args())
    backend = got[("gcp:compute/backendBucket:BackendBucket", "seoul-cdn-backend")].inputs
    assert backend["enableCdn"] is True and backend["bucketName"] == "acme-prod-cdn"
    assert backend["cdnPolicy"]["cacheMode"] == "CACHE_ALL_STATIC"
    assert backend["cdnPolicy"]["negativeCaching"] is True
    assert (backend["cdnPolicy"]["defaultTtl"], backend["cdnPolicy"]["maxTtl"]) == (3600, 86400)
    cert = got[("gcp:compute/managedSslCertificate:ManagedSslCertificate", "seoul-cdn-cert")].inputs
    assert cert["managed"] == {"domains": ["cdn.example.com"]}
    assert got[("gcp:compute/uRLMap:URLMap", "seoul-cdn-urlmap")].inputs["defaultService"] == "seoul-cdn-backend-id"
    https_proxy = got[("gcp:compute/targetHttpsProxy:TargetHttpsProxy", "seoul-cdn-https-proxy")].inputs
    assert https_proxy["sslCertificates"] == ["seoul-cdn-cert-id"]
    assert https_proxy["sslPolicy"] == "seoul-cdn-tls-id"
    tls = got[("gcp:compute/sSLPolicy:SSLPolicy", "seoul-cdn-tls")].inputs
    assert (tls["minTlsVersion"], tls["profile"]) == ("TLS_1_2", "MODERN")
    rules = {
        name: r.inputs for (t, name), r in got.items() if t == "gcp:compute/globalForwardingRule:GlobalForwardingRule"
    }
    assert {n: (r["portRange"], r["target"]) for n, r in rules.items()} == {
        "seoul-cdn-https": ("443", "seoul-cdn-https-proxy-id"),
        "seoul-cdn-http": ("80", "seoul-cdn-http-proxy-id"),
    }
    assert {r["loadBalancingScheme"] for r in rules.values()} == {"EXTERNAL_MANAGED"}
    redirect = got[("gcp:compute/uRLMap:URLMap", "seoul-cdn-redirect")].inputs
    assert redirect["defaultUrlRedirect"]["httpsRedirect"] is True
    assert "defaultService" not in redirect
    assert got[("gcp:compute/targetHttpProxy:TargetHttpProxy", "seoul-cdn-http-proxy")].inputs["urlMap"] == (
        "seoul-cdn-redirect-id"
    )


def test_gcp_signed_url_key_is_secret_and_precedes_the_fill_grant() -> None:
    got = build(gcp_args(signed_url_key="c2VjcmV0LWtleS0xMjM0NQ=="))
    key = got[("gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey", "seoul-cdn-signed-url-key")]
    assert key.inputs["keyValue"] == planner.REDACTED
    assert ("gcp:compute/backendBucketSignedUrlKey:BackendBucketSignedUrlKey", "seoul-cdn-signed-url-key") not in (
        build(gcp_args())
    )


def test_gcs_replication_is_a_second_bucket_fed_by_storage_transfer() -> None:
    got = build(gcp_args(replica_location="asia-northeast1"))
    replica = got[("gcp:storage/bucket:Bucket", "seoul-cdn-replica")]
    assert replica.protect is True
    assert (replica.inputs["name"], replica.inputs["location"]) == ("acme-prod-cdn-replica", "ASIA-NORTHEAST1")
    assert replica.inputs["publicAccessPrevention"] == "enforced"
    job = got[("gcp:storage/transferJob:TransferJob", "seoul-cdn-replication")].inputs
    assert job["replicationSpec"] == {
        "gcsDataSource": {"bucketName": "acme-prod-cdn"}, "gcsDataSink": {"bucketName": "acme-prod-cdn-replica"},
    }
    agent = "serviceAccount:project-123456789012@storage-transfer-service.iam.gserviceaccount.com"
    grants = {
        r.inputs["bucket"] for (t, _), r in got.items()
        if t == "gcp:storage/bucketIAMMember:BucketIAMMember" and r.inputs["member"] == agent
    }
    assert grants == {"acme-prod-cdn", "acme-prod-cdn-replica"}
    assert ("gcp:storage/transferJob:TransferJob", "seoul-cdn-replication") not in build(gcp_args())


# --- AWS --------------------------------------------------------------------------------------------


def test_s3_bucket_blocks_public_access_encrypts_versions_and_expires_old_versions() -> None:
    got = build(aws_args())
    bucket = got[("aws:s3/bucket:Bucket", "seoul-cdn")]
    assert bucket.protect is True
    assert bucket.inputs == {"bucket": "acme-prod-cdn", "forceDestroy": False}
    block = got[("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "seoul-cdn-public-access")].inputs
    assert block == {
        "bucket": "seoul-cdn-id", "blockPublicAcls": True, "blockPublicPolicy": True,
        "ignorePublicAcls": True, "restrictPublicBuckets": True,
    }
    own = got[("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "seoul-cdn-ownership")].inputs
    assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    sse = got[("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "seoul-cdn-sse")]
    assert sse.inputs["rules"] == [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]
    ver = got[("aws:s3/bucketVersioning:BucketVersioning", "seoul-cdn-versioning")].inputs
    assert ver["versioningConfiguration"] == {"status": "Enabled"}
    life = got[("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "seoul-cdn-lifecycle")].inputs
    (rule,) = life["rules"]
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_cloudfront_reads_through_oac_and_the_policy_admits_that_distribution_alone() -> None:
    got = build(aws_args())
    oac = got[("aws:cloudfront/originAccessControl:OriginAccessControl", "seoul-cdn-oac")].inputs
    assert (oac["originAccessControlOriginType"], oac["signingBehavior"], oac["signingProtocol"]) == (
        "s3", "always", "sigv4",
    )
    dist = got[("aws:cloudfront/distribution:Distribution", "seoul-cdn-distribution")].inputs
    assert [(o["originId"], o["originAccessControlId"]) for o in dist["origins"]] == [("primary", "seoul-cdn-oac-id")]
    assert not any("s3OriginConfig" in o for o in dist["origins"])  # no legacy OAI
    behaviour = dist["defaultCacheBehavior"]
    assert behaviour["viewerProtocolPolicy"] == "redirect-to-https"
    assert behaviour["compress"] is True
    assert behaviour["cachePolicyId"] == cp.CLOUDFRONT_CACHING_OPTIMIZED
    assert behaviour["allowedMethods"] == ["GET", "HEAD", "OPTIONS"]
    assert (dist["httpVersion"], dist["isIpv6Enabled"], dist["priceClass"]) == ("http2and3", True, "PriceClass_200")
    assert dist["viewerCertificate"] == {"cloudfrontDefaultCertificate": True}
    policy = json.loads(got[("aws:s3/bucketPolicy:BucketPolicy", "seoul-cdn-policy")].inputs["policy"])
    allow, deny = policy["Statement"]
    assert allow == {
        "Sid": "CloudFrontOriginAccessControlRead", "Effect": "Allow",
        "Principal": {"Service": "cloudfront.amazonaws.com"}, "Action": "s3:GetObject",
        "Resource": "arn:aws:mock:::seoul-cdn/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": "arn:aws:mock:::seoul-cdn-distribution"}},
    }
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cloudfront_custom_domain_uses_the_acm_certificate_with_tls_1_2_2021() -> None:
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    dist = build(aws_args(domain="cdn.example.com", acm_certificate_arn=arn))[
        ("aws:cloudfront/distribution:Distribution", "seoul-cdn-distribution")
    ].inputs
    assert dist["aliases"] == ["cdn.example.com"]
    assert dist["viewerCertificate"] == {
        "acmCertificateArn": arn, "sslSupportMethod": "sni-only", "minimumProtocolVersion": "TLSv1.2_2021",
    }


def test_s3_replica_in_the_second_region_replicates_and_is_the_failover_origin() -> None:
    got = build(aws_args(replica_location="ap-northeast-1"))
    replica = got[("aws:s3/bucket:Bucket", "seoul-cdn-replica")]
    assert replica.protect is True
    assert replica.inputs == {"bucket": "acme-prod-cdn-replica", "forceDestroy": False, "region": "ap-northeast-1"}
    for child in ("public-access", "ownership", "sse", "versioning", "lifecycle", "policy"):
        settings = [r for (_, n), r in got.items() if n == f"seoul-cdn-replica-{child}"]
        assert [r.inputs.get("region") for r in settings] == ["ap-northeast-1"], child
    rep = got[("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "seoul-cdn-replication")].inputs
    assert rep["role"] == "arn:aws:mock:::seoul-cdn-replication"
    (rule,) = rep["rules"]
    assert rule["destination"]["bucket"] == "arn:aws:mock:::seoul-cdn-replica"
    assert rule["status"] == "Enabled"
    role = got[("aws:iam/role:Role", "seoul-cdn-replication")].inputs
    assert json.loads(role["assumeRolePolicy"])["Statement"][0]["Principal"] == {"Service": "s3.amazonaws.com"}
    actions = json.loads(got[("aws:iam/rolePolicy:RolePolicy", "seoul-cdn-replication")].inputs["policy"])
    assert actions["Statement"][2] == {
        "Effect": "Allow", "Action": ["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
        "Resource": "arn:aws:mock:::seoul-cdn-replica/*",
    }
    dist = got[("aws:cloudfront/distribution:Distribution", "seoul-cdn-distribution")].inputs
    assert dist["defaultCacheBehavior"]["targetOriginId"] == "primary-then-replica"
    assert dist["originGroups"][0]["members"] == [{"originId": "primary"}, {"originId": "replica"}]
    replica_policy = json.loads(got[("aws:s3/bucketPolicy:BucketPolicy", "seoul-cdn-replica-policy")].inputs["policy"])
    assert replica_policy["Statement"][0]["Condition"] == {
        "StringEquals": {"AWS:SourceArn": "arn:aws:mock:::seoul-cdn-distribution"}
    }


# --- The stacks: phases, regions, protection ------------------------------------------------------------


BUCKET_ONLY = {
    "aws:s3/bucket:Bucket": ["seoul-cdn"],
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": ["seoul-cdn-ownership"],
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": ["seoul-cdn-public-access"],
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": ["seoul-cdn-sse"],
    "aws:s3/bucketVersioning:BucketVersioning": ["seoul-cdn-versioning"],
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": ["seoul-cdn-lifecycle"],
}


def test_eks_stack_cdn_is_off_in_phase_2_on_in_3_and_replicated_in_4() -> None:
    def cdn_of(phase: int) -> list[planner.Record]:
        return [r for r in plan_of("prod-aws", phase).records if r.parent == f"{CDN_TYPE}::seoul-cdn"]

    # Below the CDN's phase: the bucket alone (kept, so 3 -> 2 deletes no bucket), no distribution.
    for phase in (1, 2):
        got: dict[str, list[str]] = {}
        for r in cdn_of(phase):
            got.setdefault(r.type, []).append(r.name)
        assert got == BUCKET_ONLY, phase
    three = {r.name: r for r in cdn_of(3)}
    assert {r.name: r.inputs for r in cdn_of(2)} == {n: three[n].inputs for n in three if n in
                                                     {x for names in BUCKET_ONLY.values() for x in names}}
    assert three["seoul-cdn"].inputs["bucket"] == "phasescale-prod-aws-cdn"
    assert three["seoul-cdn"].protect is True  # production
    assert {r.provider for r in three.values()} == {"seoul-aws"}
    assert "seoul-cdn-replica" not in three
    four = {r.name: r for r in cdn_of(4)}
    assert four["seoul-cdn-replica"].inputs["region"] == "ap-northeast-1"
    assert "seoul-cdn-replication" in four
    # One CDN, in the primary region only; the bucket keeps its name from phase 3 to 4.
    assert [r.name for r in plan_of("prod-aws", 4).of_type(CDN_TYPE)] == ["seoul-cdn"]
    assert four["seoul-cdn"].inputs == three["seoul-cdn"].inputs


def _settings(stack: str, phase: int, **cdn_cfg: Any) -> Settings:
    """The stack file at ``phase`` with exactly ``cdn_cfg`` as its ``phasescale:cdn`` (whatever the file says)."""
    raw, secret = planner.read_stack_config(planner.stack_file(stack))
    raw["phasescale:cdn"] = json.dumps(cdn_cfg)
    return resolve(raw, secret, phase)


def test_gke_needs_a_domain_and_the_project_number_once_the_cdn_is_on() -> None:
    assert cdn.validate(_settings("prod", 2)) == []
    assert [p.render() for p in cdn.validate(_settings("prod", 3))] == [
        "phasescale:cdn.domain: got None; required on gke from the CDN's phase: the Google-managed certificate "
        "is issued for it (e.g. cdn.example.com)",
        "phasescale:cdn.gcpProjectNumber: got None; required on gke from the CDN's phase: Cloud CDN reads the "
        "private bucket as service-<number>@cloud-cdn-fill; gcloud projects describe <project> "
        "--format='value(projectNumber)'",
    ]
    assert cdn.validate(_settings("prod", 4, domain="cdn.example.com", gcpProjectNumber="123456789012")) == []


def test_eks_custom_domain_needs_a_us_east_1_certificate() -> None:
    assert cdn.validate(_settings("prod-aws", 3)) == []
    assert [p.path for p in cdn.validate(_settings("prod-aws", 3, domain="cdn.example.com"))] == [
        "phasescale:cdn.acmCertificateArn"
    ]
    wrong = "arn:aws:acm:ap-northeast-2:123456789012:certificate/0f0e0d0c-0b0a-0908-0706-050403020100"
    (problem,) = cdn.validate(_settings("prod-aws", 3, domain="cdn.example.com", acmCertificateArn=wrong))
    assert problem.value == wrong and "us-east-1" in problem.expected


def test_replication_without_a_second_region_is_refused() -> None:
    raw, secret = planner.read_stack_config(planner.stack_file("prod-aws"))
    raw["phasescale:regions"] = json.dumps({"seoul": {"location": "ap-northeast-2"}})
    (problem,) = cdn.validate(resolve(raw, secret, 4))
    assert problem.path == "phasescale:regions" and "second region" in problem.expected


# --- The dev store (target existing) -----------------------------------------------------------------


def test_dev_stack_gets_a_hardened_in_cluster_s3_store_at_phase_1() -> None:
    plan = plan_of("dev")
    sts = k8s_objects(plan, "StatefulSet")["local-k8s/cdn-store"]
    spec = sts["spec"]
    assert spec["replicas"] == 1
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "chrislusf/seaweedfs:4.44"
    assert "minio" not in c["image"] and "bitnami" not in c["image"]
    assert c["command"] == ["weed"] and "-s3" in c["args"] and "-s3.config=/etc/seaweedfs/s3.json" in c["args"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    assert {v["name"]: v.get("secret", {}).get("secretName") for v in pod["volumes"]}["config"] == (
        "cdn-store-s3-config"
    )
    svc = k8s_objects(plan, "Service")["local-k8s/cdn-store"]["spec"]
    assert svc["type"] == "ClusterIP" and svc["ports"] == [
        {"name": "s3", "port": 8333, "targetPort": "s3", "protocol": "TCP"}
    ]
    np = k8s_objects(plan, "NetworkPolicy")["local-k8s/cdn-store"]["spec"]
    assert np["ingress"] == [{"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": 8333}]}]
    assert not [r for r in plan.records if r.type.startswith(("aws:", "gcp:")) and "cdn" in r.name]


@pytest.mark.parametrize(
    ("base", "replica", "expected"),
    [("acme-prod-cdn", False, "acme-prod-cdn"), ("acme-prod-cdn", True, "acme-prod-cdn-replica")],
)
def test_bucket_names_never_carry_the_phase(base: str, replica: bool, expected: str) -> None:
    assert cp.bucket_name(base, replica) == expected
    assert len(cp.default_bucket_base("a" * 40, "b" * 40)) <= 54
