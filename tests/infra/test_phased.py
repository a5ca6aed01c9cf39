"""Per-phase values and parts: ``phasescale:phaseOverrides`` and ``phasescale:parts.<part>:
{fromPhase | phases}`` (infra/phased.py), validated like ``overrides``, planned per phase, and named
by ``infra diff`` (parts switched off, volumes kept at the phase that shrinks them)."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest

from components.problems import ConfigError
from infra import catalog, phased
from infra import plan as planner
from infra.config import Parts
from infra.diff import PlanDiff, diff, keep_key, render, volume_shrinks
from infra.settings import resolve
from tests.planning import ROOT

BASE = {
    "phasescale:phase": "2",
    "phasescale:cluster": json.dumps({"target": "existing"}),
    "phasescale:regions": json.dumps({"local": {"location": "local", "kubeContext": "kind"}}),
}


def raw(**extra: object) -> dict[str, str]:
    out = dict(BASE)
    for key, value in extra.items():
        out[f"phasescale:{key}"] = json.dumps(value)  # as Pulumi hands structured values over: JSON text
    return out


def problems(config: dict[str, str], phase: int | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        resolve(config, phase_override=phase)
    return [p.render() for p in err.value.problems]


# --- syntax -------------------------------------------------------------------------------------


def test_a_phase_key_sets_values_at_that_phase_only_merged_over_overrides() -> None:
    # 003: Redis at 2 GB from phase 2 (not the catalog's 16 GB); 001: read replicas only from phase 3.
    config = raw(
        overrides={"postgres": {"readReplicas": 0}, "redis": {"cpuMillicores": 300}},
        phaseOverrides={"2": {"redis": {"maxmemoryMb": 2048, "memoryMib": 3072}}, "3-4": {"postgres": {"readReplicas": 2}}},
    )
    at = {p: resolve(config, phase_override=p).sizes for p in catalog.PHASES}
    assert [at[p].postgres.read_replicas for p in catalog.PHASES] == [0, 0, 2, 2]
    assert [at[p].redis.maxmemory_mb for p in catalog.PHASES] == [512, 2048, 8192, 8192]
    assert [at[p].redis.memory_mib for p in catalog.PHASES] == [768, 3072, 11264, 11264]
    assert {at[p].redis.cpu_millicores for p in catalog.PHASES} == {300}  # overrides: every phase
    assert resolve(config, phase_override=3).per_phase == {"postgres.readReplicas": "3-4"}
    assert resolve(config, phase_override=2).per_phase == {"redis.maxmemoryMb": "2", "redis.memoryMib": "2"}


def test_phase_keys_as_yaml_or_the_engine_spell_them() -> None:
    assert [phased.phases_of(k) for k in (3, "3", " 4 ", "2-4", "1-1")] == [(3,), (3,), (4,), (2, 3, 4), (1,)]
    # Breaks: no phase 0 or 5, no reversed range, no words, no booleans (YAML's `yes:`).
    assert [phased.phases_of(k) for k in (0, 5, "4-2", "3-5", "three", "phase3", True, "10", None)] == [None] * 9


def test_redis_cluster_mode_at_phase_2_only() -> None:  # 002
    config = raw(phaseOverrides={"2": {"redis": {"mode": "cluster", "shards": 3, "replicasPerShard": 1, "sentinels": 0}}})
    assert [resolve(config, phase_override=p).sizes.redis.mode for p in (1, 2, 3)] == ["standalone", "cluster", "cluster"]
    assert resolve(config, phase_override=2).sizes.redis.sentinels == 0


def test_every_catalog_table_takes_per_phase_values() -> None:
    """Generic: any table of catalog.PhaseSizes (and any added later) is set at one phase only."""
    row1 = catalog.phase_row(1)
    for table in catalog.PhaseSizes.model_fields:
        key = catalog.PhaseSizes.model_fields[table].alias or table
        found = phased.resolve_sizes(4, {}, {4: {key: row1[key]}})
        assert found.problems == [], table
        assert found.sizes is not None and getattr(found.sizes, table) == getattr(catalog.PhaseSizes.model_validate(row1), table)
        below = phased.resolve_sizes(3, {}, {4: {key: row1[key]}}).sizes
        assert below is not None and below.model_dump() == catalog.PhaseSizes.model_validate(catalog.phase_row(3)).model_dump()


def test_parts_on_from_a_phase_or_at_listed_phases() -> None:
    config = raw(parts={"cdn": {"fromPhase": 4}, "redis": {"phases": [2, 3]}, "milvus": True})
    parts = {p: resolve(config, phase_override=p).stack.parts for p in catalog.PHASES}
    assert [parts[p].cdn for p in catalog.PHASES] == [False, False, False, True]  # 004: CDN only from phase 4
    assert [parts[p].redis for p in catalog.PHASES] == [False, True, True, False]
    assert {parts[p].milvus for p in catalog.PHASES} == {True} and {parts[p].postgres for p in catalog.PHASES} == {True}


def test_every_part_takes_a_schedule() -> None:
    """Generic: every field of Parts (and any added later) is switched by phase the same way."""
    for name in Parts.model_fields:
        on = [phased.switch_parts({name: {"fromPhase": 3}}, p)[0][name] for p in catalog.PHASES]
        assert on == [False, False, True, True], name
    assert phased.switch_parts({"cdn": {"phases": [1]}}, None) == ({"cdn": True}, [])  # phase unknown: checked as on


# --- validation ---------------------------------------------------------------------------------


def test_every_per_phase_mistake_is_reported_at_once_with_the_phase_in_its_path() -> None:
    config = raw(
        phaseOverrides={
            "three": {"postgres": {"readReplicas": 1}},
            "5": {"postgres": {"readReplicas": 1}},
            "4-2": {},
            "3": {"postgres": {"readReplicas": 11, "minPoolSize": 60}, "postgress": {"cpu": 2}},
            "1-4": {"redis": {"shards": 0}},
            "1-2": {"services": {"minReplicas": 4}},
            "2-4": {"gpu": {"minReplicas": 1}},
            "4": {"gpu": {"minReplicas": 2}, "cdn": 5},
        },
        parts={"cdn": {"fromPhase": 5}, "redis": {"fromPhase": 2, "phases": [3]}, "milvus": {"phase": 2},
               "gpu": {"phases": [2, 2]}},
    )
    assert problems(config) == [
        "phasescale:parts.cdn.fromPhase: got 5; Input should be less than or equal to 4",
        "phasescale:parts.gpu: got {'phases': [2, 2]}; each phase once; got [2, 2]",
        "phasescale:parts.milvus.phase: got 2; unknown key (misspelled?); see the config reference in README.md",
        "phasescale:parts.redis: got {'fromPhase': 2, 'phases': [3]}; exactly one of fromPhase (on from that phase up) "
        "or phases (on at the phases listed)",
        "phasescale:phaseOverrides.1-2.services: got {'minReplicas': 4}; at phase 1: minReplicas (4) must not be above "
        "maxReplicas (3)",
        "phasescale:phaseOverrides.1-4.redis.shards: got 0; Input should be greater than or equal to 1",
        "phasescale:phaseOverrides.3.postgres: got {'readReplicas': 11, 'minPoolSize': 60}; minPoolSize (60) must not be "
        "above defaultPoolSize (50)",
        "phasescale:phaseOverrides.3.postgres.readReplicas: got 11; Input should be less than or equal to 10",
        "phasescale:phaseOverrides.3.postgress: got {'cpu': 2}; unknown key (misspelled?); see the config reference in "
        "README.md",
        f"phasescale:phaseOverrides.4-2: got '4-2'; {phased.PHASE_KEY_HELP}",
        "phasescale:phaseOverrides.4.cdn: got 5; Input should be a valid dictionary or instance of CdnSizing",
        "phasescale:phaseOverrides.4.gpu.minReplicas: got 2; set once per phase: phaseOverrides.2-4 sets it for phase 4 too",
        f"phasescale:phaseOverrides.5: got 5; {phased.PHASE_KEY_HELP}",
        f"phasescale:phaseOverrides.three: got 'three'; {phased.PHASE_KEY_HELP}",
    ]


def test_a_value_wrong_at_another_phase_is_reported_now_and_overrides_keep_their_path() -> None:
    # The stack is at phase 2; phase 1's default pool (20) is below 30: reported before the move.
    config = raw(phaseOverrides={"1": {"postgres": {"minPoolSize": 30}}}, overrides={"postgres": {"readReplicas": -1}})
    assert problems(config) == [
        "phasescale:overrides.postgres.readReplicas: got -1; Input should be greater than or equal to 0",
        "phasescale:phaseOverrides.1.postgres: got {'minPoolSize': 30}; minPoolSize (30) must not be above "
        "defaultPoolSize (20)",
    ]
    # A phase key that is not a mapping, and phaseOverrides that is not one.
    assert problems(raw(phaseOverrides={"3": [1]})) == [
        "phasescale:phaseOverrides.3: got [1]; a mapping of catalog tables to values, like overrides: "
        "{postgres: {readReplicas: 2}}"
    ]
    assert problems(raw(phaseOverrides=[3])) == ["phasescale:phaseOverrides: got [3]; Input should be a valid dictionary"]


# --- the plan and the diff ----------------------------------------------------------------------

STACK = """\
config:
  phasescale:phase: 2
  phasescale:environment: development
  phasescale:cluster: {target: existing}
  phasescale:regions: {local: {location: local, kubeContext: kind}}
  phasescale:parts: {postgres: true, redis: {phases: [2, 3]}, monitoring: false, cdn: {fromPhase: 4}}
  phasescale:overrides: {postgres: {readReplicas: 0}}
  phasescale:phaseOverrides:
    2: {postgres: {storageGib: 50}}
    3-4: {postgres: {readReplicas: 2}}
"""


@functools.cache
def _plan(phase: int, root: str) -> planner.Plan:
    return planner.run("t", phase, Path(root))


@pytest.fixture(scope="module")
def stack_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    root = tmp_path_factory.mktemp("phased")
    (root / "Pulumi.t.yaml").write_text(STACK)
    shutil.copy(ROOT / "Pulumi.yaml", root)
    return str(root)


def test_the_plan_follows_the_per_phase_values_and_parts(stack_dir: str) -> None:
    def instances(phase: int) -> list[int]:
        return [r.inputs["spec"]["instances"] for r in _plan(phase, stack_dir).of_type("kubernetes:postgresql.cnpg.io/v1:Cluster")]

    assert [instances(p) for p in (2, 3, 4)] == [[1], [3], [3]]  # no replica at 2; 2 replicas from 3
    assert _plan(2, stack_dir).named("kubernetes:postgresql.cnpg.io/v1:Cluster", "local-pg").inputs["spec"]["storage"]["size"] == "50Gi"
    cdn = [[r.name for r in _plan(p, stack_dir).of_type("phasescale:components:CdnBucket")] for p in (2, 3, 4)]
    assert cdn == [[], [], ["local-cdn"]]


def test_the_diff_names_a_part_switched_off_and_keeps_volumes_at_the_per_phase_key(stack_dir: str) -> None:
    down = render(diff(_plan(4, stack_dir), _plan(3, stack_dir)), 4, 3).splitlines()
    assert down[1] == (
        "PART OFF cdn at phase 3 (phasescale:parts.cdn): every resource of the part is deleted; each that holds data "
        "is on a STATEFUL DELETE line (protected in production: pulumi up stops until it is unprotected)"
    )
    assert "STATEFUL DELETE kubernetes:apps/v1:StatefulSet local-cdn (stateful: data is lost unless migrated first)" in down
    up = render(diff(_plan(3, stack_dir), _plan(4, stack_dir)), 3, 4).splitlines()
    assert up[1].startswith("PART OFF redis at phase 4 (phasescale:parts.redis): every resource of the part is deleted")
    assert up[2] == "PART ON cdn at phase 4 (phasescale:parts.cdn): the part is created"
    assert up[3:5] == [
        "1 stateful migration(s) - read README 'Stateful migrations' first:",
        "STATEFUL DELETE kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisCluster local-redis (stateful: data is lost "
        "unless migrated first)",
    ]
    # Phase 2's own storageGib (50) shrinks phase 3's 250: keep it with phase 2's key, not overrides
    # (phaseOverrides.2 wins over overrides at phase 2).
    assert volume_shrinks(diff(_plan(3, stack_dir), _plan(2, stack_dir))) == [
        "VOLUME SHRINK kubernetes:postgresql.cnpg.io/v1:Cluster local-pg spec.storage.size: 250Gi -> 50Gi (no operator "
        "or cloud shrinks a volume; keep it: phasescale:phaseOverrides.2.postgres.storageGib: 250, README 'Rolling back')"
    ]


def test_the_keep_key_follows_where_the_phase_takes_its_value() -> None:
    def key(before: dict[str, str], after: dict[str, str]) -> str:
        return keep_key(PlanDiff(to_phase=2, per_phase=(before, after)), "postgres.storageGib")

    assert key({}, {}) == "overrides.postgres.storageGib"
    assert key({}, {"postgres.storageGib": "1-2"}) == "phaseOverrides.1-2.postgres.storageGib"
    # The size came from phase 3's own key: keep it at phase 2 with one of its own.
    assert key({"postgres.storageGib": "3"}, {}) == "phaseOverrides.2.postgres.storageGib"
    assert keep_key(PlanDiff(to_phase=2), "cdn.devStoreGib") == "cdn.devStoreGib"
