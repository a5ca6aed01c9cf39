"""One shape for every configuration problem, so they can be collected and reported together.

Pure module: no Pulumi imports. Validation functions return ``list[Problem]`` (empty when the
input is valid); the composition gathers the lists of every part and raises one ``ConfigError``
before any resource is registered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """A single config mistake: where it is, what was given, and what would be valid."""

    path: str
    """Config path, e.g. ``phasescale:overrides.gpu.tensorParallelSize``."""
    value: Any
    """The value given (already redacted if it came from a secret)."""
    expected: str
    """What would be valid, in words a user can act on."""

    def render(self) -> str:
        # Values are shown as the stack file spells them: booleans as YAML's true/false.
        shown = ("true" if self.value else "false") if isinstance(self.value, bool) else repr(self.value)
        return f"{self.path}: got {shown}; {self.expected}"


class ConfigError(Exception):
    """Raised once, with every problem found, before any resource is registered."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        unique = {p.render(): p for p in problems}
        self.problems = sorted(unique.values(), key=lambda p: (p.path, p.expected))
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"{len(self.problems)} config problem(s):"]
        lines += [f"  - {p.render()}" for p in self.problems]
        return "\n".join(lines)


def raise_if_any(problems: Iterable[Problem]) -> None:
    """Raise one ``ConfigError`` carrying all ``problems`` if there are any."""
    found = list(problems)
    if found:
        raise ConfigError(found)
