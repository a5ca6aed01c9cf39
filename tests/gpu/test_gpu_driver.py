"""The vLLM image's CUDA build against the NVIDIA driver each cloud's GPU nodes get."""

from __future__ import annotations

import pytest

from components.gpu import driver as gd
from components.versions import IMAGES
from infra.parts import gpu as part
from tests.planning import plan_of


@pytest.mark.parametrize(
    ("tag", "cuda"),
    [
        ("v0.28.0", 13),  # unsuffixed = CUDA 13 since v0.20.0 (vllm-project/vllm PR #39878)
        ("v0.20.0", 13),
        ("v0.28.0-cu129", 12),
        ("v0.28.0-cu129-ubuntu2404", 12),
        ("v0.19.1", 12),  # before v0.20.0 the unsuffixed tag was CUDA 12
        ("v0.19.1-cu130", 13),
    ],
)
def test_cuda_major_of_a_vllm_tag(tag: str, cuda: int) -> None:
    assert gd.vllm_cuda_major(tag) == cuda


def test_an_unknown_tag_is_refused() -> None:
    with pytest.raises(ValueError, match="not a vllm/vllm-openai release tag"):
        gd.vllm_cuda_major("latest")


def test_a_cuda_13_build_does_not_start_on_gke_latest_driver() -> None:
    assert gd.driver_problem("v0.28.0", "gke:LATEST") == (
        "vllm/vllm-openai:v0.28.0 is a CUDA 13 build, which needs NVIDIA driver R580 or newer, but gke:LATEST "
        "guarantees only R570; pin the -cu129 build of the release or a driver that matches"
    )
    assert gd.driver_problem("v0.28.0", "eks:AL2023_x86_64_NVIDIA") is None  # the AL2023 NVIDIA AMI has R580


@pytest.mark.parametrize("node_driver", sorted(gd.NODE_DRIVER_FLOOR))
def test_the_pinned_image_runs_on_every_node_driver_we_ask_for(node_driver: str) -> None:
    assert gd.driver_problem(IMAGES["vllm"].tag, node_driver) is None


def test_the_pools_ask_for_the_driver_the_check_assumes() -> None:
    gke = plan_of("prod", 3).named("gcp:container/nodePool:NodePool", "seoul-vllm-gpu-on-demand-g2-standard-48")
    (accel,) = gke.inputs["nodeConfig"]["guestAccelerators"]
    assert accel["gpuDriverInstallationConfig"] == {"gpuDriverVersion": gd.GKE_DRIVER_VERSION}
    eks = plan_of("prod-aws", 3).named("aws:eks/nodeGroup:NodeGroup", "seoul-vllm-gpu-on-demand-g6-12xlarge")
    assert eks.inputs["amiType"] == gd.EKS_GPU_AMI
    assert f"gke:{gd.GKE_DRIVER_VERSION}" in gd.NODE_DRIVER_FLOOR
    assert f"eks:{gd.EKS_GPU_AMI}" in gd.NODE_DRIVER_FLOOR


def test_validation_refuses_an_image_pin_the_nodes_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(IMAGES, "vllm", type(IMAGES["vllm"])("vllm/vllm-openai", "v0.28.0", "test"))
    assert [p.render() for p in part.validate(plan_of("prod", 3).settings)] == [
        "components/versions.py IMAGES[\"vllm\"]: got 'vllm/vllm-openai:v0.28.0'; vllm/vllm-openai:v0.28.0 is a "
        "CUDA 13 build, which needs NVIDIA driver R580 or newer, but gke:LATEST guarantees only R570; pin the "
        "-cu129 build of the release or a driver that matches"
    ]
    assert part.validate(plan_of("prod-aws", 3).settings) == []  # R580 on EKS runs CUDA 13
