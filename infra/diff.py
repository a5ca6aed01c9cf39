"""Compare the plans of two phases: what would be created, changed and deleted, with data risk first.

Every deletion or replacement of a stateful resource (``components/stateful.py``) is named on its
own line starting with ``STATEFUL``, so a reviewer sees data risk before ``pulumi up``.
"""

from __future__ import annotations

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


def render(d: PlanDiff, from_phase: int, to_phase: int) -> str:
    lines = [f"phase {from_phase} -> {to_phase}: {len(d.created)} to create, {len(d.changed)} to change, "
             f"{len(d.replaced)} to replace, {len(d.deleted)} to delete"]
    risks = d.stateful_risks
    if risks:
        lines.append(f"{len(risks)} stateful migration(s) - read README 'Stateful migrations' first:")
        lines += risks
    else:
        lines.append("no stateful resource is replaced or deleted")
    lines += [f"+ create  {r.type} {r.name}" for r in sorted(d.created, key=lambda r: r.key)]
    for _, r, paths in sorted(d.changed, key=lambda c: c[1].key):
        lines.append(f"~ change  {r.type} {r.name}: {', '.join(paths[:6])}{' ...' if len(paths) > 6 else ''}")
    lines += [f"+- replace {r.type} {r.name}: {', '.join(p)}" for _, r, p in d.replaced]
    lines += [f"- delete  {r.type} {r.name}" for r in sorted(d.deleted, key=lambda r: r.key)]
    return "\n".join(lines)
