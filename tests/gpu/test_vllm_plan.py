"""VllmGpuPool planning: memory need, config keys, node arithmetic and selectors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.gpu import catalog as gc
from components.gpu import presets as pr
from components.gpu import vllm_plan as vp
from components.gpu.vllm_plan import Cloud, VllmPoolSpec
from tests.gpu.common import gke


# --- memory and config keys -----------------------------------------------------------------------
def test_memory_needs_grow_with_max_model_len() -> None:
    model = gc.MODELS["llama-3.1-8b-instruct"]
    short, long = vp.memory_need(model, 4096, 1), vp.memory_need(model, 131072, 1)
    assert short.kv_cache_gib == pytest.approx(0.5)  # 128 KiB per token x 4096
    assert long.kv_cache_gib == pytest.approx(16.0)
    assert long.weights_gib == short.weights_gib


def test_config_keys_are_camel_case_field_names() -> None:
    assert vp.CONFIG_KEYS["tensor_parallel_size"] == "tensorParallelSize"
    assert vp.CONFIG_KEYS["spot_only_accepted"] == "spotOnlyAccepted"
    assert vp.CONFIG_KEYS["model"] == "model"


# --- node arithmetic and selectors -----------------------------------------------------------------
def test_tp_2_packs_two_replicas_on_a_4_gpu_instance() -> None:
    spec = pr.PHASE_PRESETS[2].spec(Cloud.EKS)
    assert [vp.nodes_for(spec, n) for n in range(5)] == [0, 1, 1, 2, 2]


def test_n1_gpu_count_defaults_to_the_smallest_that_holds_tp() -> None:
    spec = gke(accelerator="nvidia-tesla-t4", machine_type="n1-standard-16", tensor_parallel_size=2)
    shape = vp.node_shape(spec)
    assert shape is not None and shape.gpus_per_node == 2


def test_node_selectors_per_cloud() -> None:
    selectors = {}
    for cloud in Cloud:
        shape = vp.node_shape(pr.PHASE_PRESETS[2].spec(cloud))
        assert shape is not None
        selectors[cloud] = shape.node_selector
    assert selectors == {
        Cloud.GKE: {"cloud.google.com/gke-accelerator": "nvidia-l4"},
        Cloud.EKS: {"node.kubernetes.io/instance-type": "g6.12xlarge"},
        Cloud.EXISTING: {"nvidia.com/gpu.product": "NVIDIA-L4"},
    }


# --- properties -----------------------------------------------------------------------------------
@given(
    instance=st.sampled_from(sorted(gc.EKS_INSTANCES)),
    tp=st.sampled_from([1, 2, 4, 8]),
    replicas=st.integers(0, 20),
)
def test_nodes_for_is_the_fewest_nodes_that_hold_the_replicas(instance: str, tp: int, replicas: int) -> None:
    gpn = gc.EKS_INSTANCES[instance].gpu_counts[0]
    spec = VllmPoolSpec(
        model="llama-2-7b-chat", cloud=Cloud.EKS, accelerator=instance, tensor_parallel_size=tp
    )
    nodes = vp.nodes_for(spec, replicas)
    per_node = max(1, gpn // tp)
    assert nodes * per_node >= replicas
    assert (nodes - 1) * per_node < replicas or nodes == 0
