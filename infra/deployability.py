"""The deployability checks that need the plan's own objects, run before anything is registered.

Config checks (``infra.load``) and the scheduling check (``infra.scheduling``) read the settings.
Two rules can only be judged on the objects the program would really send, so they run over a
recorded plan (the program under Pulumi's mocks, ``infra.recording``):

- every Secret a pod (or an operator's pod) reads is created by the plan, or is one the README tells
  the user to create (``infra.secret_check``);
- every metric an alert, a recording rule or a KEDA trigger reads is produced by a scrape the plan
  deploys in the same cluster (``components.monitoring.metrics``).

``python -m infra plan`` / ``diff`` run them on the plan they just recorded. Under ``pulumi up`` /
``preview``, ``preflight`` records the same program with the engine's own config in a child process
(``python -m infra preflight``: mocks cannot share a process with the real engine) and raises the
problems before the first registration, as a config error is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components.monitoring.metrics import Producer, producers, unproduced
from components.problems import Problem
from infra.config import Runtime
from infra.secret_check import plan_problems as secret_problems
from infra.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
Objects = Sequence[tuple[str, Mapping[str, Any]]]


def metric_reads(
    settings: Settings, manifests: Objects, releases: Objects
) -> dict[str, tuple[list[dict[str, Any]], dict[str, str], set[Producer]]]:
    """Per cluster: its rule groups, its KEDA Prometheus queries and the producers it deploys."""
    by_cluster: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for cluster, obj in manifests:
        by_cluster[cluster].append(obj)
    charts: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for cluster, rel in releases:
        charts[cluster].append(rel)
    services = [n for n, s in settings.stack.services.items() if s.runtime is Runtime.KUBERNETES]
    out = {}
    for cluster, objs in by_cluster.items():
        groups = [g for o in objs if o["kind"] == "PrometheusRule" for g in o["spec"]["groups"]]
        keda = {
            f"ScaledObject {o['metadata']['name']} trigger {i}": t["metadata"]["query"]
            for o in objs if o["kind"] == "ScaledObject"
            for i, t in enumerate(o["spec"]["triggers"]) if t["type"] == "prometheus"
        }  # fmt: skip
        found = producers([dict(o) for o in objs], [dict(r) for r in charts[cluster]], services)
        out[cluster] = (groups, keda, found)
    return out


def metric_problems(settings: Settings, manifests: Objects, releases: Objects) -> list[Problem]:
    problems = []
    for cluster, (groups, keda, found) in sorted(metric_reads(settings, manifests, releases).items()):
        for missing in unproduced(groups, keda, found):
            reader, _, metric = missing.rpartition(": ")
            problems.append(Problem(
                f"{cluster}: {reader}", metric,
                "a metric that a scrape the plan deploys in this cluster produces (an exporter, a "
                "ServiceMonitor or a chart's scrape: components/monitoring/metrics.PRODUCES); without "
                "one this alert or trigger never has data",
            ))  # fmt: skip
    return problems


def plan_problems(settings: Settings, manifests: Objects, releases: Objects) -> list[Problem]:
    """Every deployability problem of one recorded plan (``Plan.manifests()``, ``Plan.helm_releases()``)."""
    return secret_problems(settings, manifests) + metric_problems(settings, manifests, releases)


def _problem(item: Mapping[str, Any]) -> Problem:
    return Problem(str(item["path"]), item["value"], str(item["expected"]))


def preflight(raw: Mapping[str, Any], secret_keys: frozenset[str], stack: str) -> list[Problem]:
    """Under the real engine: record the program with this config in a child process and return its
    deployability problems. The config (secrets included) goes through a pipe, never a file."""
    payload = json.dumps({"config": dict(raw), "secretKeys": sorted(secret_keys), "stack": stack})
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}  # the child talks to mocks only
    proc = subprocess.run(
        [sys.executable, "-m", "infra", "preflight"],
        input=payload, capture_output=True, text=True, cwd=ROOT, env=env, check=False,
    )  # fmt: skip
    if proc.returncode != 0:  # the child answers with exit 0; anything else is a crash, never a pass
        return [Problem("phasescale (preflight)", proc.returncode, f"the offline check of this config to finish: {proc.stderr[-2000:]}")]
    return [_problem(p) for p in json.loads(proc.stdout)]
