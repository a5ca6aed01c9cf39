"""The deployability check of Secrets: every Secret a pod of the plan reads exists.

``user_secrets(settings, clusters)`` lists the Secrets a stack's config tells the user to create (each
with the config key that documents it); ``plan_problems(settings, objects)`` runs
:func:`components.secret_refs.secret_problems` over every Kubernetes object of an offline plan. The
tests run it over every stack file at every phase (``tests/infra/test_secret_refs.py``); config
mistakes that would make a pod read a missing Secret (a service with ``database`` or ``cache`` when
the part is off) are refused earlier, in ``infra.services.connection_problems``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.problems import Problem
from components.secret_refs import Key, secret_problems
from infra.config import Target
from infra.parts.cdn import STORE_NAME
from infra.settings import Settings


def user_secrets(settings: Settings, clusters: list[str]) -> dict[Key, str]:
    """Secrets the user creates, in each of ``clusters`` (the plan's Kubernetes providers)."""
    cfg = settings.stack
    out: dict[Key, str] = {}
    if cfg.cluster.target is Target.EXISTING:
        for part, path in (("postgres", cfg.postgres), ("redis", cfg.redis)):
            if getattr(cfg.parts, part) and path.backup_endpoint_url:
                for cluster in clusters:
                    out[(cluster, cfg.namespace, path.backup_secret)] = f"phasescale:{part}.backupSecret"
        if cfg.parts.cdn:
            for cluster in clusters:
                out[(cluster, cfg.namespace, f"{STORE_NAME}-s3-config")] = (
                    "phasescale:cdn on target existing (the dev store's s3.json, created with kubectl)"
                )
    return out


def plan_problems(settings: Settings, objects: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Problem]:
    """``objects``: ``(cluster, object)`` of every Kubernetes object of a plan (``Plan.manifests()``)."""
    clusters = sorted({cluster for cluster, _ in objects})
    return secret_problems(objects, user_secrets(settings, clusters))
