"""The scheduling check of a stack: every pod the plan creates, in every active region, against the
node pools of the region's cluster (components/scheduling.py does the placing).

Pods come from each part's pure ``pods`` function (``infra/parts/*.py``) and from
``infra/services.pods``, built from the same specs the components send, so a test can hold the
inventory equal to the recorded plan. Pools come from the catalog: the system pool (``nodes``;
GKE's counts are per zone), the data pool (``dataNodes``, when :func:`infra.targets.data_pool`
creates it) and the GPU pools (``gpu``).

Target ``existing`` is skipped: its nodes are not the program's, so their shapes, labels and taints
are unknown; the cluster's own scheduler is the check there.
"""

from __future__ import annotations

from collections.abc import Callable

from components import nodes
from components.problems import Problem
from components.scheduling import DATA_LABELS, DATA_TAINT, POOL_LABEL, DaemonSet, NodePool, PodGroup, check
from infra import services, workers
from infra.config import Target
from infra.parts import cdn, gpu, logging, milvus, monitoring, postgres, queue, redis
from infra.settings import Settings
from infra.targets import data_pool, zones_of

CLOUDS = {Target.GKE: nodes.Cloud.GKE, Target.EKS: nodes.Cloud.EKS}
NODES_PATH = "phasescale:overrides.nodes"
DATA_PATH = "phasescale:overrides.dataNodes"


def region_pods(settings: Settings, key: str, primary: bool) -> list[PodGroup]:
    """Every pod group the plan creates in region ``key``."""
    parts = settings.stack.parts
    out = services.pods(settings)
    if parts.monitoring:
        out += monitoring.pods(settings)
    if parts.postgres:
        out += postgres.pods(settings, key, primary)
    if parts.redis:
        out += redis.pods(settings)
    if parts.milvus:
        out += milvus.pods(settings, key)
    if parts.gpu:
        out += gpu.pods(settings)
    if parts.cdn:
        out += cdn.pods(settings)
    if parts.logging:
        out += logging.pods(settings)
    if parts.queue:
        out += queue.pods(settings)
    out += workers.pods(settings, redis.plan(settings) if parts.redis else None)
    return out


def region_daemonsets(settings: Settings) -> list[DaemonSet]:
    """The plan's DaemonSets (their pod on every node they tolerate): the log shipper."""
    return logging.daemonsets(settings) if settings.stack.parts.logging else []


def _allocatable(cloud: nodes.Cloud) -> Callable[[str], nodes.Capacity | None]:
    def per_node(machine_type: str) -> nodes.Capacity | None:
        if not nodes.known(cloud, machine_type):
            return None
        return nodes.allocatable(cloud, nodes.MACHINES[cloud][machine_type]) - nodes.CLOUD_DAEMONSETS[cloud]

    return per_node


def node_pools(settings: Settings, key: str) -> tuple[list[NodePool], list[Problem]]:
    """The node pools of region ``key``'s cluster, or the problems that keep them unknown."""
    cfg = settings.stack
    target = cfg.cluster.target
    cloud = CLOUDS[target]
    region = cfg.regions[key]
    zones = len(zones_of(region.location, region.zones, target)) or 3  # GKE: the region's zones (3)
    alloc = _allocatable(cloud)
    field = "gkeMachineType" if cloud is nodes.Cloud.GKE else "eksInstanceType"
    sizes = settings.sizes.nodes
    system_type = sizes.gke_machine_type if cloud is nodes.Cloud.GKE else sizes.eks_instance_type
    wanted = [(f"{NODES_PATH}.{field}", system_type)]
    data = data_pool(settings)
    if data is not None:
        wanted.append((f"{DATA_PATH}.{field}", data.machine_type))
    problems = [
        Problem(path, machine, f"a {cloud.value} machine type whose shape is known: {', '.join(sorted(nodes.MACHINES[cloud]))}")
        for path, machine in wanted
        if alloc(machine) is None
    ]
    if problems:
        return [], problems
    system_alloc = alloc(system_type)
    assert system_alloc is not None
    pools = [NodePool(
        name="system", machine=system_type, allocatable=system_alloc,
        max_nodes=sizes.max_nodes * zones if cloud is nodes.Cloud.GKE else sizes.max_nodes,
        path=f"{NODES_PATH}.maxNodes", zones=zones, labels=((POOL_LABEL, "system"),),
    )]
    if data is not None:
        data_alloc = alloc(data.machine_type)
        assert data_alloc is not None
        pools.append(NodePool(
            name="data", machine=data.machine_type, allocatable=data_alloc, max_nodes=data.max_nodes,
            path=f"{DATA_PATH}.maxNodes", zones=zones, labels=tuple(sorted(DATA_LABELS.items())), taints=(DATA_TAINT,),
        ))
    if cfg.parts.gpu:
        pools += gpu.node_pools(settings, cloud, alloc, zones)
    return pools, []


def problems(settings: Settings) -> list[Problem]:
    """Every pod that could not be scheduled, in any active region, at its min or max replicas."""
    if settings.stack.cluster.target is Target.EXISTING:
        return []
    found: list[Problem] = []
    for i, key in enumerate(settings.active_regions):
        pools, unknown = node_pools(settings, key)
        if unknown:
            return unknown
        found += check(pools, region_pods(settings, key, primary=i == 0), region_daemonsets(settings))
    return found
