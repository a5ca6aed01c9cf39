"""The scheduling check: its inventory equals the recorded plan's pods, each rule is broken by a
config that fails with the pod and its requests, and every stack file passes at every phase."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from components import nodes
from components.nodes import Capacity, Cloud
from components.redis import operator as ro
from components.redis import plan as rp
from components.scheduling import (
    DATA_TAINT,
    DATA_TOLERATION,
    DataPool,
    NodePool,
    PodGroup,
    Toleration,
    check,
    pod_group,
)
from infra import plan as planner
from infra.scheduling import node_pools, problems, region_pods
from infra.settings import resolve
from infra.stack import validate
from infra.targets import data_pool
from tests.planning import PHASES, STACKS, plan_of

# --- (a) the inventory is the plan's pods ---------------------------------------------------------


def _bounds(objects: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Deployment name -> (min, max) from its HPA or KEDA ScaledObject."""
    out = {}
    for o in objects:
        spec = o.get("spec", {})
        if o["kind"] == "HorizontalPodAutoscaler":
            out[spec["scaleTargetRef"]["name"]] = (spec.get("minReplicas", 1), spec["maxReplicas"])
        if o["kind"] == "ScaledObject":
            out[spec["scaleTargetRef"]["name"]] = (spec.get("minReplicaCount", 0), spec["maxReplicaCount"])
    return out


def _redis_pod(spec: dict[str, Any], where: dict[str, Any]) -> dict[str, Any]:
    return {
        "containers": [{"resources": spec["kubernetesConfig"]["resources"]}, {"resources": spec["redisExporter"]["resources"]}],
        "nodeSelector": where.get("nodeSelector"), "tolerations": where.get("tolerations"),
        "topologySpreadConstraints": where.get("topologySpreadConstraints"),
    }


def plan_pods(plan: planner.Plan) -> dict[str, list[PodGroup]]:
    """Every pod group of the recorded plan, per cluster, read from the manifests and Helm values."""
    by_cluster: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cluster, obj in plan.manifests():
        by_cluster[cluster].append(obj)
    out: dict[str, list[PodGroup]] = {}
    for cluster, objects in by_cluster.items():
        bounds = _bounds(objects)
        stores = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "ObjectStore"}
        groups = []
        for o in objects:
            kind, name, ns, spec = o["kind"], o["metadata"]["name"], o["metadata"].get("namespace", ""), o.get("spec")
            base = f"{ns}/{kind}/{name}"
            if kind in ("Deployment", "StatefulSet"):
                lo, hi = bounds.get(name, (spec.get("replicas", 1), spec.get("replicas", 1)))
                groups.append(pod_group(base, spec["template"]["spec"], lo, hi, "-"))
            elif kind == "Cluster":
                containers = [{"resources": spec["resources"]}]
                for plugin in spec.get("plugins", []):
                    containers.append(stores[plugin["parameters"]["barmanObjectName"]]["instanceSidecarConfiguration"])
                a = spec["affinity"]
                pod = {"containers": containers, "nodeSelector": a.get("nodeSelector"), "tolerations": a.get("tolerations")}
                groups.append(pod_group(base, pod, spec["instances"], spec["instances"], "-"))
            elif kind == "Pooler":
                groups.append(pod_group(base, spec["template"]["spec"], spec["instances"], spec["instances"], "-"))
            elif kind == "RedisCluster":
                for role, key in (("leader", "redisLeader"), ("follower", "redisFollower")):
                    n = spec[key]["replicas"]
                    groups.append(pod_group(f"{base}/{role}", _redis_pod(spec, spec[key]), n, n, "-"))
            elif kind in ("Redis", "RedisReplication", "RedisSentinel"):
                n = spec.get("clusterSize", 1)
                groups.append(pod_group(base, _redis_pod(spec, spec), n, n, "-"))
            elif kind == "Milvus":
                com = spec["components"]
                for role in ("standalone", "mixCoord", "proxy", "queryNode", "dataNode", "streamingNode"):
                    if role in com:
                        pod = {"containers": [{"resources": com[role]["resources"]}],
                               "nodeSelector": com.get("nodeSelector"), "tolerations": com.get("tolerations")}
                        n = com[role]["replicas"]
                        groups.append(pod_group(f"{base}/{role}", pod, n, n, "-"))
                deps = spec["dependencies"]
                for dep, values in (("etcd", deps["etcd"].get("inCluster")), ("minio", deps["storage"].get("inCluster"))):
                    if values:
                        v = values["values"]
                        n = v.get("replicaCount") or (4 if v.get("mode") == "distributed" else 1)
                        pod = {"containers": [{"resources": v["resources"]}], "nodeSelector": v.get("nodeSelector"),
                               "tolerations": v.get("tolerations")}
                        groups.append(pod_group(f"{base}/{dep}", pod, n, n, "-"))
            elif kind == "Elasticsearch":
                for node_set in spec["nodeSets"]:
                    n = node_set["count"]
                    groups.append(pod_group(base, node_set["podTemplate"]["spec"], n, n, "-"))
            elif kind == "Kibana":
                groups.append(pod_group(base, spec["podTemplate"]["spec"], spec["count"], spec["count"], "-"))
        for release_cluster, release in plan.helm_releases():
            if release_cluster == cluster and release["chart"] == "loki":
                single = release["values"]["singleBinary"]
                pod = {"containers": [{"resources": single["resources"]}],  # the chart's default anti-affinity
                       "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                           {"topologyKey": "kubernetes.io/hostname"}]}}}
                groups.append(pod_group(f"{release['namespace']}/StatefulSet/loki", pod, single["replicas"],
                                        single["replicas"], "-"))
            if release_cluster == cluster and release["chart"] == "kube-prometheus-stack":
                values = release["values"]
                for k, spec in (("Prometheus", values["prometheus"]["prometheusSpec"]),
                                ("Alertmanager", values["alertmanager"]["alertmanagerSpec"])):
                    pod = {"containers": [{"resources": spec["resources"]}], "nodeSelector": spec.get("nodeSelector"),
                           "tolerations": spec.get("tolerations")}
                    groups.append(pod_group(f"{release['namespace']}/{k}/monitoring", pod, spec["replicas"],
                                            spec["replicas"], "-"))
        out[cluster] = groups
    return out


def _key(g: PodGroup) -> tuple[Any, ...]:
    return g.name, g.requests, g.min_replicas, g.max_replicas, g.tolerations, g.node_selector, g.one_per_node


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("stack", STACKS)
def test_inventory_is_the_plans_pods(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    recorded = plan_pods(plan)
    settings = plan.settings
    for i, key in enumerate(settings.active_regions):
        inventory = sorted(_key(g) for g in region_pods(settings, key, primary=i == 0))
        assert inventory == sorted(_key(g) for g in recorded[f"{key}-k8s"])
    assert set(recorded) == {f"{k}-k8s" for k in settings.active_regions}


def test_data_pods_tolerate_the_data_pool_and_apps_never_do() -> None:
    groups = plan_pods(plan_of("prod", 4))["seoul-k8s"]
    data = {g.name for g in groups if DATA_TOLERATION in g.tolerations}
    assert data == {
        "phasescale/Cluster/seoul-pg",
        "logging/Elasticsearch/logs",
        *(f"milvus/Milvus/seoul-milvus/{r}" for r in ("mixCoord", "proxy", "queryNode", "dataNode", "streamingNode", "etcd")),
    }
    for g in groups:
        assert (g.name in data) == (dict(g.node_selector).get("phasescale/pool") == "data")


# --- Node shapes --------------------------------------------------------------------------------


def test_documented_reserves() -> None:
    # GKE's own example ("Plan GKE Standard node sizes"): a 16 GiB / 4 vCPU node keeps 2.6 GiB + 100 MiB
    # eviction, and 80m of CPU (60 + 10 + 5 + 5).
    assert nodes.allocatable(Cloud.GKE, nodes.MACHINES[Cloud.GKE]["e2-standard-4"]) == Capacity(3920, 16384 - 2662 - 100)
    # nodeadm: m6i.4xlarge has maxPods 234 -> 11 x 234 + 255 = 2829 MiB; CPU 60 + 10 + 10 + 30 = 110m.
    assert nodes.allocatable(Cloud.EKS, nodes.MACHINES[Cloud.EKS]["m6i.4xlarge"]) == Capacity(15890, 65536 - 2829 - 100)
    assert nodes.cpu_reserve_m(1) == 60 and nodes.gke_memory_reserve_mib(0.5) == 255


def test_the_data_pool_exists_only_for_in_cluster_data_parts() -> None:
    assert [p.name for p in node_pools(plan_of("prod", 4).settings, "seoul")[0]] == ["system", "data", "gpu-on-demand", "gpu-spot"]
    aws = plan_of("prod-aws", 1)
    assert aws.named("aws:eks/nodeGroup:NodeGroup", "prod-aws-seoul-data").inputs["taints"] == [
        {"key": "phasescale/pool", "value": "data", "effect": "NO_SCHEDULE"}
    ]
    gke = plan_of("prod", 1).named("gcp:container/nodePool:NodePool", "prod-seoul-data").inputs
    assert gke["nodeConfig"]["machineType"] == "n2-standard-16"
    assert gke["autoscaling"] == {"totalMinNodeCount": 1, "totalMaxNodeCount": 3, "locationPolicy": "BALANCED"}
    # Same machine type at every phase: a phase change never replaces the pool.
    assert {plan_of("prod", p).named("gcp:container/nodePool:NodePool", "prod-seoul-data").inputs["nodeConfig"]["machineType"]
            for p in PHASES} == {"n2-standard-16"}


# --- (b) configs that break each rule ---------------------------------------------------------------


def _problems(stack: str, phase: int, **overrides: Any) -> list[str]:
    raw, secret_keys = planner.read_stack_config(planner.stack_file(stack))
    raw["phasescale:overrides"] = json.dumps(overrides)
    return [p.render() for p in validate(resolve(raw, secret_keys, phase))]


def test_a_request_larger_than_any_node_names_the_pod_and_the_largest_node() -> None:
    found = _problems("prod", 4, postgres={"cpu": 20})
    assert any(
        p.startswith("phasescale:overrides.postgres: got 'phasescale/Cluster/seoul-pg requests 20250m CPU, 33024 MiB x 5-5'")
        and "the largest node it could use is data (n2-standard-16) with 15290m CPU, 58801 MiB" in p
        for p in found
    ), found


def test_a_pool_max_too_small_for_max_replicas() -> None:
    found = _problems("prod-aws", 3, nodes={"minNodes": 1, "maxNodes": 1}, dataNodes={"minNodes": 1, "maxNodes": 1},
                      logging={"lokiReplicas": 1})  # Loki's one-per-node replicas have their own message
    assert found and all("room for all pods at their" in p for p in found), found
    assert any("phasescale:overrides.nodes.maxNodes" in p for p in found)


def test_required_anti_affinity_beyond_max_nodes() -> None:
    pool = NodePool("data", "n2-standard-16", Capacity(15000, 50000), 3, "phasescale:overrides.dataNodes.maxNodes",
                    labels=(("phasescale/pool", "data"),), taints=(DATA_TAINT,))
    pg = PodGroup("phasescale/Cluster/seoul-pg", Capacity(1000, 1024), 5, 5, "phasescale:overrides.postgres",
                  tolerations=(DATA_TOLERATION,), node_selector=(("phasescale/pool", "data"),), one_per_node=True)
    [p] = check([pool], [pg])
    assert p.path == "phasescale:overrides.postgres"
    assert "at most 3 replicas: required anti-affinity puts one per node" in p.expected


def test_a_data_pod_without_a_pool_that_tolerates_it() -> None:
    system = NodePool("system", "e2-standard-4", Capacity(3520, 13000), 9, "phasescale:overrides.nodes.maxNodes",
                      labels=(("phasescale/pool", "system"),))
    redis = pod_group("phasescale/RedisReplication/redis", {
        "containers": [{"resources": {"requests": {"cpu": "1", "memory": "22Gi"}}}],
        "nodeSelector": {"phasescale/pool": "data"}, "tolerations": [DATA_TOLERATION.spec()],
    }, 3, 3, "phasescale:overrides.redis")
    [p] = check([system], [redis])
    assert "a node pool it may land on" in p.expected and "system (labels {'phasescale/pool': 'system'}" in p.expected


def test_without_the_data_pool_the_big_pods_would_not_fit_the_system_pool() -> None:
    """Today's bug, reproduced: phase-4 PostgreSQL on the only general pool."""
    settings = plan_of("prod", 4).settings
    pools, _ = node_pools(settings, "seoul")
    pods = [PodGroup(g.name, g.requests, g.min_replicas, g.max_replicas, g.path)
            for g in region_pods(settings, "seoul", True) if g.name == "phasescale/Cluster/seoul-pg"]
    [p] = check([pools[0]], pods)
    assert "the largest node it could use is system (e2-standard-4) with 3520m CPU, 13110 MiB" in p.expected


def test_hard_zone_spread_needs_a_node_in_the_emptiest_zone() -> None:
    pool = NodePool("system", "m", Capacity(1000, 1000), 3, "p", zones=3)
    pod = PodGroup("ns/Deployment/x", Capacity(600, 100), 4, 4, "phasescale:services.x", zone_spread=True)
    [p] = check([pool], [pod])
    assert "room for all pods at their min replicas" in p.expected


def test_toleration_semantics() -> None:
    assert Toleration("phasescale/pool", "Exists").tolerates(DATA_TAINT)
    assert Toleration(None, "Exists").tolerates(DATA_TAINT)
    assert not Toleration("phasescale/pool", "Equal", "gpu", "NoSchedule").tolerates(DATA_TAINT)
    assert not Toleration("phasescale/pool", "Equal", "data", "NoExecute").tolerates(DATA_TAINT)


def test_unknown_machine_type_is_a_config_error() -> None:
    # Well-formed (the catalog's pattern admits it) but not a machine the reserve table knows.
    found = _problems("prod", 2, dataNodes={"gkeMachineType": "n2-standard-7"})
    assert any(p.startswith("phasescale:overrides.dataNodes.gkeMachineType: got 'n2-standard-7'; a gke machine type") for p in found)


# --- (c) every stack x phase passes ------------------------------------------------------------------


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_and_phase_schedules(stack: str, phase: int) -> None:
    assert problems(plan_of(stack, phase).settings) == []


def _settings(stack: str, phase: int, **config: Any) -> Any:
    raw, secret_keys = planner.read_stack_config(planner.stack_file(stack))
    raw.update({f"phasescale:{k}": json.dumps(v) for k, v in config.items()})
    return resolve(raw, secret_keys, phase)


def test_managed_engines_alone_need_no_data_pool() -> None:
    assert data_pool(_settings("prod-aws", 4, parts={"gpu": True, "milvus": False})) is None
    assert data_pool(_settings("prod-aws", 4)) == DataPool("m6i.4xlarge", 5, 12, 100)
    assert data_pool(_settings("dev", 4)) is None  # existing: not our nodes


def test_eks_data_group_carries_the_autoscaler_node_template_tags() -> None:
    plan = plan_of("prod-aws", 2)
    group = plan.named("aws:eks/nodeGroup:NodeGroup", "prod-aws-seoul-data").inputs
    assert group["tags"]["k8s.io/cluster-autoscaler/node-template/label/phasescale/pool"] == "data"
    assert group["tags"]["k8s.io/cluster-autoscaler/node-template/taint/phasescale/pool"] == "data:NoSchedule"
    assert group["scalingConfig"] == {"minSize": 2, "desiredSize": 2, "maxSize": 4}
    tags = {r.name: r.inputs["tag"] for r in plan.of_type("aws:autoscaling/tag:Tag")}
    assert tags["prod-aws-seoul-data-taint-phasescale-pool"] == {
        "key": "k8s.io/cluster-autoscaler/node-template/taint/phasescale/pool",
        "value": "data:NoSchedule",
        "propagateAtLaunch": False,
    }


def test_worst_case_in_cluster_data_tier_schedules_at_every_phase() -> None:
    """CNPG, operator Redis (22 GiB nodes at phase 2) and Milvus all in the cluster, on both clouds."""
    for phase in PHASES:
        assert problems(_settings("prod", phase, redis={"engine": "operator"})) == []
        assert problems(_settings("prod-aws", phase, redis={"engine": "operator"}, postgres={"engine": "cnpg"})) == []


def test_operator_redis_pods_go_to_the_data_pool_and_sentinels_do_not() -> None:
    placed = {"nodeSelector": {"phasescale/pool": "data"},
              "tolerations": [{"key": "phasescale/pool", "operator": "Equal", "value": "data", "effect": "NoSchedule"}]}
    cluster = ro.data_spec(rp.RedisPlan(mode=rp.Mode.CLUSTER, shards=3, replicas_per_shard=1, data_pool=True))
    for role in ("redisLeader", "redisFollower"):
        assert {k: cluster[role][k] for k in placed} == placed
    replication = rp.RedisPlan(mode=rp.Mode.REPLICATION, replicas_per_shard=2, sentinels=3, data_pool=True)
    assert {k: ro.data_spec(replication)[k] for k in placed} == placed
    assert not set(placed) & set(ro.sentinel_spec(replication))
    assert not set(placed) & set(ro.data_spec(rp.RedisPlan()))  # no data pool: no selector, no toleration
