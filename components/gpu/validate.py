"""Validation of a :class:`components.gpu.vllm_plan.VllmPoolSpec`: every problem with the spec,
each at its config path, with the exact remedy (nearest valid tensor-parallel size, hardware with
more memory, capacity to add). Pure module: no Pulumi imports."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from components.gpu.catalog import (
    EKS_INSTANCES,
    GKE_ACCELERATORS,
    GKE_MACHINES,
    MODELS,
    LlmModel,
    gke_machines_for,
)
from components.gpu.vllm_plan import (
    CONFIG_KEYS,
    RUNTIME_RESERVE_GIB,
    Cloud,
    NodeShape,
    VllmPoolSpec,
    fits,
    gpus_per_replica,
    memory_available_gib,
    memory_need,
    node_pools,
    node_shape,
    nodes_for,
    valid_tensor_parallel_sizes,
)
from components.problems import Problem

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
    if spec.pipeline_parallel_size > 1:
        return [*problems, _multi_node_problem(spec, at)]
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


def _multi_node_problem(spec: VllmPoolSpec, at: _At) -> Problem:
    """Refused: a replica spanning nodes needs vLLM's Ray executor with one Ray cluster per replica,
    whose head blocks until its workers (started with the head's address) join
    (vllm-project/vllm examples/online_serving/multi-node-serving.sh; docs/serving/parallelism_scaling.md;
    the production stack does it with KubeRay). A Deployment's pods are independent peers with no head
    address, so they never form one; LeaderWorkerSet or KubeRay would, and neither is deployed here."""
    if spec.cloud == Cloud.GKE:
        eight = "g2-standard-96, a2-highgpu-8g, a3-highgpu-8g"
    else:
        eight = "g6e.48xlarge, p4d.24xlarge, p5.48xlarge"
    msg = (
        "1: a replica spanning nodes needs a Ray cluster (or LeaderWorkerSet) per replica, which this "
        "Deployment cannot form, so its pods would wait for their peers forever; serve the model on one node "
        f"with tensorParallelSize up to the node's GPUs (8-GPU machines: {eight})"
    )
    return at("pipeline_parallel_size", spec.pipeline_parallel_size, msg)


def _nearest(valid: list[int], tp: int) -> str:
    below = [v for v in valid if v < tp]
    above = [v for v in valid if v > tp]
    return " or ".join(str(v) for v in (below[-1:] + above[:1]))


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
    tp, gpn = spec.tensor_parallel_size, shape.gpus_per_node
    where = shape.machine.name if shape.machine else spec.accelerator
    out: list[Problem] = []
    if gpn is not None and tp > gpn:
        msg = (
            f"tensor parallelism stays inside one node: {tp} is more than the {gpn} GPUs per node of "
            f"{where}; use a machine type with {tp} GPUs or more"
        )
        out.append(at("tensor_parallel_size", tp, msg))
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
