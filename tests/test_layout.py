"""The layout rules of docs/ARCHITECTURE.md, checked on the source: imports run downward only
(``components`` never imports ``infra``), no import hides inside a function to dodge a cycle, and no
module grows past a few hundred lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 420
SOURCES = sorted(p for d in ("components", "infra") for p in (ROOT / d).rglob("*.py"))
# The CLI and the offline planner import the composition lazily so that `reference` and argument
# errors do not pay for the cloud SDK imports; nothing imports them back, so there is no cycle.
LAZY_OK = {"infra/__main__.py", "infra/plan.py"}


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _imports(tree: ast.AST) -> list[tuple[str, ast.AST]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node))
    return found


@pytest.mark.parametrize("path", [p for p in SOURCES if _rel(p).startswith("components/")], ids=_rel)
def test_components_never_import_infra(path: Path) -> None:
    bad = [m for m, _ in _imports(ast.parse(path.read_text())) if m == "infra" or m.startswith("infra.")]
    assert bad == [], f"{_rel(path)} imports {bad}"


@pytest.mark.parametrize("path", [p for p in SOURCES if _rel(p) not in LAZY_OK], ids=_rel)
def test_project_modules_are_imported_at_the_top(path: Path) -> None:
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    late = [
        f"line {node.lineno}: {module}"
        for module, node in _imports(tree)
        if id(node) not in top and module.split(".")[0] in ("components", "infra")
    ]
    assert late == [], f"{_rel(path)} imports inside a function: {late}"


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_no_module_is_past_a_few_hundred_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= MAX_LINES
