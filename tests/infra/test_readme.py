"""README.md tells the truth: its config reference is the one generated from the models, and its
quickstart commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from infra.reference import BEGIN, END, render

ROOT = Path(__file__).resolve().parents[2]


def test_readme_config_reference_is_the_generated_one() -> None:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == render(), "README is stale: replace its reference with `python -m infra reference`"


def test_quickstart_targets_exist_in_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("plan", "test", "bench", "validate-shared"):
        assert re.search(rf"^{target}:", makefile, re.M), target
    assert "make test" in (ROOT / ".ci" / "run").read_text()
