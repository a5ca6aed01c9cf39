"""VllmGpuPool phase presets: valid on every cloud and following the seeds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.gpu import presets as pr
from components.gpu import validate as vv
from components.gpu import vllm_plan as vp
from components.gpu.vllm_plan import Cloud
from tests.gpu.common import P


# --- phase presets ----------------------------------------------------------------------------------
@pytest.mark.parametrize("cloud", list(Cloud))
@pytest.mark.parametrize("phase", [1, 2, 3, 4])
def test_every_phase_preset_is_valid_on_every_cloud(phase: int, cloud: Cloud) -> None:
    spec = pr.PHASE_PRESETS[phase].spec(cloud)
    assert spec.model == "llama-2-13b-chat"
    assert vv.validate(spec, P) == []


def test_presets_follow_the_seeds_with_tp_4_instead_of_3() -> None:
    presets = pr.PHASE_PRESETS
    assert sorted(presets) == [1, 2, 3, 4]
    assert [p.tensor_parallel_size for p in presets.values()] == [1, 2, 4, 4]
    assert [p.pipeline_parallel_size for p in presets.values()] == [1, 1, 1, 1]
    # phase 4: two servers, one per node
    four = presets[4].spec(Cloud.GKE)
    assert (four.min_replicas, vp.nodes_for(four, four.min_replicas)) == (2, 2)
    assert all(1 <= p.min_replicas <= p.max_replicas <= 5 for p in presets.values())


@pytest.mark.parametrize(
    ("accelerator", "machine"), [("nvidia-tesla-t4", "n1-standard-8"), ("nvidia-l4", "g2-standard-8")]
)
def test_phase_1_needs_more_than_a_t4_or_an_l4(accelerator: str, machine: str) -> None:
    spec = replace(pr.PHASE_PRESETS[1].spec(Cloud.GKE), accelerator=accelerator, machine_type=machine)
    assert [p.path for p in vv.validate(spec, P)] == [f"{P}.accelerator"]


def test_existing_cluster_preset_takes_explicit_hardware() -> None:
    spec = pr.PHASE_PRESETS[1].spec(Cloud.EXISTING, "NVIDIA-L40S", 44.99, 1)
    assert (spec.accelerator, spec.gpu_memory_gib, spec.gpus_per_node) == ("NVIDIA-L40S", 44.99, 1)
    assert vv.validate(spec, P) == []
