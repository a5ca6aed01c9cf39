"""Shared helpers for the tests: cached plans of the real stack files, and object lookups."""

from __future__ import annotations

import functools
from typing import Any

from infra import plan as planner

STACKS = ("dev", "prod", "prod-aws")
PHASES = (1, 2, 3, 4)


@functools.cache
def plan_of(stack: str, phase: int | None = None) -> planner.Plan:
    """The offline plan of a stack file (at ``phase``), computed once per test process."""
    return planner.run(stack, phase)


def k8s_objects(plan: planner.Plan, kind: str) -> dict[str, dict[str, Any]]:
    """``{cluster/name: object}`` for every Kubernetes object of ``kind`` in the plan."""
    return {
        f"{cluster}/{obj['metadata']['name']}": obj
        for cluster, obj in plan.manifests()
        if obj["kind"] == kind
    }
