"""Catalogs for VllmGpuPool, as data: the models it can serve and the GPUs it can run them on.

Pure module: no Pulumi imports. Every figure is a published one:

- Models: the ``config.json`` of each Hugging Face repository (heads, KV heads, hidden size, layers,
  ``max_position_embeddings``, ``torch_dtype``); parameter counts from the safetensors index.
- GPUs: ``memory_gib`` is the total the driver reports (``nvidia-smi`` MiB / 1024), which is what
  vLLM multiplies by ``--gpu-memory-utilization``; it is a little below the marketing figure
  (an "24 GB" L4 reports 23,034 MiB).
- Machines: GKE accelerator-optimised and N1 machine types (Compute Engine "GPU machine types"
  page; Compute Engine's GB are GiB) and EKS GPU instance types (EC2 "accelerated computing" page),
  each with the GPU counts it carries, its vCPUs and its memory.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1024**3


# --- Models ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LlmModel:
    """The architecture figures vLLM's start-up checks and memory use depend on."""

    key: str
    """Short name, used as ``--served-model-name`` and in config (``llama-2-13b-chat``)."""
    hf_id: str
    """Hugging Face repository, passed as ``--model``."""
    params_b: float
    """Parameters, in billions."""
    attention_heads: int
    kv_heads: int
    """Key/value heads (fewer than ``attention_heads`` under grouped-query attention)."""
    hidden_size: int
    layers: int
    max_context: int
    """``max_position_embeddings``: the longest ``--max-model-len`` vLLM accepts."""
    dtype: str
    """``torch_dtype`` of the published weights; vLLM's ``--dtype auto`` and KV cache use it."""
    bytes_per_param: int

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.attention_heads

    @property
    def weights_bytes(self) -> float:
        return self.params_b * 1e9 * self.bytes_per_param

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V, for every layer and KV head: ``2 x layers x kv_heads x head_dim x bytes``."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.bytes_per_param


def _model(
    key: str, hf_id: str, params_b: float, heads: int, kv: int, hidden: int, layers: int, ctx: int, dtype: str
) -> LlmModel:
    return LlmModel(key, hf_id, params_b, heads, kv, hidden, layers, ctx, dtype, 2)


# fmt: off
MODELS: dict[str, LlmModel] = {
    m.key: m
    for m in (
        #      key                         Hugging Face id                       params heads kv hidden layers ctx  dtype
        _model("llama-2-7b-chat",          "meta-llama/Llama-2-7b-chat-hf",      6.74,  32, 32, 4096, 32, 4096,   "float16"),
        _model("llama-2-13b-chat",         "meta-llama/Llama-2-13b-chat-hf",     13.02, 40, 40, 5120, 40, 4096,   "float16"),
        _model("llama-2-70b-chat",         "meta-llama/Llama-2-70b-chat-hf",     68.98, 64, 8,  8192, 80, 4096,   "float16"),
        _model("llama-3.1-8b-instruct",    "meta-llama/Llama-3.1-8B-Instruct",   8.03,  32, 8,  4096, 32, 131072, "bfloat16"),
        _model("llama-3.1-70b-instruct",   "meta-llama/Llama-3.1-70B-Instruct",  70.55, 64, 8,  8192, 80, 131072, "bfloat16"),
        _model("mistral-7b-instruct-v0.3", "mistralai/Mistral-7B-Instruct-v0.3", 7.25,  32, 8,  4096, 32, 32768,  "bfloat16"),
        _model("qwen2.5-7b-instruct",      "Qwen/Qwen2.5-7B-Instruct",           7.62,  28, 4,  3584, 28, 32768,  "bfloat16"),
        _model("qwen2.5-32b-instruct",     "Qwen/Qwen2.5-32B-Instruct",          32.76, 40, 8,  5120, 64, 32768,  "bfloat16"),
    )
}
"""Every model a pool can serve, by short key."""
# fmt: on


# --- GPUs -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gpu:
    name: str
    """Marketing name, e.g. ``NVIDIA L4``."""
    memory_gib: float
    """Total memory the driver reports, GiB."""
    product_label: str
    """Value of the ``nvidia.com/gpu.product`` node label (NVIDIA GPU feature discovery)."""


T4 = Gpu("NVIDIA T4 16GB", 15.0, "Tesla-T4")
A10G = Gpu("NVIDIA A10G 24GB", 22.49, "NVIDIA-A10G")
L4 = Gpu("NVIDIA L4 24GB", 22.49, "NVIDIA-L4")
L40S = Gpu("NVIDIA L40S 48GB", 44.99, "NVIDIA-L40S")
A100_40GB = Gpu("NVIDIA A100 40GB", 40.0, "NVIDIA-A100-SXM4-40GB")
A100_80GB = Gpu("NVIDIA A100 80GB", 80.0, "NVIDIA-A100-SXM4-80GB")
H100_80GB = Gpu("NVIDIA H100 80GB", 79.65, "NVIDIA-H100-80GB-HBM3")
H200_141GB = Gpu("NVIDIA H200 141GB", 140.4, "NVIDIA-H200")

GKE_ACCELERATORS: dict[str, Gpu] = {
    "nvidia-tesla-t4": T4,
    "nvidia-l4": L4,
    "nvidia-tesla-a100": A100_40GB,
    "nvidia-a100-80gb": A100_80GB,
    "nvidia-h100-80gb": H100_80GB,
    "nvidia-h200-141gb": H200_141GB,
}
"""GKE accelerator type (``cloud.google.com/gke-accelerator`` label value) -> GPU."""


# --- Machines -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GpuMachine:
    """A machine (GKE) or instance (EKS) type and the GPUs it carries."""

    name: str
    accelerator: str
    """GKE accelerator type, or on EKS a short GPU name (``a10g``)."""
    gpu: Gpu
    gpu_counts: tuple[int, ...]
    """GPU counts it can carry: one fixed count, or N1's attachable choices."""
    vcpus: int
    memory_gib: float
    on_demand: bool = True
    """False where the type is sold only as spot or flex-start (DWS) capacity."""


def _gke(
    name: str,
    accelerator: str,
    counts: tuple[int, ...],
    vcpus: int,
    memory_gib: float,
    on_demand: bool = True,
) -> GpuMachine:
    return GpuMachine(name, accelerator, GKE_ACCELERATORS[accelerator], counts, vcpus, memory_gib, on_demand)


def _eks(name: str, gpu_name: str, gpu: Gpu, count: int, vcpus: int, memory_gib: float) -> GpuMachine:
    return GpuMachine(name, gpu_name, gpu, (count,), vcpus, memory_gib)


# fmt: off
# T4 attaches to N1 machines: 1, 2 or 4 GPUs up to 48 vCPUs, only 4 above.
_N1_T4 = [
    _gke("n1-standard-4",  "nvidia-tesla-t4",   (1, 2, 4), 4,   15),
    _gke("n1-standard-8",  "nvidia-tesla-t4",   (1, 2, 4), 8,   30),
    _gke("n1-standard-16", "nvidia-tesla-t4",   (1, 2, 4), 16,  60),
    _gke("n1-standard-32", "nvidia-tesla-t4",   (1, 2, 4), 32,  120),
    _gke("n1-standard-64", "nvidia-tesla-t4",   (4,),      64,  240),
    _gke("n1-standard-96", "nvidia-tesla-t4",   (4,),      96,  360),
]

GKE_MACHINES: dict[str, GpuMachine] = {
    m.name: m
    for m in (
        *_N1_T4,
        #     machine type     accelerator          GPUs       vCPU GiB
        _gke("g2-standard-4",  "nvidia-l4",         (1,),      4,   16),
        _gke("g2-standard-8",  "nvidia-l4",         (1,),      8,   32),
        _gke("g2-standard-12", "nvidia-l4",         (1,),      12,  48),
        _gke("g2-standard-16", "nvidia-l4",         (1,),      16,  64),
        _gke("g2-standard-24", "nvidia-l4",         (2,),      24,  96),
        _gke("g2-standard-32", "nvidia-l4",         (1,),      32,  128),
        _gke("g2-standard-48", "nvidia-l4",         (4,),      48,  192),
        _gke("g2-standard-96", "nvidia-l4",         (8,),      96,  384),
        _gke("a2-highgpu-1g",  "nvidia-tesla-a100", (1,),      12,  85),
        _gke("a2-highgpu-2g",  "nvidia-tesla-a100", (2,),      24,  170),
        _gke("a2-highgpu-4g",  "nvidia-tesla-a100", (4,),      48,  340),
        _gke("a2-highgpu-8g",  "nvidia-tesla-a100", (8,),      96,  680),
        _gke("a2-megagpu-16g", "nvidia-tesla-a100", (16,),     96,  1360),
        _gke("a2-ultragpu-1g", "nvidia-a100-80gb",  (1,),      12,  170),
        _gke("a2-ultragpu-2g", "nvidia-a100-80gb",  (2,),      24,  340),
        _gke("a2-ultragpu-4g", "nvidia-a100-80gb",  (4,),      48,  680),
        _gke("a2-ultragpu-8g", "nvidia-a100-80gb",  (8,),      96,  1360),
        # a3-highgpu-1g/2g/4g: spot or flex-start (DWS) capacity only.
        _gke("a3-highgpu-1g",  "nvidia-h100-80gb",  (1,),      26,  234,  on_demand=False),
        _gke("a3-highgpu-2g",  "nvidia-h100-80gb",  (2,),      52,  468,  on_demand=False),
        _gke("a3-highgpu-4g",  "nvidia-h100-80gb",  (4,),      104, 936,  on_demand=False),
        _gke("a3-highgpu-8g",  "nvidia-h100-80gb",  (8,),      208, 1872),
        _gke("a3-ultragpu-8g", "nvidia-h200-141gb", (8,),      224, 2952),
    )
}
"""GKE machine type -> the accelerator and GPU counts it carries."""

EKS_INSTANCES: dict[str, GpuMachine] = {
    m.name: m
    for m in (
        #     instance type   name    GPU         GPUs vCPU GiB
        _eks("g5.xlarge",     "a10g", A10G,       1, 4,   16),
        _eks("g5.2xlarge",    "a10g", A10G,       1, 8,   32),
        _eks("g5.4xlarge",    "a10g", A10G,       1, 16,  64),
        _eks("g5.8xlarge",    "a10g", A10G,       1, 32,  128),
        _eks("g5.16xlarge",   "a10g", A10G,       1, 64,  256),
        _eks("g5.12xlarge",   "a10g", A10G,       4, 48,  192),
        _eks("g5.24xlarge",   "a10g", A10G,       4, 96,  384),
        _eks("g5.48xlarge",   "a10g", A10G,       8, 192, 768),
        _eks("g6.xlarge",     "l4",   L4,         1, 4,   16),
        _eks("g6.2xlarge",    "l4",   L4,         1, 8,   32),
        _eks("g6.4xlarge",    "l4",   L4,         1, 16,  64),
        _eks("g6.8xlarge",    "l4",   L4,         1, 32,  128),
        _eks("g6.16xlarge",   "l4",   L4,         1, 64,  256),
        _eks("g6.12xlarge",   "l4",   L4,         4, 48,  192),
        _eks("g6.24xlarge",   "l4",   L4,         4, 96,  384),
        _eks("g6.48xlarge",   "l4",   L4,         8, 192, 768),
        _eks("g6e.xlarge",    "l40s", L40S,       1, 4,   32),
        _eks("g6e.2xlarge",   "l40s", L40S,       1, 8,   64),
        _eks("g6e.4xlarge",   "l40s", L40S,       1, 16,  128),
        _eks("g6e.8xlarge",   "l40s", L40S,       1, 32,  256),
        _eks("g6e.16xlarge",  "l40s", L40S,       1, 64,  512),
        _eks("g6e.12xlarge",  "l40s", L40S,       4, 48,  384),
        _eks("g6e.24xlarge",  "l40s", L40S,       4, 96,  768),
        _eks("g6e.48xlarge",  "l40s", L40S,       8, 192, 1536),
        _eks("p4d.24xlarge",  "a100", A100_40GB,  8, 96,  1152),
        _eks("p4de.24xlarge", "a100", A100_80GB,  8, 96,  1152),
        _eks("p5.48xlarge",   "h100", H100_80GB,  8, 192, 2048),
        _eks("p5e.48xlarge",  "h200", H200_141GB, 8, 192, 2048),
    )
}
"""EKS (EC2) GPU instance type -> its GPUs, vCPUs and memory."""
# fmt: on


def gke_machines_for(accelerator: str) -> list[str]:
    """GKE machine types that carry ``accelerator``, in catalog order."""
    return [m.name for m in GKE_MACHINES.values() if m.accelerator == accelerator]
