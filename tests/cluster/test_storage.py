"""Every volume the plan asks for names a storage class that exists on its cluster, or a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.cluster import storage as st
from components.problems import ConfigError
from infra import plan as planner
from infra.plan import Plan
from tests.planning import PHASES, STACKS, plan_of, write_stack


def _classes(plan: Plan, cluster: str) -> dict[str, bool] | None:
    target = plan.settings.stack.cluster.target.value
    if target == "existing":
        return None  # the cluster's own classes and default (README, Storage)
    classes = dict(st.CLOUD_CLASSES[target])
    for c, obj in plan.manifests():
        if c == cluster and obj["kind"] == "StorageClass":
            annotations = obj["metadata"].get("annotations", {})
            classes[obj["metadata"]["name"]] = annotations.get(st.DEFAULT_ANNOTATION) == "true"
    return classes


def _requests(plan: Plan, cluster: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for c, obj in plan.manifests():
        if c == cluster:
            found += st.storage_requests(obj, f"{obj['kind']}/{obj['metadata']['name']}")
    for c, rel in plan.helm_releases():
        if c == cluster:
            found += st.storage_requests(rel.get("values", {}), f"helm/{rel['name']}")
    return found


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("phase", PHASES)
def test_every_volume_has_a_storage_class_on_its_cluster(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    for region in plan.settings.active_regions:
        cluster = f"{region}-k8s"
        requests = _requests(plan, cluster)
        assert st.storage_problems(requests, _classes(plan, cluster)) == []


def test_the_walk_finds_prometheus_cnpg_milvus_and_elasticsearch_volumes() -> None:
    paths = sorted(p for p, _ in _requests(plan_of("prod", 3), "seoul-k8s"))
    assert paths == [
        "Cluster/seoul-pg.spec.storage",
        "Elasticsearch/logs.spec.nodeSets[0].volumeClaimTemplates[0].spec",
        "Milvus/seoul-milvus.spec.dependencies.etcd.inCluster.values.persistence",
        "helm/monitoring.alertmanager.alertmanagerSpec.storage.volumeClaimTemplate.spec",
        "helm/monitoring.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec",
    ]


def test_eks_without_the_gp3_default_leaves_every_default_volume_pending() -> None:
    plan = plan_of("prod-aws", 3)
    requests = _requests(plan, "seoul-k8s")
    assert requests and all(name is None for _, name in requests)
    problems = st.storage_problems(requests, st.CLOUD_CLASSES["eks"])  # what EKS 1.30+ has alone
    assert len(problems) == len(requests)
    assert "no default StorageClass" in problems[0].expected


def test_a_named_class_the_cluster_lacks_is_a_problem() -> None:
    obj: dict[str, Any] = {"kind": "Cluster", "spec": {"storage": {"size": "10Gi", "storageClass": "fast-ssd"}}}
    problems = st.storage_problems(list(st.storage_requests(obj)), st.CLOUD_CLASSES["gke"])
    assert [(p.path, p.value) for p in problems] == [("spec.storage", "fast-ssd")]
    assert st.storage_problems(list(st.storage_requests(obj)), None) == []  # existing: its own classes


def test_eks_default_class_is_encrypted_gp3_bound_at_scheduling() -> None:
    plan = plan_of("prod-aws", 1)
    sc = plan.named("kubernetes:storage.k8s.io/v1:StorageClass", "seoul-gp3")
    assert sc.inputs["provisioner"] == "ebs.csi.aws.com"
    assert sc.inputs["parameters"]["type"] == "gp3" and sc.inputs["parameters"]["encrypted"] == "true"
    assert sc.inputs["volumeBindingMode"] == "WaitForFirstConsumer" and sc.inputs["allowVolumeExpansion"] is True
    assert sc.inputs["metadata"]["annotations"] == {st.DEFAULT_ANNOTATION: "true"}
    addon = plan.named("aws:eks/addon:Addon", "prod-aws-seoul-aws-ebs-csi-driver").inputs
    assert addon["serviceAccountRoleArn"] == "arn:aws:mock:::prod-aws-seoul-ebs-csi"
    trust = plan.named("aws:iam/role:Role", "prod-aws-seoul-ebs-csi").inputs["assumeRolePolicy"]
    assert "system:serviceaccount:kube-system:ebs-csi-controller-sa" in trust
    policy = plan.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "prod-aws-seoul-ebs-csi-0").inputs
    assert policy["policyArn"] == "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


@pytest.mark.parametrize(("target", "name", "ok"), [
    ("gke", "premium-rwo", True), ("gke", "gp3", False), ("eks", "gp3", True), ("eks", "premium-rwo", False),
])
def test_a_configured_storage_class_must_exist_on_the_target(tmp_path: Path, target: str, name: str, ok: bool) -> None:
    write_stack(tmp_path, target, 1, "development", postgres={"storageClass": name})
    if ok:
        planner.run("t", root=tmp_path)
        return
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=tmp_path)
    assert [(p.path, p.value) for p in err.value.problems] == [("phasescale:postgres.storageClass", name)]
