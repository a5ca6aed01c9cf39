"""The phase diff: stateful deletions and replacements are named loudly."""

from __future__ import annotations

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
