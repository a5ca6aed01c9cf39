"""The plan-level deployability checks run before anything is registered: in the offline plan, and
under ``pulumi up`` through the preflight child (``infra/deployability.py``)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.monitoring import metrics
from components.problems import ConfigError, Problem
from infra import deployability
from infra import plan as planner
from infra import stack as composition
from tests.planning import write_stack

API = {"image": "ghcr.io/x/api:1.0.0", "callers": ["ingress"], "database": {"poolSize": 5}}


def _dev(tmp_path: Path, **parts: bool) -> Path:
    return write_stack(tmp_path, "existing", 1, "development", services={"api": API}, parts={"cdn": False, **parts})


def test_an_alert_without_a_producer_fails_the_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Breaks: kube-state-metrics no longer counted as producing the HPA series the HPA alerts read.
    produces = dict(metrics.PRODUCES)
    produces[metrics.Producer.KUBE_STATE_METRICS] = frozenset()
    monkeypatch.setattr(metrics, "PRODUCES", produces)
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=_dev(tmp_path))
    assert sorted((p.path, p.value) for p in err.value.problems) == [
        ("seoul-k8s: HPAMaxedOut", "kube_horizontalpodautoscaler_spec_max_replicas"),
        ("seoul-k8s: HPAMaxedOut", "kube_horizontalpodautoscaler_spec_min_replicas"),
        ("seoul-k8s: HPAMaxedOut", "kube_horizontalpodautoscaler_status_current_replicas"),
        ("seoul-k8s: HPAScaled", "kube_horizontalpodautoscaler_status_desired_replicas"),
    ]
    assert all("never has data" in p.expected for p in err.value.problems)


def test_the_preflight_child_answers_the_plan_s_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, secret = planner.read_stack_config(planner.stack_file("t", _dev(tmp_path)))
    assert planner.preflight_child(json.dumps({"config": raw, "secretKeys": sorted(secret), "stack": "t"})) == (0, "[]")
    # Breaks: the program wires a database env while postgres is off (config check skipped).
    monkeypatch.setattr(composition, "connection_problems", lambda settings: [])
    raw["phasescale:parts"] = json.dumps({"cdn": False, "postgres": False})
    status, answer = planner.preflight_child(json.dumps({"config": raw, "secretKeys": sorted(secret), "stack": "t"}))
    assert status == 0
    assert [(p["path"], p["value"]) for p in json.loads(answer)] == [
        ("seoul-k8s/phasescale/Deployment/api", "seoul-pg-connection")
    ]


def _completed(code: int, out: str = "", err: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess([], code, out, err)


def test_preflight_sends_the_config_on_stdin_and_reads_problems(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.update(cmd=cmd[1:], request=json.loads(kw["input"]), pulumi_env=[k for k in kw["env"] if k.startswith("PULUMI_")])
        return _completed(0, json.dumps([{"path": "c: A", "value": "m", "expected": "e"}]))

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("PULUMI_MONITOR", "127.0.0.1:1")  # the engine's: never handed to the child
    assert deployability.preflight({"phasescale:phase": "1"}, frozenset({"x"}), "s") == [Problem("c: A", "m", "e")]
    assert seen == {"cmd": ["-m", "infra", "preflight"],
                    "request": {"config": {"phasescale:phase": "1"}, "secretKeys": ["x"], "stack": "s"}, "pulumi_env": []}
    # A crash of the child is a failed check, never a pass.
    monkeypatch.setattr(subprocess, "run", lambda cmd, **kw: _completed(1, "", "Traceback ...\nKeyError: 'x'"))
    [problem] = deployability.preflight({}, frozenset(), "s")
    assert (problem.path, problem.value) == ("phasescale (preflight)", 1)
    assert problem.expected.endswith("KeyError: 'x'")


def test_pulumi_up_stops_on_a_preflight_problem_before_registering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, secret = planner.read_stack_config(planner.stack_file("t", _dev(tmp_path)))
    monkeypatch.setattr(deployability, "preflight", lambda raw, keys, stack: [Problem("c: A", "m", "e")])
    monkeypatch.setattr(composition, "build", lambda settings: pytest.fail("registered before the preflight"))
    with pytest.raises(pulumi.RunError) as err:
        planner.record(planner.pulumi_program, "t", raw, secret)
    assert str(err.value).splitlines() == ["1 config problem(s):", "  - c: A: got 'm'; e"]


def test_a_stack_without_postgres_or_redis_plans_without_their_rules(tmp_path: Path) -> None:
    # Their alerts and phase conditions would read series no exporter produces: the plan check
    # above refuses that, so the rules leave with the part (components/monitoring/plan.py).
    svc = {"image": "ghcr.io/x/api:1.0.0", "callers": ["ingress"]}
    root = write_stack(tmp_path, "existing", 2, "development", services={"api": svc},
                       parts={"cdn": False, "postgres": False, "redis": False})  # fmt: skip
    plan = planner.run("t", None, root=root)
    [rule] = [o for _, o in plan.manifests() if o["kind"] == "PrometheusRule"]
    groups = {g["name"]: g["rules"] for g in rule["spec"]["groups"]}
    assert sorted(groups) == ["phasescale.api", "phasescale.autoscaling", "phasescale.phase2-triggers"]
    exprs = " ".join(r["expr"] for r in groups["phasescale.phase2-triggers"])
    assert "redis" not in exprs and "pg_" not in exprs
