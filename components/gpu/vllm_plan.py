"""Pure planning for VllmGpuPool: one vLLM server pool on GPU nodes, with spot burst capacity.

Pure module: no Pulumi imports. It holds the pool spec, the hardware it resolves to and the
memory fit of the model. The component checks the spec with
:func:`components.gpu.validate.validate` first, then builds node pools from :func:`node_shape` /
:func:`node_pools`, the Deployment from :func:`components.gpu.specs.vllm_args` /
:func:`components.gpu.specs.container_resources` (pod spec in :mod:`components.gpu.workload`),
and the KEDA ScaledObject from :func:`components.gpu.specs.keda_scaled_object_spec`. The phase
presets are in :mod:`components.gpu.presets`.

Parallelism. One replica is one vLLM server using ``tp x pp`` GPUs. Tensor parallelism splits every
layer across ``tp`` GPUs that talk over NVLink/PCIe on every token, so it stays inside one node and
vLLM requires ``tp`` to divide the attention heads (and the KV heads to divide ``tp`` or the
reverse). Pipeline parallelism would split the layers into ``pp`` stages, one node each, through a
Ray cluster per replica; the pool runs a plain Deployment, so validation refuses ``pp > 1`` and the
counts below carry ``pp`` only for that check. Replicas pack: a node with ``g`` GPUs holds
``g // tp`` replicas.

Memory (checked per replica)::

    need      = weights + kv_reserve + RUNTIME_RESERVE_GIB x tp x pp
    weights   = params x bytes_per_param
    kv_reserve = 2 (K and V) x layers x kv_heads x head_dim x bytes_per_param x max_model_len
    available = tp x pp x gpu_memory_gib x gpu_memory_utilization

``kv_reserve`` is the cache for one full ``max_model_len`` sequence: below it vLLM refuses to start
("max seq len is larger than the maximum number of tokens that can be stored in KV cache"). The
runtime reserve (chosen: 1 GiB per GPU) covers the activations of vLLM's profiling run, CUDA graphs
and the CUDA context, which vLLM takes from the same budget. Llama-2-13b in fp16 needs 28.4 GiB at
4096 tokens: more than one T4 (13.5 GiB usable) or one L4 (20.2 GiB), within one A100 40GB (36 GiB).

Capacity. An on-demand pool holds the base (``min_replicas``); a spot pool of up to
``spot_max_nodes`` takes the burst up to ``max_replicas``. The base on spot alone is refused unless
``spot_only_accepted``: a reclaimed spot node takes the only LLM server down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from enum import StrEnum

from components.gpu.catalog import EKS_INSTANCES, GIB, GKE_MACHINES, Gpu, GpuMachine, LlmModel

RUNTIME_RESERVE_GIB = 1.0
"""Per GPU: activations of vLLM's profiling run, CUDA graphs and context (chosen, see above)."""

GKE_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
EKS_INSTANCE_LABEL = "node.kubernetes.io/instance-type"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
"""Set by NVIDIA GPU feature discovery; the node selector on an existing cluster."""


class Cloud(StrEnum):
    GKE = "gke"
    EKS = "eks"
    EXISTING = "existing"


@dataclass(frozen=True)
class VllmPoolSpec:
    """Everything that decides one vLLM pool. Checked by :func:`validate`, never by construction."""

    model: str
    """Key in :data:`components.gpu.catalog.MODELS`, e.g. ``llama-2-13b-chat``."""
    cloud: Cloud
    accelerator: str
    """GKE: accelerator type (``nvidia-l4``); EKS: instance type (``g6.12xlarge``); existing: the
    ``nvidia.com/gpu.product`` label value (``NVIDIA-L4``)."""
    machine_type: str | None = None
    """GKE only: a machine type that carries ``accelerator`` (``g2-standard-24``)."""
    gpus_per_node: int | None = None
    """GKE: defaults to the machine type's count (N1: the smallest attachable count >= tp);
    EKS: the instance type's, setting it is only checked; existing: unknown when None (the
    tp-fits-a-node check is skipped and each replica is assumed to take a node)."""
    gpu_memory_gib: float | None = None
    """Existing clusters only, required there: memory per GPU as the driver reports it."""
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    """Nodes one replica spans."""
    gpu_memory_utilization: float = 0.9
    max_model_len: int = 4096
    min_replicas: int = 1
    max_replicas: int = 5
    spot_max_nodes: int = 0
    """Burst capacity: the spot node pool's maximum size."""
    on_demand_max_nodes: int | None = None
    """On-demand node pool's maximum; None = exactly the nodes ``min_replicas`` need; 0 = spot only."""
    spot_only_accepted: bool = False
    """Accept the base (``min_replicas``) running on spot nodes that can be reclaimed at any time."""


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


CONFIG_KEYS: dict[str, str] = {f.name: _camel(f.name) for f in fields(VllmPoolSpec)}
"""Spec field -> config key reported in problem paths (``tensorParallelSize``); override per key."""


# --- Hardware -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NodeShape:
    """What one GPU node of the pool looks like, resolved from the spec and the catalogs."""

    gpu: Gpu
    gpus_per_node: int | None
    machine: GpuMachine | None
    node_selector: dict[str, str] = field(default_factory=dict)


def node_shape(spec: VllmPoolSpec) -> NodeShape | None:
    """The node the pool runs on, or None when the spec names hardware the catalogs do not know
    (``validate`` says why)."""
    if spec.cloud == Cloud.GKE:
        machine = GKE_MACHINES.get(spec.machine_type or "")
        if machine is None or machine.accelerator != spec.accelerator:
            return None
        count = spec.gpus_per_node or next(
            (n for n in machine.gpu_counts if n >= spec.tensor_parallel_size), machine.gpu_counts[-1]
        )
        return NodeShape(machine.gpu, count, machine, {GKE_ACCELERATOR_LABEL: spec.accelerator})
    if spec.cloud == Cloud.EKS:
        instance = EKS_INSTANCES.get(spec.accelerator)
        if instance is None:
            return None
        return NodeShape(instance.gpu, instance.gpu_counts[0], instance, {EKS_INSTANCE_LABEL: instance.name})
    if spec.cloud == Cloud.EXISTING and spec.gpu_memory_gib:
        gpu = Gpu(spec.accelerator, spec.gpu_memory_gib, spec.accelerator)
        return NodeShape(gpu, spec.gpus_per_node, None, {GPU_PRODUCT_LABEL: spec.accelerator})
    return None


def pool_shape(spec: VllmPoolSpec) -> str:
    """What a GPU node of the pool is, as a name part: the GKE machine type (with its GPU count where
    the machine takes several, N1 + T4) or the EKS instance type (``g6-12xlarge``). Node pools are
    named by it, never by the phase: a phase move that changes the node creates a new pool beside the
    old one instead of replacing a pool under its own name (which the clouds refuse: the name is taken)."""
    shape = node_shape(spec)
    if shape is None or shape.machine is None:
        raise ValueError(f"no cloud node for {spec.cloud} {spec.accelerator!r}: call validate() before planning")
    if spec.cloud == Cloud.GKE and len(shape.machine.gpu_counts) > 1:
        return f"{shape.machine.name}-{shape.gpus_per_node}gpu"
    return shape.machine.name.replace(".", "-")


def gpus_per_replica(spec: VllmPoolSpec) -> int:
    return spec.tensor_parallel_size * spec.pipeline_parallel_size


def nodes_per_replica(spec: VllmPoolSpec) -> int:
    """Nodes one replica spans: its pipeline stages (a replica never splits a tensor-parallel group)."""
    return spec.pipeline_parallel_size


def nodes_for(spec: VllmPoolSpec, replicas: int) -> int:
    """Nodes that ``replicas`` replicas need; with ``pp == 1`` replicas share nodes when they fit."""
    shape = node_shape(spec)
    gpn = shape.gpus_per_node if shape else None
    if spec.pipeline_parallel_size > 1 or not gpn:
        return replicas * nodes_per_replica(spec)
    per_node = max(1, gpn // max(1, spec.tensor_parallel_size))
    return math.ceil(replicas / per_node)


@dataclass(frozen=True)
class NodePools:
    on_demand_min: int
    on_demand_max: int
    spot_min: int
    spot_max: int


def node_pools(spec: VllmPoolSpec) -> NodePools:
    """Sizes of the on-demand (base) and spot (burst) node pools. Both autoscale; spot from zero."""
    base = nodes_for(spec, spec.min_replicas)
    on_demand_max = base if spec.on_demand_max_nodes is None else spec.on_demand_max_nodes
    return NodePools(min(base, on_demand_max), on_demand_max, 0, spec.spot_max_nodes)


# --- Model fit ------------------------------------------------------------------------------------
def valid_tensor_parallel_sizes(model: LlmModel) -> list[int]:
    """Sizes vLLM starts with: dividing the attention heads, and the KV heads dividing the size or
    the reverse (KV heads are split across GPUs, or replicated when there are fewer)."""
    return [
        tp
        for tp in range(1, model.attention_heads + 1)
        if model.attention_heads % tp == 0 and (model.kv_heads % tp == 0 or tp % model.kv_heads == 0)
    ]


@dataclass(frozen=True)
class MemoryNeed:
    weights_gib: float
    kv_cache_gib: float
    runtime_gib: float

    @property
    def total_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.runtime_gib


def memory_need(model: LlmModel, max_model_len: int, gpus: int) -> MemoryNeed:
    """GPU memory one replica of ``gpus`` GPUs needs (formula in the module docstring)."""
    return MemoryNeed(
        weights_gib=model.weights_bytes / GIB,
        kv_cache_gib=model.kv_bytes_per_token * max_model_len / GIB,
        runtime_gib=RUNTIME_RESERVE_GIB * gpus,
    )


def memory_available_gib(gpu_memory_gib: float, gpus: int, utilization: float) -> float:
    return gpus * gpu_memory_gib * utilization


def fits(model: LlmModel, gpu_memory_gib: float, gpus: int, spec: VllmPoolSpec) -> bool:
    need = memory_need(model, spec.max_model_len, gpus).total_gib
    return need <= memory_available_gib(gpu_memory_gib, gpus, spec.gpu_memory_utilization)
