"""Shared helpers for the tests: plans of the real stack files, and object lookups.

A plan is computed once per test run, not once per pytest-xdist worker: the first worker to need
it computes it under a file lock and pickles it into a cache folder keyed by the hash of the
project's sources, its pinned requirements and the Python version, so an edit never reuses a
stale plan.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from infra import plan as planner

STACKS = ("dev", "prod", "prod-aws")
LOCATIONS = {"gke": "asia-northeast3", "eks": "ap-northeast-2", "existing": "local"}
PHASES = (1, 2, 3, 4)
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@functools.cache
def _cache_dir() -> Path:
    digest = hashlib.sha256(sys.version.encode())
    sources = [*ROOT.glob("Pulumi.*.yaml"), *EXAMPLES.glob("Pulumi.*.yaml"), *ROOT.glob("infra/**/*.py"),
               *ROOT.glob("components/**/*.py"), *ROOT.glob("tests/*/stacks/Pulumi.*.yaml"), ROOT / "infra" / "prices.yaml"]
    for path in sorted([*sources, ROOT / "requirements.txt"]):
        digest.update(str(path.relative_to(ROOT)).encode() + path.read_bytes())
    folder = Path(tempfile.gettempdir()) / f"phasescale-plans-{digest.hexdigest()[:16]}"
    folder.mkdir(exist_ok=True)
    return folder


def _files(stack: str, phase: int | None, root: Path) -> tuple[Path, Path]:
    key = stack if root == ROOT else f"{root.relative_to(ROOT).as_posix().replace('/', '_')}-{stack}"
    return _cache_dir() / f"{key}-{phase}.pickle", _cache_dir() / f"{key}-{phase}.lock"


def _compute(stack: str, phase: int | None, root: Path, cached: Path) -> planner.Plan:
    plan = planner.run(stack, phase, root=root)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_bytes(pickle.dumps(plan))
    partial.replace(cached)
    return plan


@functools.cache
def plan_of(stack: str, phase: int | None = None, root: Path = ROOT) -> planner.Plan:
    """The offline plan of a stack file (at ``phase``), computed once per test run. ``root``: the folder
    of the stack file (``examples/``, or a test's own stacks, ``tests/<part>/stacks``)."""
    cached, lock_file = _files(stack, phase, root)
    with open(lock_file, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached.exists():
            plan: planner.Plan = pickle.loads(cached.read_bytes())
            return plan
        return _compute(stack, phase, root, cached)


QUEUE_STACKS = ROOT / "tests" / "queue" / "stacks"
EXAMPLE_PHASES = {"erp": 2, "dreamseed": 3, "chat": 2, "koto": 4, "pamtalk": 3}
"""The example stacks at the phase ``tests/examples`` plans in full (the others it only resolves)."""


def shared_plans() -> list[tuple[str, int | None, Path]]:
    """Every plan several test modules read: the root stacks at every phase, the examples, the queue
    engines' test stacks."""
    out: list[tuple[str, int | None, Path]] = [(s, p, ROOT) for s in STACKS for p in PHASES]
    out += [(s, p, EXAMPLES) for s, p in EXAMPLE_PHASES.items()]
    out += [(f.stem.removeprefix("Pulumi."), None, QUEUE_STACKS) for f in sorted(QUEUE_STACKS.glob("Pulumi.*.yaml"))]
    return out


def warm(reverse: bool) -> None:
    """Compute the shared plans up front, each worker from its own end of the list, skipping a plan
    another worker is computing (a non-blocking lock), so two workers split the planning instead of
    one waiting on the other's lock. ``plan_of`` still waits for and reads whatever is skipped here."""
    order = shared_plans()
    for stack, phase, root in reversed(order) if reverse else order:
        cached, lock_file = _files(stack, phase, root)
        with open(lock_file, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            if not cached.exists():
                try:
                    _compute(stack, phase, root, cached)
                except Exception:  # the tests that read this plan report it (plan_of)
                    continue


def k8s_objects(plan: planner.Plan, kind: str) -> dict[str, dict[str, Any]]:
    """``{cluster/name: object}`` for every Kubernetes object of ``kind`` in the plan."""
    return {
        f"{cluster}/{obj['metadata']['name']}": obj
        for cluster, obj in plan.manifests()
        if obj["kind"] == kind
    }


def write_stack(root: Path, target: str, phase: int, environment: str = "production", **config: Any) -> Path:
    """A temporary stack file ``Pulumi.t.yaml``: one region ``seoul`` on ``target`` (GCP project
    ``proj``, kube context ``kind``), ``config`` as ``phasescale:<key>`` values. Returns ``root``."""
    cluster: dict[str, Any] = {"target": target}
    region: dict[str, Any] = {"location": LOCATIONS[target]}
    if target == "gke":
        cluster["gcpProject"] = "proj"
    if target != "existing":  # production refuses an API open to 0.0.0.0/0 and Ingresses without ACME e-mail
        cluster.update(apiAllowedCidrs=["203.0.113.0/24"], acmeEmail="ops@example.com")
    if target == "existing":
        region["kubeContext"] = "kind"
    doc = {
        "phasescale:phase": phase,
        "phasescale:environment": environment,
        "phasescale:cluster": cluster,
        "phasescale:regions": {"seoul": region},
        **{f"phasescale:{k}": v for k, v in config.items()},
    }
    (root / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": doc}))
    return root
