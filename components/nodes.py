"""Node shapes and what a node offers pods: the machine types the program may ask for, the cloud's
documented system reserve, and the cloud's own DaemonSets. Pure module: no Pulumi imports.

Allocatable = capacity - kube-reserved - system-reserved - hard eviction threshold (Kubernetes
"Reserve Compute Resources for System Daemons"). Capacity is the machine's nominal vCPU and memory
(the kernel keeps a little of it, so real nodes have slightly less; the data pool's margin covers it).

- **GKE** (Standard node pools, "Plan GKE Standard node sizes", section "Memory and CPU
  reservations", cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes): memory 255 MiB
  on machines under 1 GiB, else 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6%
  of the next 112 and 2% above 128 GiB; plus a 100 MiB eviction threshold. CPU 6% of the first
  core, 1% of the next, 0.5% of the next two and 0.25% above four.
- **EKS, Amazon Linux 2023** (nodeadm, awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/config.go``:
  ``getCPUMillicoresToReserve``, ``GetMemoryMebibytesToReserve``, ``evictionHard``): kube-reserved
  memory ``11 x maxPods + 255`` MiB, CPU the same staircase as GKE, no system-reserved,
  ``memory.available<100Mi``. maxPods is the ENI limit of ``eni-max-pods.txt`` (same repository)
  unless a launch template says otherwise, which ours do not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from components.gpu.catalog import EKS_INSTANCES, GKE_MACHINES


class Cloud(StrEnum):
    GKE = "gke"
    EKS = "eks"


@dataclass(frozen=True)
class Machine:
    name: str
    vcpus: int
    memory_gib: float
    gpus: int = 0


@dataclass(frozen=True)
class Capacity:
    """CPU (millicores), memory (MiB) and GPUs: what a node offers or a pod requests."""

    cpu_m: int
    memory_mib: int
    gpus: int = 0

    def __sub__(self, other: Capacity) -> Capacity:
        return Capacity(self.cpu_m - other.cpu_m, self.memory_mib - other.memory_mib, self.gpus - other.gpus)

    def __add__(self, other: Capacity) -> Capacity:
        return Capacity(self.cpu_m + other.cpu_m, self.memory_mib + other.memory_mib, self.gpus + other.gpus)

    def holds(self, other: Capacity) -> bool:
        return self.cpu_m >= other.cpu_m and self.memory_mib >= other.memory_mib and self.gpus >= other.gpus

    def render(self) -> str:
        gpus = f", {self.gpus} GPU" if self.gpus else ""
        return f"{self.cpu_m}m CPU, {self.memory_mib} MiB{gpus}"


# General-purpose shapes (Compute Engine "General-purpose machine family"; EC2 "General purpose" and
# "Memory optimized" instance pages). GPU machines come from components.gpu.catalog.
_GENERAL = {
    Cloud.GKE: [
        *(Machine(f"e2-standard-{n}", n, 4 * n) for n in (2, 4, 8, 16, 32)),
        *(Machine(f"n2-standard-{n}", n, 4 * n) for n in (2, 4, 8, 16, 32, 48, 64)),
        *(Machine(f"n2-highmem-{n}", n, 8 * n) for n in (2, 4, 8, 16, 32, 48, 64)),
    ],
    Cloud.EKS: [
        *(Machine(f"{f}.{size}", n, 4 * n) for f in ("m6i", "m7i") for size, n in
          (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48), ("16xlarge", 64))),
        *(Machine(f"{f}.{size}", n, 8 * n) for f in ("r6i", "r7i") for size, n in
          (("large", 2), ("xlarge", 4), ("2xlarge", 8), ("4xlarge", 16), ("8xlarge", 32), ("12xlarge", 48), ("16xlarge", 64))),
    ],
}

MACHINES: dict[Cloud, dict[str, Machine]] = {
    Cloud.GKE: {m.name: m for m in _GENERAL[Cloud.GKE]}
    | {m.name: Machine(m.name, m.vcpus, m.memory_gib, m.gpu_counts[-1]) for m in GKE_MACHINES.values()},
    Cloud.EKS: {m.name: m for m in _GENERAL[Cloud.EKS]}
    | {m.name: Machine(m.name, m.vcpus, m.memory_gib, m.gpu_counts[0]) for m in EKS_INSTANCES.values()},
}
"""Every machine type whose shape is known, per cloud."""

_ENI_BY_SIZE = {"large": 29, "xlarge": 58, "2xlarge": 58, "4xlarge": 234, "8xlarge": 234, "12xlarge": 234, "16xlarge": 737}
ENI_MAX_PODS: dict[str, int] = {
    **{f"{f}.{size}": n for f in ("m6i", "m7i", "r6i", "r7i") for size, n in _ENI_BY_SIZE.items()},
    "g5.xlarge": 58, "g5.2xlarge": 58, "g5.4xlarge": 234, "g5.8xlarge": 234, "g5.12xlarge": 737,
    "g5.16xlarge": 234, "g5.24xlarge": 737, "g5.48xlarge": 345,
    "g6.xlarge": 58, "g6.2xlarge": 58, "g6.4xlarge": 234, "g6.8xlarge": 234, "g6.12xlarge": 234,
    "g6.16xlarge": 737, "g6.24xlarge": 737, "g6.48xlarge": 737,
    "g6e.xlarge": 58, "g6e.2xlarge": 58, "g6e.4xlarge": 234, "g6e.8xlarge": 234, "g6e.12xlarge": 292,
    "g6e.16xlarge": 737, "g6e.24xlarge": 492, "g6e.48xlarge": 492,
    "p4d.24xlarge": 737, "p4de.24xlarge": 737, "p5.48xlarge": 100, "p5e.48xlarge": 100,
}  # fmt: skip
"""maxPods of each EKS instance type (awslabs/amazon-eks-ami ``nodeadm/internal/kubelet/eni-max-pods.txt``)."""

EVICTION_MIB = 100
"""``memory.available<100Mi`` on both clouds."""


def cpu_reserve_m(vcpus: int) -> int:
    """6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% above (GKE and nodeadm)."""
    total = vcpus * 1000
    out = 0.0
    for start, end, share in ((0, 1000, 0.06), (1000, 2000, 0.01), (2000, 4000, 0.005), (4000, total, 0.0025)):
        if total > start:
            out += (min(total, end) - start) * share
    return int(out)


def gke_memory_reserve_mib(memory_gib: float) -> int:
    """GKE's kube-reserved memory: 255 MiB under 1 GiB, else the 25/20/10/6/2% staircase."""
    if memory_gib < 1:
        return 255
    out = 0.0
    for start, end, share in ((0, 4, 0.25), (4, 8, 0.20), (8, 16, 0.10), (16, 128, 0.06), (128, memory_gib, 0.02)):
        if memory_gib > start:
            out += (min(memory_gib, end) - start) * share
    return int(out * 1024)


def eks_memory_reserve_mib(max_pods: int) -> int:
    """nodeadm's kube-reserved memory on AL2023."""
    return 11 * max_pods + 255


def allocatable(cloud: Cloud, machine: Machine) -> Capacity:
    """What the kubelet offers pods on ``machine`` (before any DaemonSet)."""
    memory_mib = int(machine.memory_gib * 1024)
    if cloud is Cloud.GKE:
        reserved = gke_memory_reserve_mib(machine.memory_gib)
    else:
        reserved = eks_memory_reserve_mib(ENI_MAX_PODS[machine.name])
    return Capacity(machine.vcpus * 1000 - cpu_reserve_m(machine.vcpus), memory_mib - reserved - EVICTION_MIB, machine.gpus)


def known(cloud: Cloud, machine_type: str) -> bool:
    """Whether the shape (and on EKS the maxPods) of ``machine_type`` is known."""
    return machine_type in MACHINES[cloud] and (cloud is Cloud.GKE or machine_type in ENI_MAX_PODS)


# The clouds' own DaemonSets, on every node (they tolerate every taint). chosen: neither cloud
# publishes a table of their requests, so these are the requests in the add-ons' own manifests,
# rounded up: EKS aws-node 25m (amazon-vpc-cni-k8s config/master/aws-k8s-cni.yaml), kube-proxy 100m
# (EKS add-on), ebs-csi-node 3 containers x 10m / 40Mi (aws-ebs-csi-driver chart), eks-pod-identity-agent
# 25m; GKE Dataplane V2's anetd, fluentbit-gke, gke-metrics-agent, pdcsi-node and netd, taken as
# 400m / 512 MiB of headroom.
CLOUD_DAEMONSETS = {
    Cloud.GKE: Capacity(400, 512),
    Cloud.EKS: Capacity(200, 256),
}
