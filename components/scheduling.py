"""The scheduling check: can every pod the plan creates land on a node pool, at its min and at its
max replicas? Pure module: no Pulumi imports.

Each part describes its pods as :class:`PodGroup` (requests, replica bounds, node selector,
tolerations, required one-per-node anti-affinity, hard zone spread), read from the same spec dicts
the components send (:func:`pod_group`); the cluster target describes its pools as :class:`NodePool`
(allocatable after the cloud's reserve, see :mod:`components.nodes`, labels, taints, the autoscaler's
max nodes and zones). :func:`check` then asks, like the scheduler and the cluster autoscaler would:

1. may the pod land on any pool (selector matches the pool's labels, every NoSchedule/NoExecute
   taint tolerated)?
2. does one pod fit one node of such a pool, after the DaemonSets that run there?
3. with required anti-affinity, are there enough nodes for one pod each?
4. do all pods together fit, at everyone's min and at everyone's max replicas, into the pools'
   max nodes? First-fit decreasing, one replica at a time, honouring anti-affinity and hard zone
   spread (maxSkew 1), as the scheduler places them one by one.

Also home of the data pool's taint and label, which the data tier's pods tolerate and select.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.nodes import Capacity
from components.problems import Problem

POOL_LABEL = "phasescale/pool"


@dataclass(frozen=True)
class Taint:
    key: str
    value: str
    effect: str = "NoSchedule"
    """Kubernetes spelling (NoSchedule, NoExecute, PreferNoSchedule)."""


@dataclass(frozen=True)
class Toleration:
    key: str | None = None
    operator: str = "Equal"
    value: str | None = None
    effect: str | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' rule (core/v1 Toleration.ToleratesTaint)."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.operator == "Exists":
            return self.key in (None, "", taint.key)
        return self.key == taint.key and (self.value or "") == taint.value

    def spec(self) -> dict[str, str]:
        out = {"key": self.key or "", "operator": self.operator, "value": self.value, "effect": self.effect}
        return {k: v for k, v in out.items() if v}


DATA_LABELS = {POOL_LABEL: "data"}
DATA_TAINT = Taint(POOL_LABEL, "data", "NoSchedule")
DATA_TOLERATION = Toleration(POOL_LABEL, "Equal", "data", "NoSchedule")


@dataclass(frozen=True)
class DataPool:
    """The tainted node pool of the in-cluster data tier (CNPG, operator Redis, Milvus). Counts are
    totals over the cluster's zones; the machine type never changes with the phase."""

    machine_type: str
    min_nodes: int
    max_nodes: int
    disk_gib: int = 100


def data_placement() -> dict[str, Any]:
    """``nodeSelector`` and ``tolerations`` of a pod of the data tier: on the data pool only."""
    return {"nodeSelector": dict(DATA_LABELS), "tolerations": [DATA_TOLERATION.spec()]}


# --- Inventory -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PodGroup:
    """Identical pods (one Deployment, StatefulSet or operator-made set) and their replica bounds."""

    name: str
    """``<namespace>/<kind> <name>[ <role>]``, e.g. ``phasescale/Cluster seoul-pg``."""
    requests: Capacity
    min_replicas: int
    max_replicas: int
    path: str
    """The config path a problem with this pod points at."""
    tolerations: tuple[Toleration, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()
    one_per_node: bool = False
    """Required pod anti-affinity on ``kubernetes.io/hostname`` against its own pods."""
    zone_spread: bool = False
    """A ``DoNotSchedule`` topology spread over ``topology.kubernetes.io/zone``."""

    def render(self) -> str:
        return f"{self.name} requests {self.requests.render()} x {self.min_replicas}-{self.max_replicas}"


def cpu_m(quantity: object) -> int:
    text = str(quantity)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


_MEMORY_UNITS = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024 * 1024, "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}


def memory_mib(quantity: object) -> int:
    text = str(quantity)
    for unit, factor in _MEMORY_UNITS.items():
        if text.endswith(unit):
            return int(float(text[: -len(unit)]) * factor + 0.999)
    return int(int(text) / 2**20 + 0.999)


def requests_of(resources: Mapping[str, Any] | None) -> Capacity:
    req = (resources or {}).get("requests") or {}
    return Capacity(
        cpu_m(req["cpu"]) if "cpu" in req else 0,
        memory_mib(req["memory"]) if "memory" in req else 0,
        int(req.get("nvidia.com/gpu", 0)),
    )


def pod_requests(containers: Iterable[Mapping[str, Any]], init: Iterable[Mapping[str, Any]] = ()) -> Capacity:
    """A pod's effective request: the sum of its containers, or its largest init container if larger."""
    total = Capacity(0, 0)
    for c in containers:
        total = total + requests_of(c.get("resources"))
    for c in init:
        r = requests_of(c.get("resources"))
        total = Capacity(max(total.cpu_m, r.cpu_m), max(total.memory_mib, r.memory_mib), max(total.gpus, r.gpus))
    return total


def tolerations_of(specs: Iterable[Mapping[str, Any]] | None) -> tuple[Toleration, ...]:
    return tuple(
        Toleration(t.get("key"), t.get("operator", "Equal"), t.get("value"), t.get("effect")) for t in specs or ()
    )


def _one_per_node(affinity: Mapping[str, Any] | None) -> bool:
    anti = (affinity or {}).get("podAntiAffinity") or {}
    return any(t.get("topologyKey") == "kubernetes.io/hostname"
               for t in anti.get("requiredDuringSchedulingIgnoredDuringExecution") or ())


def _hard_zone_spread(constraints: Iterable[Mapping[str, Any]] | None) -> bool:
    return any(c.get("topologyKey") == "topology.kubernetes.io/zone" and c.get("whenUnsatisfiable") == "DoNotSchedule"
               for c in constraints or ())


def pod_group(name: str, pod_spec: Mapping[str, Any], min_replicas: int, max_replicas: int, path: str) -> PodGroup:
    """A :class:`PodGroup` from a core/v1 PodSpec dict (containers, initContainers, nodeSelector,
    tolerations, affinity, topologySpreadConstraints)."""
    return PodGroup(
        name=name,
        requests=pod_requests(pod_spec.get("containers") or (), pod_spec.get("initContainers") or ()),
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        path=path,
        tolerations=tolerations_of(pod_spec.get("tolerations")),
        node_selector=tuple(sorted((pod_spec.get("nodeSelector") or {}).items())),
        one_per_node=_one_per_node(pod_spec.get("affinity")),
        zone_spread=_hard_zone_spread(pod_spec.get("topologySpreadConstraints")),
    )


# --- Node pools ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodePool:
    name: str
    machine: str
    allocatable: Capacity
    """After the cloud's system reserve and the cloud's own DaemonSets (components.nodes)."""
    max_nodes: int
    """The autoscaler's ceiling, over all zones."""
    path: str
    """The config path of the pool's size (where a too-small pool is fixed)."""
    zones: int = 3
    labels: tuple[tuple[str, str], ...] = ()
    taints: tuple[Taint, ...] = ()

    def admits(self, tolerations: Sequence[Toleration], node_selector: Iterable[tuple[str, str]]) -> bool:
        labels = dict(self.labels)
        if any(labels.get(k) != v for k, v in node_selector):
            return False
        hard = [t for t in self.taints if t.effect in ("NoSchedule", "NoExecute")]
        return all(any(tol.tolerates(t) for tol in tolerations) for t in hard)

    def render(self) -> str:
        return f"pool {self.name} ({self.machine}: {self.allocatable.render()} per node, max {self.max_nodes} nodes)"


@dataclass(frozen=True)
class DaemonSet:
    """A pod on every node of the pools it may land on."""

    name: str
    requests: Capacity
    tolerations: tuple[Toleration, ...] = ()
    node_selector: tuple[tuple[str, str], ...] = ()


def free_per_node(pool: NodePool, daemonsets: Iterable[DaemonSet]) -> Capacity:
    free = pool.allocatable
    for ds in daemonsets:
        if pool.admits(ds.tolerations, ds.node_selector):
            free = free - ds.requests
    return free


# --- The check -------------------------------------------------------------------------------------


@dataclass
class _Node:
    pool: NodePool
    zone: int
    free: Capacity
    groups: dict[str, int]
    """Replicas of each pod group on the node."""


def _pools_of(pod: PodGroup, pools: Sequence[NodePool]) -> list[NodePool]:
    return [p for p in pools if p.admits(pod.tolerations, pod.node_selector)]


def _single_pod(pod: PodGroup, pools: Sequence[NodePool], free: Mapping[str, Capacity]) -> list[Problem]:
    landing = _pools_of(pod, pools)
    if not landing:
        every = "; ".join(
            f"{p.name} (labels {dict(p.labels)}, taints {[f'{t.key}={t.value}:{t.effect}' for t in p.taints]})"
            for p in pools
        )
        return [Problem(pod.path, pod.render(), f"a node pool it may land on (selector and tolerations); pools: {every}")]
    fitting = [p for p in landing if free[p.name].holds(pod.requests)]
    if not fitting:
        largest = max(landing, key=lambda p: (free[p.name].memory_mib, free[p.name].cpu_m))
        return [Problem(
            pod.path, pod.render(),
            f"requests that fit one node; the largest node it could use is {largest.name} ({largest.machine}) with "
            f"{free[largest.name].render()} after the system reserve and DaemonSets; lower the requests or "
            "override the pool's machine type",
        )]
    nodes = sum(p.max_nodes for p in fitting)
    if pod.one_per_node and pod.max_replicas > nodes:
        return [Problem(
            pod.path, pod.render(),
            f"at most {nodes} replicas: required anti-affinity puts one per node and the pools it fits "
            f"({', '.join(p.name for p in fitting)}) have at most {nodes} nodes ({fitting[0].path})",
        )]
    return []


def _pack(pods: Sequence[PodGroup], pools: Sequence[NodePool], free: Mapping[str, Capacity], bound: str) -> list[Problem]:
    nodes = [_Node(p, i % p.zones, free[p.name], {}) for p in pools for i in range(p.max_nodes)]
    replicas = [(pod, n) for pod in pods for n in range(pod.min_replicas if bound == "min" else pod.max_replicas)]
    replicas.sort(key=lambda r: (-r[0].requests.gpus, -r[0].requests.memory_mib, -r[0].requests.cpu_m, r[0].name))
    problems: list[Problem] = []
    failed: set[str] = set()
    for pod, _ in replicas:
        if pod.name in failed:
            continue
        landing = {p.name for p in _pools_of(pod, pools)}
        candidates = [
            n for n in nodes
            if n.pool.name in landing and n.free.holds(pod.requests) and not (pod.one_per_node and n.groups.get(pod.name))
        ]
        if pod.zone_spread and candidates:
            counts: dict[int, int] = {}
            for n in nodes:
                if n.pool.name in landing:
                    counts[n.zone] = counts.get(n.zone, 0) + n.groups.get(pod.name, 0)
            low = min(counts.values())  # maxSkew 1: only a zone at the minimum may take the next replica
            candidates = [n for n in candidates if counts[n.zone] == low]
        if not candidates:
            failed.add(pod.name)
            used = sorted({n.pool for n in nodes if n.pool.name in landing}, key=lambda p: p.name)
            problems.append(Problem(
                pod.path, pod.render(),
                f"room for all pods at their {bound} replicas: with every other pod placed, "
                + "; ".join(p.render() for p in used)
                + f" cannot hold another replica; raise the pool's max nodes ({', '.join(p.path for p in used)}) "
                "or lower the requests",
            ))
            continue
        node = candidates[0]
        node.free = node.free - pod.requests
        node.groups[pod.name] = node.groups.get(pod.name, 0) + 1
    return problems


def check(pools: Sequence[NodePool], pods: Sequence[PodGroup], daemonsets: Sequence[DaemonSet] = ()) -> list[Problem]:
    """Every problem that keeps a pod of ``pods`` from being scheduled on ``pools``."""
    free = {p.name: free_per_node(p, daemonsets) for p in pools}
    problems = [q for pod in pods for q in _single_pod(pod, pools, free)]
    if problems:
        return problems
    for bound in ("min", "max"):
        problems += _pack(pods, pools, free, bound)
        if problems:
            break
    return problems
