"""Compare the plans of two phases: what would be created, changed and deleted, with data risk first.

Every deletion or replacement of a stateful resource (``components/stateful.py``) is named on its
own line starting with ``STATEFUL``, so a reviewer sees data risk before ``pulumi up``. Every
replacement, move (delete + create under the same component) or deletion of a node pool or node
group follows on a line starting with ``NODE POOL``: capacity the cluster loses or rebuilds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from components.stateful import REPLACE_ON_CHANGE, is_stateful
from infra.config import Parts
from infra.plan import Plan, Record

NODE_POOL_NAME_INPUT = {"gcp:container/nodePool:NodePool": "name", "aws:eks/nodeGroup:NodeGroup": "nodeGroupName"}
"""Node pool / group types and the input that holds their name in the cloud."""

NODE_POOL_FORCE_NEW: dict[str, tuple[str, ...]] = {
    # terraform-provider-google google/services/container/node_config.go
    # @ 00b984c6987304290117e54f87cdfd38f2be0685 (ForceNew fields; machine type, disk, image type,
    # labels and taints update in place) and resource_container_node_pool.go (name, location, cluster).
    "gcp:container/nodePool:NodePool": (
        "name", "location", "cluster", "project", "nodeConfig.guestAccelerators", "nodeConfig.spot",
        "nodeConfig.preemptible", "nodeConfig.serviceAccount", "nodeConfig.oauthScopes", "nodeConfig.metadata",
        "nodeConfig.shieldedInstanceConfig", "nodeConfig.localSsdCount", "nodeConfig.minCpuPlatform",
    ),
    # terraform-provider-aws internal/service/eks/node_group.go @ 012e0a32f0686212f447447fd3d81c3d0ce256ad
    "aws:eks/nodeGroup:NodeGroup": (
        "nodeGroupName", "clusterName", "amiType", "capacityType", "diskSize", "instanceTypes", "nodeRoleArn",
        "subnetIds", "remoteAccess", "launchTemplate.id", "launchTemplate.name",
    ),
}  # fmt: skip
"""Inputs whose change makes the provider replace the pool or group."""


def is_node_pool(type_: str) -> bool:
    return type_ in NODE_POOL_NAME_INPUT


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@dataclass
class PlanDiff:
    created: list[Record] = field(default_factory=list)
    deleted: list[Record] = field(default_factory=list)
    changed: list[tuple[Record, Record, list[str]]] = field(default_factory=list)
    replaced: list[tuple[Record, Record, list[str]]] = field(default_factory=list)
    parts_off: list[str] = field(default_factory=list)
    """Parts on before and off after (``phasescale:parts.<part>`` on at some phases only)."""
    parts_on: list[str] = field(default_factory=list)
    to_phase: int | None = None
    per_phase: tuple[dict[str, str], dict[str, str]] = ({}, {})
    """Catalog values each side takes from ``phasescale:phaseOverrides`` (``Settings.per_phase``)."""

    @property
    def part_switches(self) -> list[str]:
        """One line per part the move switches off (its data resources follow on STATEFUL lines) or on."""
        at = f" at phase {self.to_phase}" if self.to_phase else ""
        lines = [f"PART OFF {p}{at} (phasescale:parts.{p}): every resource of the part is deleted; each that "
                 "holds data is on a STATEFUL DELETE line (protected in production: pulumi up stops until it is "
                 "unprotected)" for p in self.parts_off]  # fmt: skip
        return lines + [f"PART ON {p}{at} (phasescale:parts.{p}): the part is created" for p in self.parts_on]

    @property
    def stateful_risks(self) -> list[str]:
        lines = [f"STATEFUL DELETE {r.type} {r.name} (stateful: data is lost unless migrated first)"
                 for r in self.deleted if is_stateful(r.type)]
        lines += [f"STATEFUL REPLACE {b.type} {b.name} on {', '.join(keys)} (stateful: data is lost unless migrated first)"
                  for _, b, keys in self.replaced if is_stateful(b.type)]
        return lines

    @property
    def node_pool_changes(self) -> list[str]:
        """One line per node pool replaced, moved to a new pool (deleted and created under the same
        component) or deleted."""
        lines: list[str] = []
        for old, new, keys in self.replaced:
            if not is_node_pool(new.type):
                continue
            attr = NODE_POOL_NAME_INPUT[new.type]
            if old.inputs.get(attr) != new.inputs.get(attr):
                why = f"new cloud name {new.inputs.get(attr)}: created first, the old pool deleted after"
            else:
                why = (f"same cloud name {new.inputs.get(attr)}: the create-first replacement collides with the "
                       "old pool; name the pool by its shape")  # fmt: skip
            lines.append(f"NODE POOL REPLACE {new.type} {new.name} on {', '.join(keys)} ({why})")
        created = [r for r in self.created if is_node_pool(r.type)]
        for old in sorted((r for r in self.deleted if is_node_pool(r.type)), key=lambda r: r.key):
            twins = [r for r in created if r.type == old.type and r.parent == old.parent]
            if twins:
                new = max(twins, key=lambda r: _shared_prefix(r.name, old.name))
                created.remove(new)
                lines.append(
                    f"NODE POOL MOVE {old.type} {old.name} -> {new.name} (the new pool is created first and its "
                    "workloads move by node selector; the old pool is drained and deleted at the end of the update)"
                )
            else:
                lines.append(f"NODE POOL DELETE {old.type} {old.name} (its nodes are drained and removed)")
        return lines


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out or {prefix: {}}
    return {prefix: value}


def _flatten_lists(value: Any, prefix: str = "") -> dict[str, Any]:
    """:func:`_flatten` into lists too (``nodeSets[0].volumeClaimTemplates[0]...``): volumes inside lists."""
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for i, v in enumerate(value):
            out.update(_flatten_lists(v, f"{prefix}[{i}]"))
        return out
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            out.update(_flatten_lists(v, f"{prefix}.{k}" if prefix else k))
        return out
    return {prefix: value}


def changed_paths(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    fa, fb = _flatten(a), _flatten(b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def _force_new(type_: str) -> tuple[str, ...]:
    return REPLACE_ON_CHANGE.get(type_, ()) + NODE_POOL_FORCE_NEW.get(type_, ())


def diff(before: Plan, after: Plan) -> PlanDiff:
    old = {r.key: r for r in before.records}
    new = {r.key: r for r in after.records}
    out = PlanDiff(to_phase=after.settings.phase,
                   per_phase=(dict(before.settings.per_phase), dict(after.settings.per_phase)))
    was, now = before.settings.stack.parts, after.settings.stack.parts
    out.parts_off = [p for p in Parts.model_fields if getattr(was, p) and not getattr(now, p)]
    out.parts_on = [p for p in Parts.model_fields if getattr(now, p) and not getattr(was, p)]
    out.created = [new[k] for k in new if k not in old]
    out.deleted = [old[k] for k in old if k not in new]
    for k in sorted(old.keys() & new.keys()):
        paths = changed_paths(old[k].inputs, new[k].inputs)
        if not paths:
            continue
        force = [p for p in paths if any(p == f or p.startswith(f + ".") for f in _force_new(new[k].type))]
        if force:
            out.replaced.append((old[k], new[k], force))
        else:
            out.changed.append((old[k], new[k], paths))
    return out


# --- Volume shrinks ----------------------------------------------------------------------------
# No operator or cloud shrinks a volume: CNPG's webhook rejects a smaller storage.size, RDS rejects a
# smaller allocatedStorage (and a maxAllocatedStorage not above it), Cloud SQL cannot reduce diskSize,
# and a StatefulSet's volumeClaimTemplates (Redis operator, Prometheus) never shrink a bound PVC.
VOLUME_NUMBERS = ("allocatedStorage", "maxAllocatedStorage", "diskSize", "volumeSize")
"""Inputs that are volume sizes in GB/GiB (RDS, Cloud SQL ``settings.diskSize``, MSK's EBS ``volumeSize``)."""
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
    "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch": "logging.elasticsearchStorageGib",
    "kubernetes:kafka.strimzi.io/v1:KafkaNodePool": "queue.storageGib",
    "kubernetes:rabbitmq.com/v1beta1:RabbitmqCluster": "queue.storageGib",
    "aws:msk/cluster:Cluster": "queue.storageGib",
}
"""Where the stack keeps the old size (``phasescale:overrides.<part>.<key>``, or a ``phasescale:cdn`` key)."""
KEEP_OVERRIDE_BY_PATH = {"values.singleBinary.persistence.size": "logging.lokiStorageGib"}
"""Helm releases other than the MonitoringStack's, by the input that sizes their volume (the Loki chart)."""
_QUANTITY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti)$")
_UNIT = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _volume_bytes(path: str, value: Any) -> float | None:
    last = path.rsplit(".", 1)[-1]
    if last in VOLUME_NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 2**30
    if last in VOLUME_QUANTITY_KEYS and isinstance(value, str) and (m := _QUANTITY.match(value)):
        return float(m.group(1)) * _UNIT[m.group(2)]
    return None


def keep_key(d: PlanDiff, where: str) -> str:
    """The stack key that keeps the old size at the new phase: the ``phaseOverrides`` key that sets
    it there, or (when per-phase values size it elsewhere) one for the new phase, else ``overrides``."""
    before, after = d.per_phase
    if where.startswith("cdn."):
        return where
    if where in after:
        return f"phaseOverrides.{after[where]}.{where}"
    if where in before and d.to_phase is not None:
        return f"phaseOverrides.{d.to_phase}.{where}"
    return f"overrides.{where}"


def volume_shrinks(d: PlanDiff) -> list[str]:
    """One ``VOLUME SHRINK`` line per input of a kept resource that asks for a smaller volume, with
    the override that keeps the old size (``infra diff`` prints them before everything else)."""
    lines = []
    for a, b, _paths in sorted([*d.changed, *d.replaced], key=lambda c: c[1].key):
        fa, fb = _flatten_lists(a.inputs), _flatten_lists(b.inputs)
        for path in sorted(fa.keys() & fb.keys()):
            old, new = _volume_bytes(path, fa[path]), _volume_bytes(path, fb[path])
            if old is None or new is None or new >= old:
                continue
            key = keep_key(d, KEEP_OVERRIDE_BY_PATH.get(path) or KEEP_OVERRIDE.get(b.type, "the part's storage key"))
            # RDS's maxAllocatedStorage is twice storageGib (components.postgres.managed.rds_instances).
            keep = int(old / 2**30) // (2 if path == "maxAllocatedStorage" else 1)
            lines.append(f"VOLUME SHRINK {b.type} {b.name} {path}: {fa[path]} -> {fb[path]} (no operator or "
                         f"cloud shrinks a volume; keep it: phasescale:{key}: {keep}, README 'Rolling back')")
    return lines


def render(d: PlanDiff, from_phase: int, to_phase: int) -> str:
    lines = [f"phase {from_phase} -> {to_phase}: {len(d.created)} to create, {len(d.changed)} to change, "
             f"{len(d.replaced)} to replace, {len(d.deleted)} to delete"]  # fmt: skip
    lines += d.part_switches
    risks = d.stateful_risks
    if risks:
        lines.append(f"{len(risks)} stateful migration(s) - read README 'Stateful migrations' first:")
        lines += risks
    else:
        lines.append("no stateful resource is replaced or deleted")
    lines += volume_shrinks(d) or ["no volume shrinks"]
    pools = d.node_pool_changes
    if pools:
        lines.append(f"{len(pools)} node pool change(s) that rebuild or remove capacity - read README 'Node pools on a phase move':")
        lines += pools
    lines += [f"+ create  {r.type} {r.name}" for r in sorted(d.created, key=lambda r: r.key)]
    for _, r, paths in sorted(d.changed, key=lambda c: c[1].key):
        lines.append(f"~ change  {r.type} {r.name}: {', '.join(paths[:6])}{' ...' if len(paths) > 6 else ''}")
    lines += [f"+- replace {r.type} {r.name}: {', '.join(p)}" for _, r, p in d.replaced]
    lines += [f"- delete  {r.type} {r.name}" for r in sorted(d.deleted, key=lambda r: r.key)]
    return "\n".join(lines)
