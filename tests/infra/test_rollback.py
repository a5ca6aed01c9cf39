"""Moving down a phase: `infra diff` names every volume that would shrink (no operator or cloud
shrinks one), the override it prints keeps the size, and no move down deletes the CDN bucket or is
blocked by a protected read replica."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from infra import plan as planner
from infra.diff import diff, render, volume_shrinks
from infra.plan import Plan, Record
from tests.planning import ROOT, STACKS, plan_of

DATABASES = ("aws:rds/instance:Instance", "gcp:sql/databaseInstance:DatabaseInstance")
MONITORING = "values.prometheus.prometheusSpec.storageSpec.volumeClaimTemplate.spec.resources.requests.storage"
SHRINKS = {
    # (stack, from, to): {(type, name, path, old, new, override key, kept)}
    ("prod", 4, 3): {("kubernetes:helm.sh/v3:Release", "seoul-monitoring", MONITORING, "400Gi", "200Gi", "monitoring.storageGib", 400),
                     ("kubernetes:postgresql.cnpg.io/v1:Cluster", "seoul-pg", "spec.storage.size", "500Gi", "250Gi", "postgres.storageGib", 500),
                     ("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "seoul-logging-es", "spec.nodeSets[0].volumeClaimTemplates[0].spec.resources.requests.storage", "500Gi", "250Gi", "logging.elasticsearchStorageGib", 500)},
    ("prod", 3, 2): {("kubernetes:helm.sh/v3:Release", "seoul-monitoring", MONITORING, "200Gi", "100Gi", "monitoring.storageGib", 200),
                     ("kubernetes:postgresql.cnpg.io/v1:Cluster", "seoul-pg", "spec.storage.size", "250Gi", "100Gi", "postgres.storageGib", 250),
                     ("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "seoul-logging-es", "spec.nodeSets[0].volumeClaimTemplates[0].spec.resources.requests.storage", "250Gi", "100Gi", "logging.elasticsearchStorageGib", 250)},
    ("prod-aws", 4, 3): {("kubernetes:helm.sh/v3:Release", "seoul-monitoring", MONITORING, "400Gi", "200Gi", "monitoring.storageGib", 400),
                         ("aws:rds/instance:Instance", "seoul-pg", "allocatedStorage", 500, 250, "postgres.storageGib", 500),
                         ("aws:rds/instance:Instance", "seoul-pg", "maxAllocatedStorage", 1000, 500, "postgres.storageGib", 500)},
    ("prod-aws", 3, 2): {("kubernetes:helm.sh/v3:Release", "seoul-monitoring", MONITORING, "200Gi", "100Gi", "monitoring.storageGib", 200),
                         ("aws:rds/instance:Instance", "seoul-pg", "allocatedStorage", 250, 100, "postgres.storageGib", 250),
                         ("aws:rds/instance:Instance", "seoul-pg", "maxAllocatedStorage", 500, 200, "postgres.storageGib", 250)},
    ("dev", 4, 3): {("kubernetes:helm.sh/v3:Release", "local-monitoring", MONITORING, "400Gi", "200Gi", "monitoring.storageGib", 400),
                    ("kubernetes:postgresql.cnpg.io/v1:Cluster", "local-pg", "spec.storage.size", "500Gi", "250Gi", "postgres.storageGib", 500),
                    ("kubernetes:milvus.io/v1beta1:Milvus", "local-milvus", "spec.dependencies.storage.inCluster.values.persistence.size", "400Gi", "200Gi", "milvus.minioStorageGib", 400)},
    ("dev", 3, 2): {("kubernetes:helm.sh/v3:Release", "local-monitoring", MONITORING, "200Gi", "100Gi", "monitoring.storageGib", 200),
                    ("kubernetes:postgresql.cnpg.io/v1:Cluster", "local-pg", "spec.storage.size", "250Gi", "100Gi", "postgres.storageGib", 250),
                    ("kubernetes:milvus.io/v1beta1:Milvus", "local-milvus", "spec.dependencies.storage.inCluster.values.persistence.size", "200Gi", "100Gi", "milvus.minioStorageGib", 200)},
}  # fmt: skip


def _line(t: str, name: str, path: str, old: object, new: object, key: str, keep: int) -> str:
    return (f"VOLUME SHRINK {t} {name} {path}: {old} -> {new} (no operator or cloud shrinks a volume; "
            f"keep it: phasescale:overrides.{key}: {keep}, README 'Rolling back')")


@pytest.mark.parametrize(("stack", "a", "b"), sorted(SHRINKS))
def test_diff_names_every_volume_shrink_of_a_move_down(stack: str, a: int, b: int) -> None:
    text = render(diff(plan_of(stack, a), plan_of(stack, b)), a, b).splitlines()
    got = sorted(line for line in text if line.startswith("VOLUME SHRINK"))
    assert got == sorted(_line(*case) for case in SHRINKS[(stack, a, b)])
    # Loud: right after the stateful lines, before any create/change line.
    first_change = next(i for i, line in enumerate(text) if line.startswith(("+ ", "~ ", "+- ", "- ")))
    assert all(text.index(line) < first_change for line in got)


@pytest.mark.parametrize(("stack", "a", "b"), sorted(SHRINKS))
def test_the_printed_overrides_keep_every_volume(tmp_path: Path, stack: str, a: int, b: int) -> None:
    doc = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    overrides: dict[str, dict[str, int]] = {}
    for *_, key, keep in SHRINKS[(stack, a, b)]:
        part, field = key.split(".")
        overrides.setdefault(part, {})[field] = keep
    doc["config"]["phasescale:overrides"] = overrides
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(doc))
    for extra in ROOT.glob("Pulumi.yaml"):
        shutil.copy(extra, tmp_path)
    kept = planner.run(stack, b, root=tmp_path)
    d = diff(plan_of(stack, a), kept)
    assert volume_shrinks(d) == []
    assert "no volume shrinks" in render(d, a, b).splitlines()


def test_a_growing_or_unrelated_quantity_is_no_shrink() -> None:
    def rec(**inputs: object) -> Record:
        return Record("kubernetes:postgresql.cnpg.io/v1:Cluster", "pg", "", "p", False, True, dict(inputs))

    def plan(*records: Record) -> Plan:
        return Plan(stack="x", settings=plan_of("dev").settings, records=list(records))

    memory = {"spec": {"resources": {"requests": {"memory": "8Gi"}}, "storage": {"size": "20Gi"}}}
    smaller_memory = {"spec": {"resources": {"requests": {"memory": "2Gi"}}, "storage": {"size": "100Gi"}}}
    assert volume_shrinks(diff(plan(rec(**memory)), plan(rec(**smaller_memory)))) == []
    # Breaks: the same move the other way is a shrink of storage.size, and only that.
    assert volume_shrinks(diff(plan(rec(**smaller_memory)), plan(rec(**memory)))) == [
        _line("kubernetes:postgresql.cnpg.io/v1:Cluster", "pg", "spec.storage.size", "100Gi", "20Gi", "postgres.storageGib", 100)
    ]


@pytest.mark.parametrize("stack", STACKS)
def test_no_move_down_deletes_a_bucket_before_phase_4_or_meets_a_protected_replica(stack: str) -> None:
    for a, b in ((3, 2), (2, 1)):
        d = diff(plan_of(stack, a), plan_of(stack, b))
        buckets = [r.name for r in d.deleted if r.type in ("aws:s3/bucket:Bucket", "gcp:storage/bucket:Bucket")]
        assert buckets == [], (stack, a, b)
        # Read replicas go on a move down: none may be protected (Redis mode changes are the documented
        # stateful migrations, protected on purpose).
        replicas = [r for r in d.deleted if r.type in DATABASES]
        assert [r.name for r in replicas if r.protect or r.inputs.get("deletionProtection")] == [], (stack, a, b)
