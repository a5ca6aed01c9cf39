"""The NVIDIA driver each cloud's GPU nodes get, and whether the vLLM image's CUDA runs on it.
Pure module: no Pulumi imports.

A CUDA 13 image on a driver older than R580 fails at start-up ("CUDA driver version is
insufficient for CUDA runtime version"); nothing offline would notice, so the pin is checked here.

Sources (read 2026-12-01):

- CUDA: NVIDIA CUDA Toolkit release notes, "CUDA Toolkit and Minimum Required Driver Version for
  CUDA Minor Version Compatibility": CUDA 12.x runs on drivers >= 525.60.13, CUDA 13.x on >= 580.
- vLLM images: from v0.20.0 the unsuffixed ``vllm/vllm-openai:vX.Y.Z`` tag is the CUDA 13.0 build
  and ``vX.Y.Z-cu129`` the CUDA 12.9 one (vllm-project/vllm PR #39878 "Switch default CUDA to 13.0",
  merged 2026-04-15; vllm-project/vllm issue #42738); ``v0.28.0-cu129`` runs PyTorch 2.13.0+cu129.
  Before v0.20.0 the unsuffixed tag was CUDA 12 and ``-cu130`` the CUDA 13 variant.
- GKE: ``gpu_driver_installation_config.gpu_driver_version`` takes only DEFAULT or LATEST (or
  INSTALLATION_DISABLED); which driver each means depends on the node's COS version. COS labels as
  DEFAULT/LATEST only Production Branch and Long-Term Support Branch drivers, and moved LATEST to the
  570.133.20 Production Branch (cos/overlays/board-overlays change af3ca4ea, "Update policy to
  support New Feature Branch drivers"); DEFAULT is at most as new. So LATEST cannot be relied on
  for a CUDA 13 image (R580), and runs a CUDA 12 one (R525+).
- EKS: the AL2023 NVIDIA AMI (``AL2023_x86_64_NVIDIA``) ships the R580 driver for Kubernetes 1.31+
  (awslabs/amazon-eks-ami issue #2470, PRs #2484 for 1.33, #2496, #2503, #2509, 2025-10/11; EKS user
  guide: "The EKS-optimized accelerated AMIs currently include NVIDIA driver version 580").
"""

from __future__ import annotations

import re

CUDA_MIN_DRIVER_BRANCH: dict[int, int] = {12: 525, 13: 580}
"""CUDA major -> oldest driver branch that runs it (minor version compatibility)."""

GKE_DRIVER_VERSION = "LATEST"
"""What the GKE GPU node pools ask for: the newest Production Branch driver of the node's COS."""

NODE_DRIVER_FLOOR: dict[str, int] = {
    "gke:LATEST": 570,
    "eks:AL2023_x86_64_NVIDIA": 580,
}
"""Driver branch a GPU node is guaranteed at least, per cloud and driver choice (sources above)."""

EKS_GPU_AMI = "AL2023_x86_64_NVIDIA"

_TAG = re.compile(r"^v(?P<major>\d+)\.(?P<minor>\d+)\.\d+(?:-cu(?P<cuda>\d{3}))?(?:-.+)?$")


def vllm_cuda_major(tag: str) -> int:
    """CUDA major of a ``vllm/vllm-openai`` release tag (``v0.28.0`` -> 13, ``v0.28.0-cu129`` -> 12)."""
    m = _TAG.match(tag)
    if m is None:
        raise ValueError(f"not a vllm/vllm-openai release tag: {tag!r}")
    if m["cuda"]:
        return int(m["cuda"][:2])
    return 13 if (int(m["major"]), int(m["minor"])) >= (0, 20) else 12


def driver_problem(tag: str, node_driver: str) -> str | None:
    """Why the image ``tag`` cannot start on nodes with ``node_driver`` (a :data:`NODE_DRIVER_FLOOR`
    key), or None when it can."""
    cuda = vllm_cuda_major(tag)
    floor = NODE_DRIVER_FLOOR[node_driver]
    need = CUDA_MIN_DRIVER_BRANCH[cuda]
    if floor >= need:
        return None
    return (
        f"vllm/vllm-openai:{tag} is a CUDA {cuda} build, which needs NVIDIA driver R{need} or newer, but "
        f"{node_driver} guarantees only R{floor}; pin the -cu129 build of the release or a driver that matches"
    )
