"""MilvusCluster and the milvus part: children, the CR per phase and target, bucket security, the
phase-3 move named as stateful, and validation messages.

The stack-level tests read the cached plans of the real stack files (``tests.planning.plan_of``).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.milvus import plan as mp
from components.milvus.cluster import MilvusCluster, MilvusClusterArgs
from infra import diff
from infra import plan as planner
from infra.parts import milvus as part
from infra.settings import Settings
from tests.planning import plan_of

CR = "kubernetes:milvus.io/v1beta1:Milvus"
COMPONENT = "phasescale:components:MilvusCluster"


def milvus_plan_of(stack: str, phase: int) -> planner.Plan:
    return plan_of(stack, phase)  # shared with test_stacks: planned once per test process


def cr(stack: str, phase: int, region: str = "seoul") -> dict[str, Any]:
    return milvus_plan_of(stack, phase).named(CR, f"{region}-milvus").inputs


def base_plan(**kw: Any) -> mp.MilvusPlan:
    args: dict[str, Any] = dict(
        name="seoul-milvus", namespace="milvus", image="milvusdb/milvus:v2.6.15", mode=mp.Mode.STANDALONE,
        storage=mp.Storage.MINIO, service_account="milvus", etcd_image=("milvusdb/etcd", "3.5.25-r1"),
        minio_image=("minio/minio", "RELEASE.2024-12-18T13-15-44Z"),
    )
    args.update(kw)
    return mp.MilvusPlan(**args)


def build(plan: mp.MilvusPlan, **kw: Any) -> dict[tuple[str, str], planner.Record]:
    records = planner.record(lambda: MilvusCluster("seoul-milvus", MilvusClusterArgs(plan=plan, **kw)))
    return {(r.type, r.name): r for r in records}


# --- the component ------------------------------------------------------------------------------


def test_component_children_and_protection() -> None:
    got = build(base_plan(), monitor_labels={"release": "monitoring"}, protect=True)
    assert sorted(got) == [
        ("kubernetes:core/v1:Namespace", "seoul-milvus-ns"),
        ("kubernetes:core/v1:ServiceAccount", "seoul-milvus-sa"),
        ("kubernetes:milvus.io/v1beta1:Milvus", "seoul-milvus"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-milvus-monitor"),
        (COMPONENT, "seoul-milvus"),
    ]
    protected = sorted(name for (_, name), r in got.items() if r.protect)
    assert protected == ["seoul-milvus", "seoul-milvus-ns"]  # the CR and the namespace holding its volumes
    for (type_, _), rec in got.items():
        if type_ != COMPONENT:
            assert rec.parent == f"{COMPONENT}::seoul-milvus"
    ns = got[("kubernetes:core/v1:Namespace", "seoul-milvus-ns")].inputs["metadata"]
    assert ns["name"] == "milvus"
    assert ns["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert ns["labels"]["pod-security.kubernetes.io/warn"] == "restricted"
    sa = got[("kubernetes:core/v1:ServiceAccount", "seoul-milvus-sa")].inputs
    assert sa["automountServiceAccountToken"] is False
    assert "annotations" not in sa["metadata"]


def test_no_pod_monitor_without_monitoring_and_identity_annotation_on_the_service_account() -> None:
    got = build(base_plan(storage=mp.Storage.S3, bucket="b", region="ap-northeast-2"),
                service_account_annotations={"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"})
    assert not [k for k in got if k[0].endswith("PodMonitor")]
    sa = got[("kubernetes:core/v1:ServiceAccount", "seoul-milvus-sa")].inputs["metadata"]
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/r"}
    assert not got[(CR, "seoul-milvus")].protect


def test_pod_monitor_scrapes_port_9091_by_the_operator_labels() -> None:
    mon = build(base_plan(), monitor_labels={"release": "monitoring"})[
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-milvus-monitor")
    ].inputs
    assert mon["metadata"]["labels"]["release"] == "monitoring"
    assert mon["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/instance": "seoul-milvus", "app.kubernetes.io/name": "milvus"}
    }
    assert mon["spec"]["namespaceSelector"] == {"matchNames": ["milvus"]}
    # The operator names the 9091 container port "metrics"; its own PodMonitor is off (wrong labels).
    assert mon["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "15s"}]


def test_standalone_spec_minio_woodpecker_and_retained_dependencies() -> None:
    spec = mp.milvus_spec(base_plan())
    assert spec["mode"] == "standalone"
    com = spec["components"]
    assert com["standalone"] == {
        "replicas": 1,
        "resources": {"requests": {"cpu": "1000m", "memory": "4096Mi"}, "limits": {"cpu": "2000m", "memory": "4096Mi"}},
    }
    assert not {"proxy", "queryNode", "dataNode", "streamingNode", "mixCoord"} & set(com)
    assert com["disableMetric"] is True
    assert com["runAsNonRoot"] is True
    assert com["securityContext"]["allowPrivilegeEscalation"] is False
    assert com["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert com["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    dep = spec["dependencies"]
    assert dep["msgStreamType"] == "woodpecker"
    assert dep["etcd"]["inCluster"]["deletionPolicy"] == "Retain"
    assert dep["etcd"]["inCluster"]["pvcDeletion"] is False
    etcd = dep["etcd"]["inCluster"]["values"]
    assert etcd["replicaCount"] == 1
    assert etcd["persistence"] == {"enabled": True, "size": "10Gi"}
    assert dep["storage"]["type"] == "MinIO"
    assert dep["storage"]["external"] is False
    minio = dep["storage"]["inCluster"]["values"]
    assert (minio["mode"], minio["persistence"]["size"]) == ("standalone", "50Gi")
    assert minio["image"]["tag"] == "RELEASE.2024-12-18T13-15-44Z"
    assert spec["config"] == {"minio": {"rootPath": "milvus"}}


# --- the part on the real stack files ------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod", "prod-aws"])
def test_standalone_at_phases_1_and_2_cluster_from_3_with_growing_query_nodes(stack: str) -> None:
    region = "local" if stack == "dev" else "seoul"
    modes = [cr(stack, p, region)["spec"]["mode"] for p in (1, 2, 3, 4)]
    assert modes == ["standalone", "standalone", "cluster", "cluster"]
    assert {cr(stack, p, region)["metadata"]["name"] for p in (1, 2, 3, 4)} == {f"{region}-milvus"}
    com3, com4 = cr(stack, 3, region)["spec"]["components"], cr(stack, 4, region)["spec"]["components"]
    counts = [
        {role: com[role]["replicas"] for role in ("queryNode", "dataNode", "streamingNode", "proxy", "mixCoord")}
        for com in (com3, com4)
    ]
    assert counts == [
        {"queryNode": 2, "dataNode": 2, "streamingNode": 2, "proxy": 2, "mixCoord": 1},
        {"queryNode": 4, "dataNode": 3, "streamingNode": 3, "proxy": 3, "mixCoord": 1},
    ]
    assert com4["queryNode"]["resources"]["requests"]["memory"] == "16384Mi"
    assert "standalone" not in com3
    etcd = cr(stack, 3, region)["spec"]["dependencies"]["etcd"]["inCluster"]["values"]
    assert etcd["replicaCount"] == 3 and etcd["pdb"] == {"create": True}
    for p in (1, 3):
        spec = cr(stack, p, region)["spec"]
        assert spec["components"]["image"] == "milvusdb/milvus:v2.6.15"
        assert spec["dependencies"]["msgStreamType"] == "woodpecker"


def test_cr_depends_on_the_operator_release_and_is_protected_in_production() -> None:
    plan = milvus_plan_of("prod", 2)
    rel = plan.named("kubernetes:helm.sh/v3:Release", "seoul-milvus-operator").inputs
    assert (rel["chart"], rel["version"], rel["namespace"]) == ("milvus-operator", "1.3.8", "milvus-operator")
    assert rel["values"]["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert plan.named(CR, "seoul-milvus").protect
    assert plan.named(CR, "seoul-milvus").provider == "seoul-k8s"
    assert not milvus_plan_of("dev", 1).named(CR, "local-milvus").protect


def test_existing_target_uses_in_cluster_minio_and_no_cloud_bucket() -> None:
    plan = milvus_plan_of("dev", 3)
    assert not [r for r in plan.records if r.type.startswith(("aws:", "gcp:"))]
    storage = cr("dev", 3, "local")["spec"]["dependencies"]["storage"]
    assert storage["type"] == "MinIO"
    assert storage["inCluster"]["values"]["mode"] == "distributed"
    assert storage["inCluster"]["values"]["persistence"]["size"] == "200Gi"


def test_eks_private_versioned_encrypted_s3_bucket_reached_through_irsa() -> None:
    plan = milvus_plan_of("prod-aws", 3)
    bucket = plan.named("aws:s3/bucket:Bucket", "seoul-milvus")
    assert bucket.protect and bucket.provider == "seoul-aws"
    assert bucket.inputs["bucket"] == "phasescale-prod-aws-seoul-milvus"
    assert bucket.inputs["forceDestroy"] is False
    pab = plan.named("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "seoul-milvus-public-access").inputs
    assert all(pab[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    ver = plan.named("aws:s3/bucketVersioning:BucketVersioning", "seoul-milvus-versioning").inputs
    assert ver["versioningConfiguration"] == {"status": "Enabled"}
    sse = plan.named(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "seoul-milvus-encryption",
    ).inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    own = plan.named("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "seoul-milvus-ownership").inputs
    assert own["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    assert '"aws:SecureTransport": "false"' in plan.named("aws:s3/bucketPolicy:BucketPolicy", "seoul-milvus-tls-only").inputs["policy"]
    role = plan.named("aws:iam/role:Role", "prod-aws-seoul-milvus").inputs
    assert "system:serviceaccount:milvus:milvus" in role["assumeRolePolicy"]
    access = plan.named("aws:iam/policy:Policy", "seoul-milvus-access").inputs["policy"]
    assert "arn:aws:s3:::phasescale-prod-aws-seoul-milvus/*" in access and '"s3:*"' not in access
    spec = cr("prod-aws", 3)["spec"]
    assert spec["dependencies"]["storage"] == {
        "type": "S3", "external": True, "endpoint": "s3.ap-northeast-2.amazonaws.com:443", "secretRef": "",
    }
    assert spec["config"]["minio"] == {
        "bucketName": "phasescale-prod-aws-seoul-milvus", "rootPath": "milvus", "useSSL": True, "useIAM": True,
        "cloudProvider": "aws", "region": "ap-northeast-2",
    }
    sa = plan.named("kubernetes:core/v1:ServiceAccount", "seoul-milvus-sa").inputs
    assert sa["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:mock:::prod-aws-seoul-milvus"}


def test_gke_private_versioned_gcs_bucket_reached_through_workload_identity() -> None:
    plan = milvus_plan_of("prod", 3)
    bucket = plan.named("gcp:storage/bucket:Bucket", "seoul-milvus")
    assert bucket.protect
    b = bucket.inputs
    assert (b["name"], b["location"], b["project"]) == (
        "phasescale-prod-prod-seoul-milvus", "ASIA-NORTHEAST3", "phasescale-prod",
    )
    assert b["uniformBucketLevelAccess"] is True
    assert b["publicAccessPrevention"] == "enforced"
    assert b["versioning"] == {"enabled": True}
    assert b["forceDestroy"] is False
    roles = sorted(
        r.inputs["role"] for r in plan.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
        if r.name.startswith("seoul-milvus-")
    )
    assert roles == ["roles/storage.legacyBucketReader", "roles/storage.objectAdmin"]
    wi = plan.named("gcp:serviceaccount/iAMMember:IAMMember", "seoul-milvus-workload-identity").inputs
    assert (wi["role"], wi["member"]) == (
        "roles/iam.workloadIdentityUser", "serviceAccount:phasescale-prod.svc.id.goog[milvus/milvus]",
    )
    spec = cr("prod", 3)["spec"]
    assert spec["dependencies"]["storage"]["endpoint"] == "storage.googleapis.com:443"
    assert spec["config"]["minio"]["cloudProvider"] == "gcp"
    assert spec["config"]["minio"]["useIAM"] is True
    assert spec["components"]["serviceAccountName"] == "milvus"


def test_phase_4_adds_tokyo_with_its_own_bucket_and_cr() -> None:
    plan = milvus_plan_of("prod", 4)
    assert sorted(r.name for r in plan.of_type(CR)) == ["seoul-milvus", "tokyo-milvus"]
    assert plan.named("gcp:storage/bucket:Bucket", "tokyo-milvus").inputs["location"] == "ASIA-NORTHEAST1"


def test_diff_names_the_standalone_to_cluster_move_as_stateful() -> None:
    d = diff.diff(milvus_plan_of("prod", 2), milvus_plan_of("prod", 3))
    assert (
        "STATEFUL REPLACE kubernetes:milvus.io/v1beta1:Milvus seoul-milvus on spec.mode "
        "(stateful: data is lost unless migrated first)"
    ) in d.stateful_risks
    assert not [r for r in d.deleted if r.type == CR]  # same name: a replacement, not a second database
    # within a mode, growing is an in-place change
    assert not diff.diff(milvus_plan_of("prod", 3), milvus_plan_of("prod", 4)).stateful_risks


# --- validation ------------------------------------------------------------------------------------


def test_validation_messages() -> None:
    path = "phasescale:overrides.milvus"
    cluster = base_plan(mode=mp.Mode.CLUSTER, query_nodes=1, proxies=1)
    assert [p.render() for p in mp.validate(cluster, path)] == [
        "phasescale:overrides.milvus.queryNodes: got 1; 2 or more in mode cluster: search must survive "
        "the loss of a query node",
        "phasescale:overrides.milvus.proxies: got 1; 2 or more in mode cluster: the proxy is the only entry point",
    ]
    assert [p.render() for p in mp.validate(base_plan(query_nodes=3), path)] == [
        "phasescale:overrides.milvus.queryNodes: got 3; 1 in mode standalone (one pod runs every role); "
        "set mode: cluster to scale roles"
    ]
    assert mp.validate(base_plan(mode=mp.Mode.CLUSTER, query_nodes=2, proxies=2), path) == []


def test_override_errors_are_reported_before_anything_is_registered() -> None:
    base = milvus_plan_of("dev", 1).settings
    sizes = base.sizes.model_copy(update={"milvus": base.sizes.milvus.model_copy(update={"query_nodes": 2})})
    bad = Settings(stack=base.stack, sizes=sizes)
    assert [p.path for p in part.validate(bad)] == ["phasescale:overrides.milvus.queryNodes"]
