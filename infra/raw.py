"""Raw config values (pure): merging and trimming them, and pydantic errors as problems at their
config path, with values shown as the stack file spells them. Shared by ``infra/settings.py`` and
``infra/phased.py``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from components.problems import Problem


class _Null:
    """YAML's null as a problem shows it (``got null``), not Python's ``None``."""

    def __repr__(self) -> str:
        return "null"


NULL = _Null()


def loc_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """``("phasescale:", ("services", "api", "port"))`` -> ``phasescale:services.api.port``."""
    parts = [str(p) for p in loc if "[" not in str(p)]  # drop validator names like "function-after[...]"
    return prefix + ".".join(parts)


def message(e: Any) -> str:
    """One pydantic error's text as a problem's "expected"."""
    if e["type"] == "extra_forbidden":
        return "unknown key (misspelled?); see the config reference in README.md"
    if e["type"] == "missing":
        return "required; see the config reference in README.md"
    return str(e["msg"]).removeprefix("Value error, ")


def problems_of(err: ValidationError, prefix: str) -> list[Problem]:
    return [Problem(loc_path(prefix, e["loc"]), short(e.get("input")), message(e)) for e in err.errors()]


def short(value: Any) -> Any:
    value = shown(value)
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def shown(value: Any) -> Any:
    if value is None:
        return NULL
    if isinstance(value, dict):
        return {k: shown(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def drop(values: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """Remove the value at ``loc`` (so its default applies); False when there is nothing to remove."""
    keys = [k for k in loc if "[" not in str(k)]
    node: Any = values
    for k in keys[:-1]:
        if isinstance(node, dict) and k in node:
            node = node[k]
        elif isinstance(node, dict) and str(k) in node:
            node = node[str(k)]
        elif isinstance(node, list) and isinstance(k, int) and k < len(node):
            node = node[k]
        else:
            return False
    if not keys:
        return False
    last = keys[-1]
    if isinstance(node, dict):
        for name in (last, str(last)):
            if name in node:
                del node[name]
                return True
    if isinstance(node, list) and isinstance(last, int) and last < len(node):
        del node[last]
        return True
    return False
