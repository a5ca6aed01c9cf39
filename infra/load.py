"""Load a stack for ``pulumi up`` or the offline plan: every check of every stage, one ConfigError.

:func:`infra.settings.resolve_all` checks the keys, the schema, the overrides and the cross-key
rules without stopping at the first failing stage; here the parts' own checks (engine vs target,
pool budgets, GPU fit) and the derived cloud names run too, on settings whose invalid values were
reset to their defaults, so one run reports every mistake. Problems at paths already reported are
consequences of those and are dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.problems import ConfigError, Problem
from infra import names
from infra.settings import Settings, resolve_all
from infra.stack import validate


def load(
    raw: Mapping[str, Any],
    secret_keys: frozenset[str],
    stack_name: str,
    phase_override: int | None = None,
) -> Settings:
    """Validated settings of stack ``stack_name``, or a ConfigError carrying every problem."""
    found = resolve_all(raw, secret_keys, phase_override)
    problems = list(found.problems)
    if found.settings is not None and found.phase_known:
        later = validate(found.settings) + names.check(found.settings, stack_name)
        problems += [p for p in later if not found.shadowed(p.path)]
    if problems or found.settings is None:
        raise ConfigError(problems or [Problem("phasescale:phase", None, "an integer 1-4")])
    return found.settings
