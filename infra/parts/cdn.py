"""The cdn part (work in progress: registers nothing yet)."""

from __future__ import annotations

from typing import Any

from components.problems import Problem
from infra.parts import RegionContext
from infra.settings import Settings


def validate(settings: Settings) -> list[Problem]:
    return []


def build(ctx: RegionContext) -> dict[str, Any]:
    return {}
