"""VllmGpuPool validation: one test per rule with the exact message, and properties."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.gpu import catalog as gc
from components.gpu import presets as pr
from components.gpu import validate as vv
from components.gpu import vllm_plan as vp
from components.gpu.vllm_plan import Cloud, VllmPoolSpec
from tests.gpu.common import P, gke


def rendered(spec: VllmPoolSpec, **kw: Any) -> list[str]:
    return [p.render() for p in vv.validate(spec, P, **kw)]


# --- validation: one test per rule, with the exact message ------------------------------------------
def test_tp_3_on_llama_2_13b_is_refused_with_the_nearest_sizes() -> None:
    assert rendered(gke(tensor_parallel_size=3)) == [
        f"{P}.tensorParallelSize: got 3; 3 does not divide the 40 attention heads of "
        "meta-llama/Llama-2-13b-chat-hf, so vLLM refuses to start; use 2 or 4"
    ]


def test_tp_that_divides_the_heads_but_not_the_kv_heads_is_refused() -> None:
    spec = VllmPoolSpec(
        model="qwen2.5-32b-instruct", cloud=Cloud.EXISTING, accelerator="NVIDIA-H100-80GB-HBM3",
        gpu_memory_gib=79.65, gpus_per_node=8, tensor_parallel_size=5, max_replicas=1,
    )  # fmt: skip
    assert rendered(spec) == [
        f"{P}.tensorParallelSize: got 5; 5 and the 8 KV heads of Qwen/Qwen2.5-32B-Instruct must divide one "
        "another, so vLLM refuses to start; use 4 or 8"
    ]


def test_13b_on_one_t4_is_refused_with_the_memory_figures() -> None:
    spec = gke(accelerator="nvidia-tesla-t4", machine_type="n1-standard-8", tensor_parallel_size=1)
    assert rendered(spec) == [
        f"{P}.accelerator: got 'nvidia-tesla-t4'; meta-llama/Llama-2-13b-chat-hf needs 28.4 GiB "
        "(24.3 GiB float16 weights + 3.1 GiB KV cache for one 4096-token sequence + 1.0 GiB runtime at "
        "1 GiB per GPU) but 1 x NVIDIA T4 16GB (15.0 GiB) at gpuMemoryUtilization 0.9 give 13.5 GiB; "
        "use tensorParallelSize 4 or an accelerator with more memory, e.g. nvidia-tesla-a100 (40.0 GiB) "
        "on a2-highgpu-1g"
    ]


def test_13b_on_four_t4_fits() -> None:
    assert rendered(gke(accelerator="nvidia-tesla-t4", machine_type="n1-standard-16")) == []


def test_13b_on_one_a10g_suggests_tp_2_or_a_single_l40s() -> None:
    spec = replace(pr.PHASE_PRESETS[1].spec(Cloud.EKS), accelerator="g5.xlarge")
    (problem,) = rendered(spec)
    assert "1 x NVIDIA A10G 24GB (22.5 GiB) at gpuMemoryUtilization 0.9 give 20.2 GiB" in problem
    assert problem.endswith(
        "use tensorParallelSize 2 or an accelerator with more memory, e.g. g6e.xlarge "
        "(1 x NVIDIA L40S 48GB, 45.0 GiB each)"
    )


def test_machine_type_without_the_accelerator() -> None:
    assert rendered(gke(machine_type="n1-standard-8")) == [
        f"{P}.machineType: got 'n1-standard-8'; n1-standard-8 does not carry nvidia-l4 (it carries "
        "nvidia-tesla-t4); machine types with nvidia-l4: g2-standard-4, g2-standard-8, g2-standard-12, "
        "g2-standard-16, g2-standard-24, g2-standard-32, g2-standard-48, g2-standard-96"
    ]


def test_gpu_count_the_machine_type_does_not_have() -> None:
    assert rendered(gke(machine_type="g2-standard-48", gpus_per_node=2)) == [
        f"{P}.gpusPerNode: got 2; g2-standard-48 takes 4 x nvidia-l4"
    ]
    spec = gke(accelerator="nvidia-tesla-t4", machine_type="n1-standard-64", gpus_per_node=2)
    assert rendered(spec) == [f"{P}.gpusPerNode: got 2; n1-standard-64 takes 4 x nvidia-tesla-t4"]


def test_tp_above_the_gpus_per_node() -> None:
    assert rendered(gke(machine_type="g2-standard-24")) == [
        f"{P}.tensorParallelSize: got 4; tensor parallelism stays inside one node: 4 is more than the 2 GPUs "
        "per node of g2-standard-24; use a machine type with 4 GPUs or more"
    ]


PP_REFUSED = (
    "1: a replica spanning nodes needs a Ray cluster (or LeaderWorkerSet) per replica, which this Deployment "
    "cannot form, so its pods would wait for their peers forever; serve the model on one node with "
    "tensorParallelSize up to the node's GPUs (8-GPU machines: "
)


@pytest.mark.parametrize("pp", [2, 3, 8])
def test_pipeline_parallelism_across_nodes_is_refused(pp: int) -> None:
    assert rendered(gke(tensor_parallel_size=4, pipeline_parallel_size=pp, max_replicas=3)) == [
        f"{P}.pipelineParallelSize: got {pp}; {PP_REFUSED}g2-standard-96, a2-highgpu-8g, a3-highgpu-8g)"
    ]
    eks = replace(pr.PHASE_PRESETS[3].spec(Cloud.EKS), pipeline_parallel_size=pp)
    assert rendered(eks) == [
        f"{P}.pipelineParallelSize: got {pp}; {PP_REFUSED}g6e.48xlarge, p4d.24xlarge, p5.48xlarge)"
    ]


def test_70b_fits_one_8_gpu_l4_node_instead_of_two_pipeline_stages() -> None:
    assert rendered(gke(model="llama-2-70b-chat", pipeline_parallel_size=2, max_replicas=3))[0].startswith(
        f"{P}.pipelineParallelSize: got 2; {PP_REFUSED}"
    )
    one_node = gke(model="llama-2-70b-chat", machine_type="g2-standard-96", tensor_parallel_size=8, max_replicas=3)
    assert rendered(one_node) == []
    assert (vp.gpus_per_replica(one_node), vp.nodes_for(one_node, 3)) == (8, 3)


def test_spot_only_base_capacity_is_refused_unless_accepted() -> None:
    spot_only = gke(on_demand_max_nodes=0, spot_max_nodes=5)
    assert rendered(spot_only) == [
        f"{P}.minReplicas: got 1; 1 replica(s) need 1 on-demand node(s) but onDemandMaxNodes is 0, so the "
        "always-on LLM would run on spot nodes that can be reclaimed at any time; raise onDemandMaxNodes to 1, "
        "or set spotOnlyAccepted: true"
    ]
    assert rendered(replace(spot_only, spot_only_accepted=True)) == []
    assert rendered(replace(spot_only, min_replicas=0)) == []


def test_burst_capacity_must_hold_max_replicas() -> None:
    assert rendered(gke(max_replicas=9)) == [
        f"{P}.maxReplicas: got 9; 9 replica(s) need 9 node(s) but the pools give 5 (on-demand 1 + spot 4); "
        "raise spotMaxNodes to 8"
    ]


def test_spot_or_flex_only_machine_cannot_back_an_on_demand_pool() -> None:
    spec = gke(accelerator="nvidia-h100-80gb", machine_type="a3-highgpu-4g")
    assert rendered(spec) == [
        f"{P}.machineType: got 'a3-highgpu-4g'; a3-highgpu-4g is sold as spot or flex-start capacity only, "
        "so its on-demand pool cannot start; use a larger machine type, or onDemandMaxNodes 0 with "
        "spotOnlyAccepted: true"
    ]
    assert rendered(replace(spec, on_demand_max_nodes=0, spot_max_nodes=5, spot_only_accepted=True)) == []


def test_max_model_len_beyond_the_model_context() -> None:
    assert rendered(gke(max_model_len=8192)) == [
        f"{P}.maxModelLen: got 8192; at most the 4096-token context of meta-llama/Llama-2-13b-chat-hf"
    ]


def test_min_above_max_replicas() -> None:
    assert rendered(gke(min_replicas=6)) == [f"{P}.minReplicas: got 6; at most maxReplicas (5)"]


@pytest.mark.parametrize("utilization", [0.0, -0.1, 1.01, 1.5])
def test_gpu_memory_utilization_outside_0_1(utilization: float) -> None:
    assert rendered(gke(gpu_memory_utilization=utilization)) == [
        f"{P}.gpuMemoryUtilization: got {utilization!r}; a fraction in (0, 1]; vLLM's default is 0.9"
    ]


def test_gpu_memory_utilization_of_1_is_allowed() -> None:
    assert rendered(gke(gpu_memory_utilization=1.0)) == []


def test_unknown_names() -> None:
    assert rendered(gke(model="llama-4")) == [
        f"{P}.model: got 'llama-4'; one of llama-2-7b-chat, llama-2-13b-chat, llama-2-70b-chat, "
        "llama-3.1-8b-instruct, llama-3.1-70b-instruct, mistral-7b-instruct-v0.3, qwen2.5-7b-instruct, "
        "qwen2.5-32b-instruct"
    ]
    (gke_problem,) = rendered(gke(accelerator="nvidia-l40s"))
    assert gke_problem.startswith(
        f"{P}.accelerator: got 'nvidia-l40s'; a GKE accelerator type: nvidia-tesla-t4,"
    )
    (eks_problem,) = rendered(replace(pr.PHASE_PRESETS[2].spec(Cloud.EKS), accelerator="g4dn.xlarge"))
    assert eks_problem.startswith(f"{P}.accelerator: got 'g4dn.xlarge'; an EKS GPU instance type: g5.xlarge,")


def test_cloud_specific_fields() -> None:
    eks = replace(pr.PHASE_PRESETS[2].spec(Cloud.EKS), machine_type="g2-standard-24", gpus_per_node=2)
    assert rendered(eks) == [
        f"{P}.gpusPerNode: got 2; g6.12xlarge has 4 GPUs",
        f"{P}.machineType: got 'g2-standard-24'; only for GKE; not used on eks",
    ]
    existing = replace(pr.PHASE_PRESETS[2].spec(Cloud.EXISTING), gpu_memory_gib=None)
    assert rendered(existing) == [
        f"{P}.gpuMemoryGib: got None; memory per GPU in GiB, required on an existing cluster"
    ]


def test_all_problems_are_reported_together_under_the_given_keys() -> None:
    spec = gke(tensor_parallel_size=3, max_model_len=8192, min_replicas=6)
    keys = {"tensor_parallel_size": "tp", "min_replicas": "replicas.min"}
    paths = [p.path for p in vv.validate(spec, "phasescale:gpu", keys)]
    assert paths == ["phasescale:gpu.replicas.min", "phasescale:gpu.tp", "phasescale:gpu.maxModelLen"]


# --- properties -----------------------------------------------------------------------------------
@given(
    model=st.sampled_from(sorted(gc.MODELS)),
    tp=st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 10, 14, 16, 20, 28, 32, 40, 64]),
    gpu_memory_gib=st.sampled_from([15.0, 22.49, 40.0, 79.65, 140.4]),
    utilization=st.sampled_from([0.5, 0.8, 0.9, 0.95, 1.0]),
    max_model_len=st.sampled_from([512, 2048, 4096]),
)
def test_accepted_iff_tp_divides_heads_and_memory_fits(
    model: str, tp: int, gpu_memory_gib: float, utilization: float, max_model_len: int
) -> None:
    m = gc.MODELS[model]
    spec = VllmPoolSpec(
        model=model, cloud=Cloud.EXISTING, accelerator="GPU", gpu_memory_gib=gpu_memory_gib, gpus_per_node=64,
        tensor_parallel_size=tp, gpu_memory_utilization=utilization, max_model_len=max_model_len, max_replicas=1,
    )  # fmt: skip
    head_dim = m.hidden_size // m.attention_heads
    weights = m.params_b * 1e9 * 2 / 2**30
    kv = 2 * m.layers * m.kv_heads * head_dim * 2 * max_model_len / 2**30
    fits = weights + kv + 1.0 * tp <= tp * gpu_memory_gib * utilization
    divides = m.attention_heads % tp == 0 and (m.kv_heads % tp == 0 or tp % m.kv_heads == 0)
    assert (vv.validate(spec, P) == []) == (divides and fits)


@given(model=st.sampled_from(sorted(gc.MODELS)), tp=st.integers(1, 80))
def test_suggested_tp_sizes_are_the_nearest_valid_ones(model: str, tp: int) -> None:
    m = gc.MODELS[model]
    spec = VllmPoolSpec(model=model, cloud=Cloud.EXISTING, accelerator="GPU", gpu_memory_gib=1000.0,
                        tensor_parallel_size=tp, max_replicas=1)  # fmt: skip
    problems = [p for p in vv.validate(spec, P) if p.path.endswith("tensorParallelSize")]
    valid = vp.valid_tensor_parallel_sizes(m)
    assert bool(problems) == (tp not in valid)
    if problems:
        suggested = [int(s) for s in problems[0].expected.rsplit("use ", 1)[1].split(" or ")]
        assert all(s in valid for s in suggested)
        span = [*suggested, tp]
        assert not any(min(span) < v < max(span) for v in valid if v not in suggested)  # none nearer
