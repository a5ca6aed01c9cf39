"""No disruption budget blocks a node drain, on any stack at any phase: every PodDisruptionBudget the
plan creates lets at least one pod go, and every budget an operator or chart creates is asked for
only where two or more pods share it (a single-instance CNPG primary gets none: its budget is
minAvailable 1, so it would forbid every eviction)."""

from __future__ import annotations

from typing import Any

import pytest

from components.postgres.cnpg_plan import cnpg_cluster_spec
from components.postgres.plan import PostgresSizing
from tests.planning import PHASES, STACKS, k8s_objects, plan_of

CASES = [(s, p) for s in STACKS for p in PHASES]


def _allows_one_eviction(spec: dict[str, Any]) -> bool:
    return "minAvailable" not in spec and isinstance(spec.get("maxUnavailable"), int) and spec["maxUnavailable"] >= 1


@pytest.mark.parametrize(("stack", "phase"), CASES)
def test_every_plan_pdb_lets_one_pod_go(stack: str, phase: int) -> None:
    for name, pdb in k8s_objects(plan_of(stack, phase), "PodDisruptionBudget").items():
        assert _allows_one_eviction(pdb["spec"]), (name, pdb["spec"])


@pytest.mark.parametrize(("stack", "phase"), CASES)
def test_operator_budgets_only_where_two_pods_share_them(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    for name, cluster in k8s_objects(plan, "Cluster").items():
        spec = cluster["spec"]
        assert spec["enablePDB"] is (spec["instances"] > 1), name
    for kind in ("Redis", "RedisReplication", "RedisSentinel"):
        for name, obj in k8s_objects(plan, kind).items():
            spec = obj["spec"]
            if "pdb" in spec:
                assert spec.get("clusterSize", 1) >= 2 and spec["pdb"]["maxUnavailable"] >= 1, name
    for name, obj in k8s_objects(plan, "RedisCluster").items():
        for role in ("redisLeader", "redisFollower"):
            part = obj["spec"][role]
            if part.get("pdb", {}).get("enabled"):
                assert part["replicas"] >= 2 and part["pdb"]["maxUnavailable"] >= 1, (name, role)
    for name, obj in k8s_objects(plan, "Milvus").items():
        deps = obj["spec"]["dependencies"]
        etcd = deps["etcd"]["inCluster"]["values"]
        if etcd["pdb"]["create"]:  # the etcd chart's budget: minAvailable 51%
            assert etcd["replicaCount"] >= 3, name
        minio = deps.get("storage", {}).get("inCluster", {}).get("values")
        if minio and minio.get("podDisruptionBudget", {}).get("enabled"):
            assert minio["mode"] == "distributed" and minio["podDisruptionBudget"]["maxUnavailable"] >= 1, name
    for cluster, rel in plan.helm_releases():
        if rel["chart"] != "kube-prometheus-stack":
            continue
        for part in ("alertmanager", "prometheus"):
            assert not rel["values"].get(part, {}).get("podDisruptionBudget", {}).get("enabled"), (cluster, part)


def test_single_instance_cnpg_gets_no_budget_and_a_replicated_one_does() -> None:
    # Breaks: enablePDB true with one instance is CNPG's primary PDB at minAvailable 1 (no eviction).
    alone = cnpg_cluster_spec("pg", PostgresSizing(read_replicas=0), "img:1")
    assert (alone["instances"], alone["enablePDB"]) == (1, False)
    pair = cnpg_cluster_spec("pg", PostgresSizing(read_replicas=1), "img:1")
    assert (pair["instances"], pair["enablePDB"]) == (2, True)
