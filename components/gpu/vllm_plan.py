"""Pure planning for VllmGpuPool: one vLLM server pool on GPU nodes, with spot burst capacity.

Pure module: no Pulumi imports. The component calls :func:`validate` first, then builds node pools
from :func:`node_shape` / :func:`node_pools`, the Deployment from :func:`vllm_args` /
:func:`container_resources`, and the KEDA ScaledObject from :func:`keda_scaled_object_spec`.

Parallelism. One replica is one vLLM server using ``tp x pp`` GPUs. Tensor parallelism splits every
layer across ``tp`` GPUs that talk over NVLink/PCIe on every token, so it stays inside one node and
vLLM requires ``tp`` to divide the attention heads (and the KV heads to divide ``tp`` or the
reverse). Pipeline parallelism splits the layers into ``pp`` stages, one node each (``tp`` must then
equal the node's GPU count, otherwise Ray may pack stages onto one node and the node counts below
are wrong). With ``pp == 1`` replicas pack: a node with ``g`` GPUs holds ``g // tp`` replicas.

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

Phase presets (seed 001: ``--tensor-parallel-size`` 1 -> 2 -> 3 -> 4, phase 4 "2 servers"):
phase 1 one GPU large enough for 13B fp16 (A100 40GB on GKE, L40S on EKS); phase 2 tp 2 on L4;
phase 3 tp 4 on L4, not 3 (3 does not divide Llama-2-13b's 40 heads); phase 4 two tp-4 replicas
on two nodes, **not** one pipeline-parallel replica across them. Chosen because 13B already fits
one 4-GPU node with room for KV cache, so a second node adds most when it is a second independent
server: it doubles throughput, survives the loss of either node (a spot reclaim included) and
keeps every token's traffic on the node, where pipeline parallelism would send activations over
the network at every stage boundary, idle half the GPUs in pipeline bubbles at low batch sizes
and make one replica that fails as a whole. Pipeline parallelism stays available
(``pipeline_parallel_size``) for models that do not fit one node, such as a 70B on L4s.

Autoscaling (seed 001): scale up when GPU utilisation > 85% or queue > 20 or mean latency > 5 s for
three checks in a row, checks every 30 s, scale down after a 10-minute cool-down, 1 to 5 workers.
See :func:`keda_scaled_object_spec`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum

from components.gpu.catalog import (
    EKS_INSTANCES,
    GIB,
    GKE_ACCELERATORS,
    GKE_MACHINES,
    MODELS,
    Gpu,
    GpuMachine,
    LlmModel,
    gke_machines_for,
)
from components.problems import Problem

VLLM_PORT = 8000
RUNTIME_RESERVE_GIB = 1.0
"""Per GPU: activations of vLLM's profiling run, CUDA graphs and context (chosen, see above)."""
REQUEST_SHARE = 0.75
"""Share of a node's CPU and memory (pro rata to the GPUs a pod takes) that the pod requests;
the rest is left for the kubelet reserve and daemonsets (GPU and node exporters, logging)."""
DEFAULT_MODEL = "llama-2-13b-chat"

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


def _nearest(valid: list[int], tp: int) -> str:
    below = [v for v in valid if v < tp]
    above = [v for v in valid if v > tp]
    return " or ".join(str(v) for v in (below[-1:] + above[:1]))


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


def _bigger_hardware(spec: VllmPoolSpec, model: LlmModel) -> str:
    """The smallest catalog hardware of the spec's cloud that holds the model at the same tp x pp."""
    gpus = gpus_per_replica(spec)
    tp = spec.tensor_parallel_size
    if spec.cloud == Cloud.GKE:
        for accel, gpu in sorted(GKE_ACCELERATORS.items(), key=lambda kv: kv[1].memory_gib):
            machines = [
                m for m in gke_machines_for(accel) if any(n >= tp for n in GKE_MACHINES[m].gpu_counts)
            ]
            if machines and fits(model, gpu.memory_gib, gpus, spec):
                return f"{accel} ({gpu.memory_gib:.1f} GiB) on {machines[0]}"
    elif spec.cloud == Cloud.EKS:
        candidates = sorted(
            (m for m in EKS_INSTANCES.values() if m.gpu_counts[0] >= tp),
            key=lambda m: (m.gpu_counts[0], m.gpu.memory_gib, m.vcpus),
        )
        for m in candidates:
            if fits(model, m.gpu.memory_gib, gpus, spec):
                return f"{m.name} ({m.gpu_counts[0]} x {m.gpu.name}, {m.gpu.memory_gib:.1f} GiB each)"
    return ""


# --- Validation -----------------------------------------------------------------------------------
_At = Callable[[str, object, str], Problem]
"""``at(field_name, value, expected)``: a Problem at that field's config path."""


def validate(spec: VllmPoolSpec, path_prefix: str, keys: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem with ``spec``, each at ``f"{path_prefix}.{key}"`` where ``key`` is the field's
    :data:`CONFIG_KEYS` entry unless ``keys`` maps that field name to another config key (e.g.
    ``{"accelerator": "gkeAccelerator"}``). Checks that need sane numbers or known hardware are
    skipped while those are wrong, so each mistake is reported once."""
    names = {**CONFIG_KEYS, **(keys or {})}

    def at(field_name: str, value: object, expected: str) -> Problem:
        return Problem(f"{path_prefix}.{names[field_name]}", value, expected)

    numbers = _number_problems(spec, at)
    hardware = _hardware_problems(spec, at)
    shape = None if hardware else node_shape(spec)
    problems = numbers + hardware
    if spec.tensor_parallel_size >= 1 and spec.pipeline_parallel_size >= 1:
        problems += _model_problems(spec, at, shape)
        if shape is not None:
            problems += _node_problems(spec, at, shape)
        if shape is not None and not numbers:
            problems += _capacity_problems(spec, at)
    return problems


def _number_problems(spec: VllmPoolSpec, at: _At) -> list[Problem]:
    out = [
        at(name, getattr(spec, name), "1 or more")
        for name in ("tensor_parallel_size", "pipeline_parallel_size", "max_model_len", "max_replicas")
        if getattr(spec, name) < 1
    ]
    out += [
        at(name, getattr(spec, name), "0 or more")
        for name in ("min_replicas", "spot_max_nodes", "on_demand_max_nodes")
        if (getattr(spec, name) or 0) < 0
    ]
    if not 0 < spec.gpu_memory_utilization <= 1:
        msg = "a fraction in (0, 1]; vLLM's default is 0.9"
        out.append(at("gpu_memory_utilization", spec.gpu_memory_utilization, msg))
    if spec.min_replicas > spec.max_replicas:
        out.append(at("min_replicas", spec.min_replicas, f"at most maxReplicas ({spec.max_replicas})"))
    return out


def _hardware_problems(spec: VllmPoolSpec, at: _At) -> list[Problem]:
    out: list[Problem] = []
    if spec.cloud == Cloud.GKE:
        if spec.accelerator not in GKE_ACCELERATORS:
            return [
                at("accelerator", spec.accelerator, f"a GKE accelerator type: {', '.join(GKE_ACCELERATORS)}")
            ]
        carriers = ", ".join(gke_machines_for(spec.accelerator))
        machine = GKE_MACHINES.get(spec.machine_type or "")
        if machine is None:
            msg = f"a machine type that carries {spec.accelerator}: {carriers}"
            return [at("machine_type", spec.machine_type, msg)]
        if machine.accelerator != spec.accelerator:
            msg = (
                f"{machine.name} does not carry {spec.accelerator} (it carries {machine.accelerator}); "
                f"machine types with {spec.accelerator}: {carriers}"
            )
            return [at("machine_type", spec.machine_type, msg)]
        if spec.gpus_per_node is not None and spec.gpus_per_node not in machine.gpu_counts:
            msg = f"{machine.name} takes {' or '.join(map(str, machine.gpu_counts))} x {spec.accelerator}"
            out.append(at("gpus_per_node", spec.gpus_per_node, msg))
    elif spec.cloud == Cloud.EKS:
        instance = EKS_INSTANCES.get(spec.accelerator)
        if instance is None:
            return [
                at("accelerator", spec.accelerator, f"an EKS GPU instance type: {', '.join(EKS_INSTANCES)}")
            ]
        if spec.gpus_per_node is not None and spec.gpus_per_node != instance.gpu_counts[0]:
            msg = f"{instance.name} has {instance.gpu_counts[0]} GPUs"
            out.append(at("gpus_per_node", spec.gpus_per_node, msg))
    elif spec.cloud == Cloud.EXISTING:
        if not spec.gpu_memory_gib or spec.gpu_memory_gib <= 0:
            msg = "memory per GPU in GiB, required on an existing cluster"
            out.append(at("gpu_memory_gib", spec.gpu_memory_gib, msg))
        if spec.gpus_per_node is not None and spec.gpus_per_node < 1:
            out.append(at("gpus_per_node", spec.gpus_per_node, "1 or more"))
    else:
        return [at("cloud", spec.cloud, f"one of {', '.join(Cloud)}")]
    if spec.cloud != Cloud.GKE and spec.machine_type is not None:
        out.append(at("machine_type", spec.machine_type, f"only for GKE; not used on {spec.cloud}"))
    return out


def _model_problems(spec: VllmPoolSpec, at: _At, shape: NodeShape | None) -> list[Problem]:
    model = MODELS.get(spec.model)
    if model is None:
        return [at("model", spec.model, f"one of {', '.join(MODELS)}")]
    out: list[Problem] = []
    tp, valid = spec.tensor_parallel_size, valid_tensor_parallel_sizes(model)
    refusal = f"so vLLM refuses to start; use {_nearest(valid, tp)}"
    if model.attention_heads % tp:
        msg = f"{tp} does not divide the {model.attention_heads} attention heads of {model.hf_id}, {refusal}"
        out.append(at("tensor_parallel_size", tp, msg))
    elif tp not in valid:
        msg = f"{tp} and the {model.kv_heads} KV heads of {model.hf_id} must divide one another, {refusal}"
        out.append(at("tensor_parallel_size", tp, msg))
    if spec.pipeline_parallel_size > model.layers:
        msg = f"at most the {model.layers} layers of {model.hf_id}"
        out.append(at("pipeline_parallel_size", spec.pipeline_parallel_size, msg))
    if spec.max_model_len > model.max_context:
        msg = f"at most the {model.max_context}-token context of {model.hf_id}"
        out.append(at("max_model_len", spec.max_model_len, msg))
    elif shape is not None and spec.max_model_len >= 1 and 0 < spec.gpu_memory_utilization <= 1:
        out += _memory_problems(spec, at, model, shape)
    return out


def _memory_problems(spec: VllmPoolSpec, at: _At, model: LlmModel, shape: NodeShape) -> list[Problem]:
    gpus, pp = gpus_per_replica(spec), spec.pipeline_parallel_size
    need = memory_need(model, spec.max_model_len, gpus)
    have = memory_available_gib(shape.gpu.memory_gib, gpus, spec.gpu_memory_utilization)
    if need.total_gib <= have:
        return []
    larger_tp = [
        t
        for t in valid_tensor_parallel_sizes(model)
        if t > spec.tensor_parallel_size and fits(model, shape.gpu.memory_gib, t * pp, spec)
    ]
    remedies = [f"tensorParallelSize {larger_tp[0]}"] if larger_tp else []
    bigger = _bigger_hardware(spec, model)
    remedies.append(f"an accelerator with more memory, e.g. {bigger}" if bigger else "GPUs with more memory")
    msg = (
        f"{model.hf_id} needs {need.total_gib:.1f} GiB ({need.weights_gib:.1f} GiB {model.dtype} weights + "
        f"{need.kv_cache_gib:.1f} GiB KV cache for one {spec.max_model_len}-token sequence + "
        f"{need.runtime_gib:.1f} GiB runtime at {RUNTIME_RESERVE_GIB:g} GiB per GPU) but {gpus} x {shape.gpu.name} "
        f"({shape.gpu.memory_gib:.1f} GiB) at gpuMemoryUtilization {spec.gpu_memory_utilization:g} give "
        f"{have:.1f} GiB; use {' or '.join(remedies)}"
    )
    return [at("accelerator", spec.accelerator, msg)]


def _node_problems(spec: VllmPoolSpec, at: _At, shape: NodeShape) -> list[Problem]:
    tp, pp, gpn = spec.tensor_parallel_size, spec.pipeline_parallel_size, shape.gpus_per_node
    where = shape.machine.name if shape.machine else spec.accelerator
    out: list[Problem] = []
    if gpn is not None and tp > gpn:
        msg = (
            f"tensor parallelism stays inside one node: {tp} is more than the {gpn} GPUs per node of "
            f"{where}; use a machine type with {tp} GPUs or more, or pipelineParallelSize to span nodes"
        )
        out.append(at("tensor_parallel_size", tp, msg))
    elif gpn is not None and pp > 1 and tp != gpn:
        msg = (
            f"a replica spanning {pp} nodes takes whole nodes: tensorParallelSize must equal the {gpn} "
            f"GPUs per node of {where} (got {tp})"
        )
        out.append(at("pipeline_parallel_size", pp, msg))
    if shape.machine and not shape.machine.on_demand and node_pools(spec).on_demand_max > 0:
        msg = (
            f"{where} is sold as spot or flex-start capacity only, so its on-demand pool cannot start; "
            "use a larger machine type, or onDemandMaxNodes 0 with spotOnlyAccepted: true"
        )
        out.append(at("machine_type", spec.machine_type, msg))
    return out


def _capacity_problems(spec: VllmPoolSpec, at: _At) -> list[Problem]:
    out: list[Problem] = []
    pools = node_pools(spec)
    base = nodes_for(spec, spec.min_replicas)
    if spec.min_replicas > 0 and pools.on_demand_max < base and not spec.spot_only_accepted:
        msg = (
            f"{spec.min_replicas} replica(s) need {base} on-demand node(s) but onDemandMaxNodes is "
            f"{pools.on_demand_max}, so the always-on LLM would run on spot nodes that can be reclaimed "
            f"at any time; raise onDemandMaxNodes to {base}, or set spotOnlyAccepted: true"
        )
        out.append(at("min_replicas", spec.min_replicas, msg))
    peak = nodes_for(spec, spec.max_replicas)
    if peak > pools.on_demand_max + pools.spot_max:
        msg = (
            f"{spec.max_replicas} replica(s) need {peak} node(s) but the pools give "
            f"{pools.on_demand_max + pools.spot_max} (on-demand {pools.on_demand_max} + spot "
            f"{pools.spot_max}); raise spotMaxNodes to {peak - pools.on_demand_max}"
        )
        out.append(at("max_replicas", spec.max_replicas, msg))
    return out


# --- Kubernetes specs -----------------------------------------------------------------------------
def _model_of(spec: VllmPoolSpec) -> LlmModel:
    model = MODELS.get(spec.model)
    if model is None:
        raise ValueError(f"unknown model {spec.model!r}: call validate() before planning")
    return model


def vllm_args(spec: VllmPoolSpec) -> list[str]:
    """Arguments of the ``vllm/vllm-openai`` container (its entrypoint is the API server).
    Multi-node replicas (``pp > 1``) use vLLM's Ray executor."""
    model = _model_of(spec)
    args = [
        "--model", model.hf_id,
        "--served-model-name", model.key,
        "--tensor-parallel-size", str(spec.tensor_parallel_size),
    ]  # fmt: skip
    if spec.pipeline_parallel_size > 1:
        args += [
            "--pipeline-parallel-size",
            str(spec.pipeline_parallel_size),
            "--distributed-executor-backend",
            "ray",
        ]
    return [
        *args,
        "--gpu-memory-utilization", f"{spec.gpu_memory_utilization:g}",
        "--max-model-len", str(spec.max_model_len),
        "--port", str(VLLM_PORT),
    ]  # fmt: skip


def container_resources(spec: VllmPoolSpec) -> dict[str, dict[str, str]]:
    """Requests and limits of one vLLM pod (one pipeline stage): ``tp`` GPUs, and when the machine
    is known, :data:`REQUEST_SHARE` of its CPU and memory pro rata to those GPUs (memory limit =
    request, so a pod is never OOM-killed for its neighbour's use)."""
    gpus = str(spec.tensor_parallel_size)
    out: dict[str, dict[str, str]] = {
        "requests": {"nvidia.com/gpu": gpus},
        "limits": {"nvidia.com/gpu": gpus},
    }
    shape = node_shape(spec)
    if shape and shape.machine and shape.gpus_per_node:
        share = spec.tensor_parallel_size / shape.gpus_per_node * REQUEST_SHARE
        cpu = max(1, math.floor(shape.machine.vcpus * share))
        memory = f"{max(1, math.floor(shape.machine.memory_gib * share))}Gi"
        out["requests"] |= {"cpu": str(cpu), "memory": memory}
        out["limits"] |= {"memory": memory}
    return out


@dataclass(frozen=True)
class GpuAutoscaling:
    """The seeds' GPU autoscaler (001), as KEDA and HPA settings."""

    queue_per_replica: int = 20
    """``vllm:num_requests_waiting`` per replica above which to scale up."""
    gpu_util_percent: int = 85
    mean_latency_s: float | None = 5.0
    """Mean end-to-end request latency; None leaves the trigger out."""
    check_interval_s: int = 30
    scale_up_checks: int = 3
    """Consecutive high readings before a scale-up."""
    cooldown_s: int = 600


def keda_scaled_object_spec(
    spec: VllmPoolSpec,
    deployment: str,
    namespace: str,
    prometheus_url: str,
    autoscaling: GpuAutoscaling | None = None,
    target_api_version: str = "apps/v1",
    target_kind: str = "Deployment",
) -> dict[str, object]:
    """``spec`` of a ``keda.sh/v1alpha1`` ScaledObject that scales ``deployment`` between
    ``min_replicas`` and ``max_replicas``.

    Triggers (any one high scales up; the HPA takes the largest recommendation, so scale-down
    needs all of them low): queue length per replica (``AverageValue``: replicas = ceil(queue /
    20)), mean GPU utilisation of the pool's pods and mean request latency (``Value``: replicas
    grow in proportion to value / target). KEDA polls Prometheus every ``check_interval_s`` and the
    triggers use cached metrics, so the HPA sees one reading per check. Scale-up stabilisation of
    ``scale_up_checks x check_interval_s`` (90 s) makes the HPA act only on three high readings in
    a row, adding one replica per such window; scale-down stabilisation and ``cooldownPeriod``
    (the latter counts only for a scale to zero) are the 10-minute cool-down, removing one
    replica per cool-down. The DCGM selector needs the exporter's pod labels kept at scrape time
    (``honorLabels: true`` on its ServiceMonitor), which the MonitoringStack sets.
    """
    policy = autoscaling or GpuAutoscaling()
    model = _model_of(spec)
    vllm_sel = f'namespace="{namespace}",model_name="{model.key}"'
    dcgm_sel = f'namespace="{namespace}",pod=~"{deployment}-[a-z0-9]+-[a-z0-9]+"'
    queries: list[tuple[str, str, str, float]] = [
        (
            "vllm-queue",
            "AverageValue",
            f"sum(vllm:num_requests_waiting{{{vllm_sel}}})",
            policy.queue_per_replica,
        ),
        ("gpu-utilization", "Value", f"avg(DCGM_FI_DEV_GPU_UTIL{{{dcgm_sel}}})", policy.gpu_util_percent),
    ]
    if policy.mean_latency_s is not None:
        latency = (
            f"sum(rate(vllm:e2e_request_latency_seconds_sum{{{vllm_sel}}}[2m])) / "
            f"(sum(rate(vllm:e2e_request_latency_seconds_count{{{vllm_sel}}}[2m])) > 0) or vector(0)"
        )
        queries.append(("mean-latency", "Value", latency, policy.mean_latency_s))
    triggers = [
        {
            "type": "prometheus",
            "name": name,
            "metricType": metric_type,
            "useCachedMetrics": True,
            "metadata": {"serverAddress": prometheus_url, "query": query, "threshold": f"{threshold:g}"},
        }
        for name, metric_type, query, threshold in queries
    ]
    up_window = policy.scale_up_checks * policy.check_interval_s
    return {
        "scaleTargetRef": {"apiVersion": target_api_version, "kind": target_kind, "name": deployment},
        "pollingInterval": policy.check_interval_s,
        "cooldownPeriod": policy.cooldown_s,
        "minReplicaCount": spec.min_replicas,
        "maxReplicaCount": spec.max_replicas,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": deployment,
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": up_window,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": up_window}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": policy.cooldown_s,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": policy.cooldown_s}],
                    },
                },
            }
        },
        "triggers": triggers,
    }


# --- Phase presets --------------------------------------------------------------------------------
@dataclass(frozen=True)
class PhasePreset:
    """One phase's pool: parallelism, bounds and the default hardware on each cloud."""

    tensor_parallel_size: int
    pipeline_parallel_size: int
    min_replicas: int
    max_replicas: int
    spot_max_nodes: int
    gke_accelerator: str
    gke_machine_type: str
    eks_instance_type: str
    model: str = DEFAULT_MODEL

    def spec(
        self,
        cloud: Cloud,
        existing_accelerator: str | None = None,
        existing_gpu_memory_gib: float | None = None,
        existing_gpus_per_node: int | None = None,
    ) -> VllmPoolSpec:
        """The pool spec on ``cloud``. An existing cluster defaults to the GKE choice's GPU
        (its ``nvidia.com/gpu.product`` label, memory and GPUs per node)."""
        base = VllmPoolSpec(
            model=self.model,
            cloud=cloud,
            accelerator="",
            tensor_parallel_size=self.tensor_parallel_size,
            pipeline_parallel_size=self.pipeline_parallel_size,
            min_replicas=self.min_replicas,
            max_replicas=self.max_replicas,
            spot_max_nodes=self.spot_max_nodes,
        )
        if cloud == Cloud.GKE:
            return replace(base, accelerator=self.gke_accelerator, machine_type=self.gke_machine_type)
        if cloud == Cloud.EKS:
            return replace(base, accelerator=self.eks_instance_type)
        machine = GKE_MACHINES[self.gke_machine_type]
        return replace(
            base,
            accelerator=existing_accelerator or machine.gpu.product_label,
            gpu_memory_gib=existing_gpu_memory_gib or machine.gpu.memory_gib,
            gpus_per_node=existing_gpus_per_node or machine.gpu_counts[-1],
        )


# fmt: off
PHASE_PRESETS: dict[int, PhasePreset] = {
    #               tp  pp  min max spot  GKE accelerator       GKE machine       EKS instance
    1: PhasePreset(1,  1,  1,  2,  1,    "nvidia-tesla-a100",  "a2-highgpu-1g",  "g6e.xlarge"),
    2: PhasePreset(2,  1,  1,  3,  2,    "nvidia-l4",          "g2-standard-24", "g6.12xlarge"),
    3: PhasePreset(4,  1,  1,  5,  4,    "nvidia-l4",          "g2-standard-48", "g6.12xlarge"),
    4: PhasePreset(4,  1,  2,  5,  3,    "nvidia-l4",          "g2-standard-48", "g6.12xlarge"),
}
"""Llama-2-13b-chat per phase (seed 001): 1 GPU, tp 2, tp 4 (not 3), two tp-4 servers on two
nodes. Phase 1 needs one GPU of 32 GiB or more (A100 40GB, L40S 48GB): a T4 or L4 cannot hold
13B fp16. On EKS, tp 2 runs two replicas per 4-GPU g6.12xlarge (no g-family instance has 2 GPUs)."""
# fmt: on
