"""Scaling inputs of an EKS managed node group that EKS accepts on every phase move (pure).

The autoscaler owns ``desiredSize``, so the node group ignores changes to it (otherwise every
``pulumi up`` would reset what the autoscaler chose; terraform-aws-eks ignores it for the same reason,
terraform-aws-eks#1879). But with the field ignored, the engine sends the *stored* desired size with
a new ``minSize``, and EKS's UpdateNodegroupConfig rejects ``minSize > desiredSize`` ("Minimum capacity
N can't be greater than desired size M", terraform-aws-eks#2030, #748, #944) and likewise
``desiredSize > maxSize``. The fix hashicorp/terraform-provider-aws#18310 asks for: when the bounds
change, send ``desiredSize = clamp(current desired, new min, new max)`` without the ignore; when they do
not, keep ignoring it. The current values are read from the live node group (``eks.live_scaling``).
"""

from __future__ import annotations

from dataclasses import dataclass

DESIRED_SIZE_PATH = "scalingConfig.desiredSize"


@dataclass(frozen=True)
class LiveScaling:
    """The node group's scaling config as EKS reports it now."""

    min_size: int
    max_size: int
    desired_size: int


@dataclass(frozen=True)
class ScalingDecision:
    min_size: int
    max_size: int
    desired_size: int
    ignore_desired: bool
    """True when the bounds do not move: the autoscaler's desired size is left alone (no diff)."""

    @property
    def scaling_config(self) -> dict[str, int]:
        return {"min_size": self.min_size, "desired_size": self.desired_size, "max_size": self.max_size}

    @property
    def ignore_changes(self) -> list[str]:
        return [DESIRED_SIZE_PATH] if self.ignore_desired else []


def scaling_decision(min_size: int, max_size: int, live: LiveScaling | None) -> ScalingDecision:
    """``live`` is None for a group that does not exist yet (created at ``min_size``)."""
    if min_size > max_size:
        raise ValueError(f"min_size {min_size} is above max_size {max_size}")
    if live is None:
        return ScalingDecision(min_size, max_size, min_size, ignore_desired=True)
    desired = min(max(live.desired_size, min_size), max_size)
    unchanged = (live.min_size, live.max_size) == (min_size, max_size) and desired == live.desired_size
    return ScalingDecision(min_size, max_size, desired, ignore_desired=unchanged)
