"""The phase presets of the vLLM pool: parallelism, bounds and default hardware per phase and cloud.

Phase presets (seed 001: ``--tensor-parallel-size`` 1 -> 2 -> 3 -> 4, phase 4 "2 servers"):
phase 1 one GPU large enough for 13B fp16 (A100 40GB on GKE, L40S on EKS); phase 2 tp 2 on L4;
phase 3 tp 4 on L4, not 3 (3 does not divide Llama-2-13b's 40 heads); phase 4 two tp-4 replicas
on two nodes, **not** one pipeline-parallel replica across them. Chosen because 13B already fits
one 4-GPU node with room for KV cache, so a second node adds most when it is a second independent
server: it doubles throughput, survives the loss of either node (a spot reclaim included) and
keeps every token's traffic on the node, where pipeline parallelism would send activations over
the network at every stage boundary, idle half the GPUs in pipeline bubbles at low batch sizes
and make one replica that fails as a whole. Pipeline parallelism (``pipeline_parallel_size`` > 1)
is refused by validation: it needs a Ray cluster per replica, which the pool's Deployment cannot
form; a model that does not fit one node needs a bigger node (8-GPU machine types).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from components.gpu.catalog import GKE_MACHINES
from components.gpu.vllm_plan import Cloud, VllmPoolSpec

DEFAULT_MODEL = "llama-2-13b-chat"


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
