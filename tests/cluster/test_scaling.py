"""EKS node groups grow and shrink on phase moves with inputs EKS's UpdateNodegroupConfig accepts."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as hs
from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.sync_await import _sync_await

from components.cluster.eks import node_group_scaling
from components.cluster.scaling import DESIRED_SIZE_PATH, LiveScaling, scaling_decision
from infra import catalog
from tests.planning import plan_of


def _accepted(min_size: int, desired: int, max_size: int) -> bool:
    """EKS: "Minimum capacity can't be greater than desired size", desired at most max."""
    return min_size <= desired <= max_size


def _nodes(phase: int) -> tuple[int, int]:
    n = catalog.PhaseSizes.model_validate(catalog.phase_row(phase)).nodes
    return n.min_nodes, n.max_nodes


@pytest.mark.parametrize(("old", "new"), [(1, 2), (2, 3), (3, 4), (4, 3), (3, 2), (2, 1)])
def test_a_phase_move_of_the_system_group_sends_an_accepted_desired_size(old: int, new: int) -> None:
    old_min, old_max = _nodes(old)
    new_min, new_max = _nodes(new)
    for live_desired in {old_min, old_max, (old_min + old_max) // 2}:  # what the autoscaler may have chosen
        d = scaling_decision(new_min, new_max, LiveScaling(old_min, old_max, live_desired))
        if (old_min, old_max) != (new_min, new_max):
            assert not d.ignore_desired and d.ignore_changes == []  # the engine sends this desired size
        assert _accepted(d.min_size, d.desired_size, d.max_size)
        if new_min <= live_desired <= new_max:
            assert d.desired_size == live_desired  # the autoscaler's choice survives the move


def test_the_catalogs_system_group_min_rises_on_one_to_two_and_two_to_three() -> None:
    assert _nodes(1)[0] < _nodes(2)[0] < _nodes(3)[0]  # the moves that failed with the ignored desiredSize


def test_unchanged_bounds_keep_ignoring_the_autoscalers_desired_size() -> None:
    d = scaling_decision(2, 10, LiveScaling(2, 10, 7))
    assert d.ignore_desired and d.ignore_changes == [DESIRED_SIZE_PATH] and d.desired_size == 7


def test_a_new_group_starts_at_its_minimum() -> None:
    d = scaling_decision(3, 9, None)
    assert d.scaling_config == {"min_size": 3, "desired_size": 3, "max_size": 9} and d.ignore_desired


@given(
    hs.integers(0, 50), hs.integers(0, 50), hs.integers(0, 50), hs.integers(0, 50), hs.integers(0, 50)
)
def test_every_decision_is_one_eks_accepts(a: int, b: int, c: int, d_: int, live_desired: int) -> None:
    new_min, new_max = sorted((a, b))
    old_min, old_max = sorted((c, d_))
    live = LiveScaling(old_min, old_max, min(max(live_desired, old_min), old_max))
    d = scaling_decision(new_min, new_max, live)
    assert _accepted(d.min_size, d.desired_size, d.max_size)
    if d.ignore_desired:  # the engine sends the stored desired size: only safe when nothing moves
        assert (old_min, old_max) == (new_min, new_max)


def test_offline_plan_of_a_new_group_ignores_the_desired_size() -> None:
    group = plan_of("prod-aws", 2).named("aws:eks/nodeGroup:NodeGroup", "prod-aws-seoul-system").inputs
    lo, hi = _nodes(2)
    assert group["scalingConfig"] == {"minSize": lo, "desiredSize": lo, "maxSize": hi}


class _LiveGroups(mocks.Mocks):
    """An account where the cluster ``c`` has the group ``system`` at min 1, desired 3, max 4."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "aws:eks/getClusters:getClusters":
            return {"names": ["c"]}, []
        if args.token == "aws:eks/getNodeGroups:getNodeGroups":
            return {"names": ["system"] if args.args.get("clusterName") == "c" else []}, []
        if args.token == "aws:eks/getNodeGroup:getNodeGroup":
            return {"scalingConfigs": [{"minSize": 1, "desiredSize": 3, "maxSize": 4}]}, []
        return {}, []


def test_the_live_group_is_read_and_the_move_keeps_its_desired_size() -> None:
    mock = _LiveGroups()
    runtime_settings.ROOT.set(None)
    mocks.set_mocks(mock, project="p", stack="s", preview=False)
    found: dict[str, Any] = {}

    def program() -> None:
        owner = pulumi.ComponentResource("test:index:Owner", "owner")
        found["moved"] = node_group_scaling(owner, "c", "system", 2, 6)
        found["same"] = node_group_scaling(owner, "c", "system", 1, 4)
        found["new_group"] = node_group_scaling(owner, "c", "gpu-spot", 0, 2)
        found["new_cluster"] = node_group_scaling(owner, "other", "system", 2, 6)

    _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
    assert found["moved"].scaling_config == {"min_size": 2, "desired_size": 3, "max_size": 6}
    assert found["moved"].ignore_changes == []
    assert found["same"].ignore_changes == [DESIRED_SIZE_PATH]
    assert found["new_group"].scaling_config["desired_size"] == 0 and found["new_group"].ignore_desired
    assert found["new_cluster"].scaling_config["desired_size"] == 2
