"""The phase diff: stateful deletions and replacements are named loudly."""

from __future__ import annotations

import pytest

from infra.diff import diff, render
from infra.plan import Plan, Record
from tests.planning import plan_of


def rec(type_: str, name: str, **inputs: object) -> Record:
    return Record(type_, name, "", "p", False, True, dict(inputs))


def fake(*records: Record) -> Plan:
    return Plan(stack="x", settings=plan_of("dev").settings, records=list(records))


def test_stateful_deletion_and_replacement_are_named_on_their_own_lines() -> None:
    before = fake(
        rec("gcp:sql/databaseInstance:DatabaseInstance", "seoul-pg", region="asia-northeast3", tier="a"),
        rec("kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis", "seoul-redis", spec={"a": 1}),
        rec("kubernetes:apps/v1:Deployment", "seoul-api", spec={"replicas": 1}),
    )
    after = fake(
        rec("gcp:sql/databaseInstance:DatabaseInstance", "seoul-pg", region="asia-northeast1", tier="b"),
        rec("kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisCluster", "seoul-redis", spec={"a": 1}),
        rec("kubernetes:apps/v1:Deployment", "seoul-api", spec={"replicas": 2}),
    )
    lines = render(diff(before, after), 2, 3).splitlines()
    assert lines[:4] == [
        "phase 2 -> 3: 1 to create, 1 to change, 1 to replace, 1 to delete",
        "2 stateful migration(s) - read README 'Stateful migrations' first:",
        "STATEFUL DELETE kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis seoul-redis "
        "(stateful: data is lost unless migrated first)",
        "STATEFUL REPLACE gcp:sql/databaseInstance:DatabaseInstance seoul-pg on region "
        "(stateful: data is lost unless migrated first)",
    ]
    assert "~ change  kubernetes:apps/v1:Deployment seoul-api: spec.replicas" in lines


def test_stateless_changes_only_say_so() -> None:
    before = fake(rec("kubernetes:apps/v1:Deployment", "a", spec={"x": 1}))
    after = fake(rec("kubernetes:apps/v1:Deployment", "a", spec={"x": 2}))
    assert render(diff(before, after), 1, 2).splitlines()[1] == "no stateful resource is replaced or deleted"


def test_moving_down_from_multi_region_names_the_second_region_loudly() -> None:
    d = diff(plan_of("prod", 4), plan_of("prod", 3))
    assert {r.name for r in d.deleted if r.type == "gcp:container/cluster:Cluster"} == {"prod-tokyo"}
    assert not [r for r in d.deleted if r.provider == "seoul-k8s" or r.name.startswith("prod-seoul")]


# --- node pools -----------------------------------------------------------------------------------------
NODE_POOL = "gcp:container/nodePool:NodePool"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
SHAPE_INPUTS = {NODE_POOL: ("nodeConfig.guestAccelerators",), NODE_GROUP: ("instanceTypes", "amiType", "subnetIds")}
"""The GPU a pool carries (and, on EKS, where): inputs the providers replace the pool on."""


def pool_lines(stack: str, a: int, b: int) -> list[str]:
    return [line for line in render(diff(plan_of(stack, a), plan_of(stack, b)), a, b).splitlines()
            if line.startswith("NODE POOL")]  # fmt: skip


@pytest.mark.parametrize("stack", ["prod", "prod-aws"])
@pytest.mark.parametrize(("a", "b"), [(1, 2), (2, 3), (3, 4), (2, 1), (3, 2), (4, 3)])
def test_every_node_pool_whose_machine_changes_is_named_loudly(stack: str, a: int, b: int) -> None:
    """A node pool kept under the same name whose GPU, machine, instance type or subnets change is a
    replacement the clouds refuse (the name is taken) or at least a rebuild of its nodes: the diff
    must name it on a NODE POOL line, never as a quiet '~ change'."""
    d = diff(plan_of(stack, a), plan_of(stack, b))
    lines = d.node_pool_changes
    for _, new, paths in d.changed + d.replaced:
        if new.type in SHAPE_INPUTS and any(p.startswith(f) for p in paths for f in SHAPE_INPUTS[new.type]):
            assert any(new.name in line for line in lines), (new.name, paths)


def test_gpu_pool_moves_on_prod_2_to_3_create_the_new_pool_and_delete_the_old() -> None:
    assert pool_lines("prod", 2, 3) == [
        f"NODE POOL MOVE {NODE_POOL} seoul-vllm-gpu-{c}-g2-standard-24 -> seoul-vllm-gpu-{c}-g2-standard-48 "
        "(the new pool is created first and its workloads move by node selector; the old pool is drained and "
        "deleted at the end of the update)"
        for c in ("on-demand", "spot")
    ]
    assert pool_lines("prod", 3, 2)[0].startswith(
        f"NODE POOL MOVE {NODE_POOL} seoul-vllm-gpu-on-demand-g2-standard-48 -> seoul-vllm-gpu-on-demand-g2-standard-24"
    )


def test_gpu_group_moves_on_prod_aws_1_to_2() -> None:
    assert pool_lines("prod-aws", 1, 2) == [
        f"NODE POOL MOVE {NODE_GROUP} seoul-vllm-gpu-{c}-g6e-xlarge -> seoul-vllm-gpu-{c}-g6-12xlarge "
        "(the new pool is created first and its workloads move by node selector; the old pool is drained and "
        "deleted at the end of the update)"
        for c in ("on-demand", "spot")
    ]


@pytest.mark.parametrize("stack", ["prod", "prod-aws"])
def test_same_shape_moves_resize_pools_in_place(stack: str) -> None:
    """3 -> 4 keeps the GPU (tp 4 on L4 in both): Seoul's pools grow in place, Tokyo's are new."""
    assert pool_lines(stack, 3, 4) == []
    assert pool_lines("prod-aws", 2, 3) == []  # g6.12xlarge in both


def test_leaving_phase_4_deletes_the_second_region_s_pools_loudly() -> None:
    assert pool_lines("prod", 4, 3) == [
        f"NODE POOL DELETE {NODE_POOL} {name} (its nodes are drained and removed)"
        for name in ("prod-tokyo-data", "prod-tokyo-system", "tokyo-vllm-gpu-on-demand-g2-standard-48", "tokyo-vllm-gpu-spot-g2-standard-48")
    ]


def test_a_pool_replaced_under_its_own_cloud_name_is_named_as_a_collision() -> None:
    def pool(machine: str, gpus: int) -> Record:
        node = {"machineType": machine, "guestAccelerators": [{"type": "nvidia-l4", "count": gpus}]}
        return Record(NODE_POOL, "seoul-gpu", "", "p", False, True, {"name": "gpu", "nodeConfig": node})

    a, b = pool("g2-standard-24", 2), pool("g2-standard-48", 4)
    lines = render(diff(fake(a), fake(b)), 2, 3).splitlines()
    assert lines[3:5] == [  # after the stateful and volume-shrink lines
        "1 node pool change(s) that rebuild or remove capacity - read README 'Node pools on a phase move':",
        f"NODE POOL REPLACE {NODE_POOL} seoul-gpu on nodeConfig.guestAccelerators (same cloud name gpu: the "
        "create-first replacement collides with the old pool; name the pool by its shape)",
    ]
    g1 = rec(NODE_GROUP, "seoul-gpu", nodeGroupName="gpu", instanceTypes=["g6e.xlarge"], scalingConfig={"minSize": 1})
    g2 = rec(NODE_GROUP, "seoul-gpu", nodeGroupName="gpu", instanceTypes=["g6.12xlarge"], scalingConfig={"minSize": 1})
    assert f"NODE POOL REPLACE {NODE_GROUP} seoul-gpu on instanceTypes (same cloud name gpu: " in render(
        diff(fake(g1), fake(g2)), 1, 2
    )


def test_scaling_a_pool_is_a_plain_change() -> None:
    a = rec(NODE_GROUP, "g", nodeGroupName="g", scalingConfig={"minSize": 1, "maxSize": 3})
    b = rec(NODE_GROUP, "g", nodeGroupName="g", scalingConfig={"minSize": 2, "maxSize": 5})
    d = diff(fake(a), fake(b))
    assert d.node_pool_changes == [] and [r.name for _, r, _ in d.changed] == ["g"]
