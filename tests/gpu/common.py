"""Shared by the gpu planning tests: the problem path prefix and a phase-3 GKE pool spec."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from components.gpu import presets as pr
from components.gpu.vllm_plan import Cloud, VllmPoolSpec

P = "phasescale:overrides.gpu"


def gke(**kw: Any) -> VllmPoolSpec:
    """Phase 3 on GKE (Llama-2-13b, tp 4 on g2-standard-48), with changes."""
    return replace(pr.PHASE_PRESETS[3].spec(Cloud.GKE), **kw)
