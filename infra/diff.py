"""Compare the plans of two phases: what would be created, changed and deleted, with data risk first.

Every deletion or replacement of a stateful resource (``components/stateful.py``) is named on its
own line starting with ``STATEFUL``, so a reviewer sees data risk before ``pulumi up``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from components.stateful import REPLACE_ON_CHANGE, is_stateful
from infra.plan import Plan, Record


@dataclass
class PlanDiff:
    created: list[Record] = field(default_factory=list)
    deleted: list[Record] = field(default_factory=list)
    changed: list[tuple[Record, Record, list[str]]] = field(default_factory=list)
    replaced: list[tuple[Record, Record, list[str]]] = field(default_factory=list)

    @property
    def stateful_risks(self) -> list[str]:
        lines = [f"STATEFUL DELETE {r.type} {r.name} (stateful: data is lost unless migrated first)"
                 for r in self.deleted if is_stateful(r.type)]
        lines += [f"STATEFUL REPLACE {b.type} {b.name} on {', '.join(keys)} (stateful: data is lost unless migrated first)"
                  for _, b, keys in self.replaced if is_stateful(b.type)]
        return lines


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out or {prefix: {}}
    return {prefix: value}


def changed_paths(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def diff(before: Plan, after: Plan) -> PlanDiff:
    old = {r.key: r for r in before.records}
    new = {r.key: r for r in after.records}
    out = PlanDiff()
    out.created = [new[k] for k in new if k not in old]
    out.deleted = [old[k] for k in old if k not in new]
    for k in sorted(old.keys() & new.keys()):
        paths = changed_paths(old[k].inputs, new[k].inputs)
        if not paths:
            continue
        force = [p for p in paths if any(p == f or p.startswith(f + ".") for f in REPLACE_ON_CHANGE.get(new[k].type, ()))]
        if force:
            out.replaced.append((old[k], new[k], force))
        else:
            out.changed.append((old[k], new[k], paths))
    return out


# --- Volume shrinks ----------------------------------------------------------------------------
# No operator or cloud shrinks a volume: CNPG's webhook rejects a smaller storage.size, RDS rejects a
# smaller allocatedStorage (and a maxAllocatedStorage not above it), Cloud SQL cannot reduce diskSize,
# and a StatefulSet's volumeClaimTemplates (Redis operator, Prometheus) never shrink a bound PVC.
VOLUME_NUMBERS = ("allocatedStorage", "maxAllocatedStorage", "diskSize")
"""Inputs that are volume sizes in GB/GiB (RDS, Cloud SQL ``settings.diskSize``)."""
VOLUME_QUANTITY_KEYS = ("storage", "size")
"""Last path segments whose Kubernetes quantity is a volume size (``resources.requests.storage``,
CNPG ``storage.size``, chart ``persistence.size``)."""
KEEP_OVERRIDE = {
    "kubernetes:postgresql.cnpg.io/v1:Cluster": "postgres.storageGib",
    "aws:rds/instance:Instance": "postgres.storageGib",
    "gcp:sql/databaseInstance:DatabaseInstance": "postgres.storageGib",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis": "redis.storageGib",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication": "redis.storageGib",
    "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisCluster": "redis.storageGib",
    "kubernetes:milvus.io/v1beta1:Milvus": "milvus.minioStorageGib",
    "kubernetes:helm.sh/v3:Release": "monitoring.storageGib",
    "kubernetes:core/v1:PersistentVolumeClaim": "cdn.devStoreGib",
}
"""Where the stack keeps the old size (``phasescale:overrides.<part>.<key>``, or a ``phasescale:cdn`` key)."""
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)$")
_UNIT = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _volume_bytes(path: str, value: Any) -> float | None:
    last = path.rsplit(".", 1)[-1]
    if last in VOLUME_NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 2**30
    if last in VOLUME_QUANTITY_KEYS and isinstance(value, str) and (m := _QUANTITY.match(value)):
        return float(m.group(1)) * _UNIT[m.group(2)]
    return None


def volume_shrinks(d: PlanDiff) -> list[str]:
    """One ``VOLUME SHRINK`` line per input of a kept resource that asks for a smaller volume, with
    the override that keeps the old size (``infra diff`` prints them before everything else)."""
    lines = []
    for a, b, _paths in sorted([*d.changed, *d.replaced], key=lambda c: c[1].key):
        fa, fb = _flatten(a.inputs), _flatten(b.inputs)
        for path in sorted(fa.keys() & fb.keys()):
            old, new = _volume_bytes(path, fa[path]), _volume_bytes(path, fb[path])
            if old is None or new is None or new >= old:
                continue
            where = KEEP_OVERRIDE.get(b.type, "the part's storage key")
            key = where if where.startswith("cdn.") else f"overrides.{where}"
            # RDS's maxAllocatedStorage is twice storageGib (components.postgres.managed.rds_instances).
            keep = int(old / 2**30) // (2 if path == "maxAllocatedStorage" else 1)
            lines.append(f"VOLUME SHRINK {b.type} {b.name} {path}: {fa[path]} -> {fb[path]} (no operator or "
                         f"cloud shrinks a volume; keep it: phasescale:{key}: {keep}, README 'Rolling back')")
    return lines


def render(d: PlanDiff, from_phase: int, to_phase: int) -> str:
    lines = [f"phase {from_phase} -> {to_phase}: {len(d.created)} to create, {len(d.changed)} to change, "
             f"{len(d.replaced)} to replace, {len(d.deleted)} to delete"]
    risks = d.stateful_risks
    if risks:
        lines.append(f"{len(risks)} stateful migration(s) - read README 'Stateful migrations' first:")
        lines += risks
    else:
        lines.append("no stateful resource is replaced or deleted")
    lines += volume_shrinks(d) or ["no volume shrinks"]
    lines += [f"+ create  {r.type} {r.name}" for r in sorted(d.created, key=lambda r: r.key)]
    for _, r, paths in sorted(d.changed, key=lambda c: c[1].key):
        lines.append(f"~ change  {r.type} {r.name}: {', '.join(paths[:6])}{' ...' if len(paths) > 6 else ''}")
    lines += [f"+- replace {r.type} {r.name}: {', '.join(p)}" for _, r, p in d.replaced]
    lines += [f"- delete  {r.type} {r.name}" for r in sorted(d.deleted, key=lambda r: r.key)]
    return "\n".join(lines)
