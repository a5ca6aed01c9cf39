"""GPU catalogs: the published figures, and the shapes that keep them consistent."""

from __future__ import annotations

import re

import pytest

from components.gpu import catalog as gc


# config.json of each repository: heads, KV heads, hidden size, layers, max_position_embeddings.
@pytest.mark.parametrize(
    ("key", "hf_id", "heads", "kv", "hidden", "layers", "ctx", "dtype"),
    [
        ("llama-2-7b-chat", "meta-llama/Llama-2-7b-chat-hf", 32, 32, 4096, 32, 4096, "float16"),
        ("llama-2-13b-chat", "meta-llama/Llama-2-13b-chat-hf", 40, 40, 5120, 40, 4096, "float16"),
        ("llama-2-70b-chat", "meta-llama/Llama-2-70b-chat-hf", 64, 8, 8192, 80, 4096, "float16"),
        ("llama-3.1-8b-instruct", "meta-llama/Llama-3.1-8B-Instruct", 32, 8, 4096, 32, 131072, "bfloat16"),
        ("llama-3.1-70b-instruct", "meta-llama/Llama-3.1-70B-Instruct", 64, 8, 8192, 80, 131072, "bfloat16"),
        (
            "mistral-7b-instruct-v0.3",
            "mistralai/Mistral-7B-Instruct-v0.3",
            32,
            8,
            4096,
            32,
            32768,
            "bfloat16",
        ),
        ("qwen2.5-7b-instruct", "Qwen/Qwen2.5-7B-Instruct", 28, 4, 3584, 28, 32768, "bfloat16"),
        ("qwen2.5-32b-instruct", "Qwen/Qwen2.5-32B-Instruct", 40, 8, 5120, 64, 32768, "bfloat16"),
    ],
)
def test_model_figures_are_the_published_config(
    key: str, hf_id: str, heads: int, kv: int, hidden: int, layers: int, ctx: int, dtype: str
) -> None:
    m = gc.MODELS[key]
    assert (m.key, m.hf_id, m.attention_heads, m.kv_heads, m.hidden_size, m.layers, m.max_context, m.dtype) == (
        key, hf_id, heads, kv, hidden, layers, ctx, dtype,
    )  # fmt: skip
    assert m.head_dim == 128  # every model listed uses 128-wide heads
    assert m.bytes_per_param == 2


def test_catalog_lists_exactly_the_required_models() -> None:
    assert len(gc.MODELS) == 8
    assert all(key == m.key for key, m in gc.MODELS.items())


def test_llama_2_13b_sizes() -> None:
    m = gc.MODELS["llama-2-13b-chat"]
    assert m.kv_bytes_per_token == 2 * 40 * 40 * 128 * 2 == 819_200
    assert m.weights_bytes == pytest.approx(26.04e9)  # the 26 GB of fp16 safetensors


@pytest.mark.parametrize(
    ("key", "low", "high"),
    [
        ("llama-2-7b-chat", 6.7, 6.8),
        ("llama-2-70b-chat", 68.9, 69.1),
        ("llama-3.1-8b-instruct", 8.0, 8.1),
        ("llama-3.1-70b-instruct", 70.5, 70.6),
        ("mistral-7b-instruct-v0.3", 7.2, 7.3),
        ("qwen2.5-7b-instruct", 7.6, 7.7),
        ("qwen2.5-32b-instruct", 32.5, 32.8),
    ],
)
def test_parameter_counts(key: str, low: float, high: float) -> None:
    assert low <= gc.MODELS[key].params_b <= high


@pytest.mark.parametrize(
    "gpu", [gc.T4, gc.A10G, gc.L4, gc.L40S, gc.A100_40GB, gc.A100_80GB, gc.H100_80GB, gc.H200_141GB]
)
def test_gpu_memory_is_the_driver_total_just_under_the_marketing_figure(gpu: gc.Gpu) -> None:
    match = re.search(r"(\d+)GB$", gpu.name)
    assert match, gpu.name
    marketed = int(match.group(1))
    assert 0.92 * marketed <= gpu.memory_gib <= marketed


def test_gke_accelerators_and_their_memory() -> None:
    assert {k: v.memory_gib for k, v in gc.GKE_ACCELERATORS.items()} == {
        "nvidia-tesla-t4": 15.0,
        "nvidia-l4": 22.49,
        "nvidia-tesla-a100": 40.0,
        "nvidia-a100-80gb": 80.0,
        "nvidia-h100-80gb": 79.65,
        "nvidia-h200-141gb": 140.4,
    }


def test_gke_machines_by_accelerator() -> None:
    assert gc.gke_machines_for("nvidia-l4") == [
        "g2-standard-4", "g2-standard-8", "g2-standard-12", "g2-standard-16",
        "g2-standard-24", "g2-standard-32", "g2-standard-48", "g2-standard-96",
    ]  # fmt: skip
    assert gc.gke_machines_for("nvidia-tesla-a100") == [
        "a2-highgpu-1g", "a2-highgpu-2g", "a2-highgpu-4g", "a2-highgpu-8g", "a2-megagpu-16g",
    ]  # fmt: skip
    assert gc.gke_machines_for("nvidia-h200-141gb") == ["a3-ultragpu-8g"]
    assert all(m.accelerator in gc.GKE_ACCELERATORS for m in gc.GKE_MACHINES.values())
    assert all(name == m.name for name, m in gc.GKE_MACHINES.items())


@pytest.mark.parametrize(
    ("machine", "counts"),
    [
        ("n1-standard-8", (1, 2, 4)),
        ("n1-standard-16", (1, 2, 4)),
        ("n1-standard-64", (4,)),
        ("g2-standard-4", (1,)),
        ("g2-standard-24", (2,)),
        ("g2-standard-48", (4,)),
        ("g2-standard-96", (8,)),
        ("a2-highgpu-1g", (1,)),
        ("a2-highgpu-8g", (8,)),
        ("a2-ultragpu-4g", (4,)),
        ("a3-highgpu-8g", (8,)),
        ("a3-ultragpu-8g", (8,)),
    ],
)
def test_gke_gpu_counts(machine: str, counts: tuple[int, ...]) -> None:
    assert gc.GKE_MACHINES[machine].gpu_counts == counts


def test_only_the_small_a3_shapes_lack_on_demand_capacity() -> None:
    assert sorted(m.name for m in gc.GKE_MACHINES.values() if not m.on_demand) == [
        "a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g",
    ]  # fmt: skip
    assert all(m.on_demand for m in gc.EKS_INSTANCES.values())


@pytest.mark.parametrize(
    ("prefix", "gib_per_vcpu"),
    [("n1-standard-", 3.75), ("g2-standard-", 4), ("g5.", 4), ("g6.", 4), ("g6e.", 8)],
)
def test_machine_families_keep_their_memory_per_vcpu(prefix: str, gib_per_vcpu: float) -> None:
    family = [m for m in (*gc.GKE_MACHINES.values(), *gc.EKS_INSTANCES.values()) if m.name.startswith(prefix)]
    assert len(family) >= 6
    assert all(m.memory_gib == m.vcpus * gib_per_vcpu for m in family), prefix


@pytest.mark.parametrize(
    ("prefix", "vcpus_per_gpu", "gib_per_gpu"),
    [("a2-highgpu-", 12, 85), ("a2-megagpu-", 6, 85), ("a2-ultragpu-", 12, 170), ("a3-highgpu-", 26, 234)],
)
def test_accelerator_optimised_machines_scale_per_gpu(
    prefix: str, vcpus_per_gpu: int, gib_per_gpu: int
) -> None:
    family = [m for m in gc.GKE_MACHINES.values() if m.name.startswith(prefix)]
    assert family
    for m in family:
        assert (m.vcpus, m.memory_gib) == (vcpus_per_gpu * m.gpu_counts[0], gib_per_gpu * m.gpu_counts[0]), (
            m.name
        )


@pytest.mark.parametrize(
    ("instance", "gpus", "gpu", "vcpus", "memory_gib"),
    [
        ("g5.xlarge", 1, gc.A10G, 4, 16),
        ("g5.12xlarge", 4, gc.A10G, 48, 192),
        ("g5.48xlarge", 8, gc.A10G, 192, 768),
        ("g6.xlarge", 1, gc.L4, 4, 16),
        ("g6.12xlarge", 4, gc.L4, 48, 192),
        ("g6e.xlarge", 1, gc.L40S, 4, 32),
        ("g6e.48xlarge", 8, gc.L40S, 192, 1536),
        ("p4d.24xlarge", 8, gc.A100_40GB, 96, 1152),
        ("p5.48xlarge", 8, gc.H100_80GB, 192, 2048),
    ],
)
def test_eks_instances(instance: str, gpus: int, gpu: gc.Gpu, vcpus: int, memory_gib: int) -> None:
    m = gc.EKS_INSTANCES[instance]
    assert (m.gpu_counts, m.gpu, m.vcpus, m.memory_gib) == ((gpus,), gpu, vcpus, memory_gib)


def test_eks_g_families_have_no_two_gpu_size() -> None:
    """Why the EKS tp-2 preset packs two replicas on a 4-GPU instance."""
    counts = {m.gpu_counts[0] for m in gc.EKS_INSTANCES.values() if m.name.startswith(("g5.", "g6.", "g6e."))}
    assert counts == {1, 4, 8}
