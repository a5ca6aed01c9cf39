"""Per-phase values and parts (pure): ``phasescale:phaseOverrides`` and ``phasescale:parts.<part>:
{fromPhase: N}`` / ``{phases: [...]}``.

``phaseOverrides`` maps a phase (``3``) or a range of phases (``"2-4"``) to catalog values in the
shape of ``phasescale:overrides``; at each phase the catalog row, then ``overrides``, then the
phase's values are merged and validated by the catalog's own models (``catalog.PhaseSizes``), so a
new catalog table takes per-phase values with no code here. Every phase a key names is validated,
not only the stack's current one: a value that is wrong only at phase 3 is reported at phase 1.

A part is ``true``, ``false``, or on at given phases only; the schedule is resolved to a boolean
for the stack's phase before the stack config is validated, so every reader of
``StackConfig.parts`` (and every part added later) sees a plain boolean.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from components.problems import Problem
from infra import catalog
from infra.config import Model
from infra.raw import deep_merge, drop, loc_path, message, short

NAMESPACE = "phasescale"
PHASE_KEY = re.compile(r"^([0-9])(?:-([0-9]))?$")
PHASE_KEY_HELP = "a phase 1-4 (3) or a range of phases ('2-4'), mapping catalog tables to values like overrides"

Phase = Annotated[int, Field(ge=1, le=4)]


def phases_of(key: Any) -> tuple[int, ...] | None:
    """The phases a ``phaseOverrides`` key names (``3``, ``"3"``, ``"2-4"``); None if it is none."""
    if isinstance(key, bool):
        return None
    match = PHASE_KEY.fullmatch(str(key).strip()) if isinstance(key, int | str) else None
    if match is None:
        return None
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if low not in catalog.PHASES or high not in catalog.PHASES or high < low:
        return None
    return tuple(range(low, high + 1))


class PartPhases(Model):
    """A part that is on at some phases only: from a phase up, or at the phases listed."""

    from_phase: Phase | None = Field(default=None, description="On from this phase up.")
    phases: list[Phase] | None = Field(default=None, min_length=1, description="On at exactly these phases.")

    @model_validator(mode="after")
    def _one_form(self) -> PartPhases:
        if (self.from_phase is None) == (self.phases is None):
            raise ValueError("exactly one of fromPhase (on from that phase up) or phases (on at the phases listed)")
        if self.phases is not None and len(set(self.phases)) != len(self.phases):
            raise ValueError(f"each phase once; got {self.phases}")
        return self

    def on_at(self, phase: int) -> bool:
        return phase >= self.from_phase if self.from_phase is not None else phase in (self.phases or ())


def switch_parts(parts: Any, phase: int | None) -> tuple[Any, list[Problem]]:
    """``parts`` with every schedule resolved to a boolean for ``phase`` (on when the phase is not
    known, so the part's checks still run), and the schedules' problems."""
    if not isinstance(parts, Mapping):
        return parts, []
    out: dict[str, Any] = {}
    problems: list[Problem] = []
    for name, value in parts.items():
        if not isinstance(value, Mapping):
            out[name] = value
            continue
        try:
            schedule = PartPhases.model_validate(value)
        except ValidationError as err:
            problems += [Problem(loc_path(f"{NAMESPACE}:parts.{name}.", e["loc"]).rstrip("."), short(e.get("input")),
                                 message(e)) for e in err.errors()]  # fmt: skip
            continue  # the part's default stands in
        out[name] = True if phase is None else schedule.on_at(phase)
    return out, problems


@dataclass
class PhaseLayers:
    """``phaseOverrides`` per phase: the values of every key that names the phase, merged, and for
    each value set (a path of keys) the key that set it, as written."""

    values: dict[int, dict[str, Any]] = field(default_factory=dict)
    origin: dict[int, dict[tuple[str, ...], str]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def _leaves(tree: Mapping[str, Any], above: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for key, value in tree.items():
        path = (*above, str(key))
        out += _leaves(value, path) if isinstance(value, Mapping) and value else [(path, value)]
    return out


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        if not isinstance(tree.get(key), dict):
            tree[key] = {}
        tree = tree[key]
    tree[path[-1]] = copy.deepcopy(value)


def layers(raw: Any) -> PhaseLayers:
    """Read ``phaseOverrides``: each key's phases, each value once per phase (two keys setting the
    same value for one phase would leave the reader guessing which wins, so that is a problem)."""
    out = PhaseLayers()
    if not isinstance(raw, Mapping):
        return out  # not a mapping: the stack schema reports it
    for key, tree in raw.items():
        path = f"{NAMESPACE}:phaseOverrides.{key}"
        phases = phases_of(key)
        if phases is None:  # shown as the stack file spells it (the engine hands keys over as text)
            shown = int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else key
            out.problems.append(Problem(path, short(shown), PHASE_KEY_HELP))
            continue
        if not isinstance(tree, Mapping):
            out.problems.append(Problem(path, short(tree), "a mapping of catalog tables to values, like overrides: "
                                                           "{postgres: {readReplicas: 2}}"))
            continue
        for leaf, value in _leaves(tree):
            for phase in phases:
                seen = out.origin.setdefault(phase, {})
                if leaf in seen:
                    out.problems.append(Problem(
                        f"{path}.{'.'.join(leaf)}", short(value),
                        f"set once per phase: phaseOverrides.{seen[leaf]} sets it for phase {phase} too"))
                    continue
                seen[leaf] = str(key)
                _set(out.values.setdefault(phase, {}), leaf, value)
    return out


def _origin(loc: tuple[int | str, ...], origin: Mapping[tuple[str, ...], str]) -> str | None:
    """The phase key behind an error at ``loc``: the one that set the value, or a value under it
    (an error of a whole table, such as min above max)."""
    keys = tuple(str(k) for k in loc if "[" not in str(k))
    for n in range(len(keys), 0, -1):
        if keys[:n] in origin:
            return origin[keys[:n]]
    return next((k for leaf, k in origin.items() if keys and leaf[: len(keys)] == keys), None)


@dataclass
class Sizes:
    """What :func:`resolve_sizes` found."""

    sizes: catalog.PhaseSizes | None
    problems: list[Problem]
    per_phase: dict[str, str]
    """Catalog values the stack's phase takes from ``phaseOverrides``: ``postgres.storageGib`` -> the key."""


def _merged(phase: int, overrides: Mapping[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    return deep_merge(deep_merge(catalog.phase_row(phase), overrides), layer)


def _check(phase: int, overrides: Mapping[str, Any], found: PhaseLayers, report_overrides: bool
           ) -> tuple[catalog.PhaseSizes | None, list[tuple[str, Any, str, str | None]]]:  # fmt: skip
    """Validate one phase's row; each invalid value is left out (the catalog's stands in) and the
    row checked again, so a mistake never hides another (pydantic skips a table's cross-field
    check while one of its fields is invalid). Returns the row and (path, value, message, key)."""
    over, layer = copy.deepcopy(dict(overrides)), copy.deepcopy(found.values.get(phase, {}))
    origin = dict(found.origin.get(phase, {}))
    errors: list[tuple[str, Any, str, str | None]] = []
    for _ in range(5):
        try:
            return catalog.PhaseSizes.model_validate(_merged(phase, over, layer)), errors
        except ValidationError as err:
            progress = False
            for e in err.errors():
                key = _origin(e["loc"], origin)
                loc = tuple(str(k) for k in e["loc"] if "[" not in str(k))
                if key is not None:  # shown as written (a table's own check would show the merged table)
                    written = _at(found.values.get(phase, {}), loc, e.get("input"))
                    errors.append((loc_path(f"{NAMESPACE}:phaseOverrides.{key}.", e["loc"]), short(written),
                                   message(e), key))  # fmt: skip
                    origin = {leaf: k for leaf, k in origin.items() if leaf[: len(loc)] != loc}
                    progress |= drop(layer, e["loc"])
                else:
                    if report_overrides:
                        errors.append((loc_path(f"{NAMESPACE}:overrides.", e["loc"]), short(e.get("input")),
                                       message(e), None))  # fmt: skip
                    progress |= drop(over, e["loc"])
            if not progress:
                return None, errors
    return None, errors


def _at(tree: Any, loc: tuple[str, ...], default: Any) -> Any:
    for key in loc:
        if not isinstance(tree, Mapping) or key not in tree:
            return default
        tree = tree[key]
    return tree


def resolve_sizes(phase: int | None, overrides: Mapping[str, Any], phase_overrides: Any) -> Sizes:
    """The sizes of ``phase`` (catalog row, ``overrides``, then the phase's ``phaseOverrides``; an
    invalid value replaced by the catalog's, so later checks still run) and every problem of either
    key. ``overrides`` is checked at the stack's phase (at every phase when it is not known); each
    phase a ``phaseOverrides`` key names is checked too."""
    found = layers(phase_overrides)
    problems = list(found.problems)
    sizes: catalog.PhaseSizes | None = None
    checked = [phase] if phase is not None else list(catalog.PHASES)
    wrong: dict[tuple[str, str, str], list[int]] = {}
    keys: dict[tuple[str, str, str], tuple[Any, str | None]] = {}
    for p in catalog.PHASES:
        if p not in checked and p not in found.values:
            continue
        row, errors = _check(p, overrides, found, report_overrides=p in checked)
        if p == phase or (phase is None and sizes is None and not errors):
            sizes = row
        for path, value, text, key in errors:
            wrong.setdefault((path, repr(value), text), []).append(p)
            keys[(path, repr(value), text)] = (value, key)
    for (path, shown, text), at in wrong.items():
        value, key = keys[(path, shown, text)]
        named = phases_of(key) or () if key is not None else ()
        where = "" if len(named) < 2 or tuple(at) == named else f"at phase{'s' if len(at) > 1 else ''} {', '.join(map(str, at))}: "
        problems.append(Problem(path, value, where + text))
    per_phase = {".".join(leaf): key for leaf, key in found.origin.get(phase or 0, {}).items()}
    return Sizes(sizes, problems, per_phase)
