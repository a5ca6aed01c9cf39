"""The offline plan as a tool: byte-identical output from run to run, only the SDKs a target needs,
and a recording run that leaves the process as it found it (so the next plan costs the same)."""

from __future__ import annotations

import ast
import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import settings as sdk_settings

from infra import plan as planner
from tests.planning import ROOT, plan_of

# In a new process (its own hash seed, so set and protobuf-map orders differ from this one): plan
# dev, then prod at phase 4 into argv[1]; print which cloud SDKs were imported after each.
CHILD = """
import json, sys
from pathlib import Path
from infra import plan as planner
seen = {}
planner.run("dev", 4)
seen["dev"] = sorted(m for m in ("pulumi_aws", "pulumi_gcp") if m in sys.modules)
planner.write(planner.run("prod", 4), Path(sys.argv[1]))
seen["prod"] = sorted(m for m in ("pulumi_aws", "pulumi_gcp") if m in sys.modules)
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def child(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[str]]]:
    out = tmp_path_factory.mktemp("child-plan")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(out)], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out, json.loads(done.stdout.splitlines()[-1])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_two_plans_of_prod_are_byte_identical(child: tuple[Path, dict[str, list[str]]], tmp_path: Path) -> None:
    planner.write(plan_of("prod", 4), tmp_path)
    here, there = _files(tmp_path), _files(child[0])
    assert sorted(here) == sorted(there)
    assert "resources.json" in here and any(k.startswith("manifests/") for k in here)
    assert [name for name in here if here[name] != there[name]] == []


def test_an_existing_stack_imports_neither_cloud_sdk(child: tuple[Path, dict[str, list[str]]]) -> None:
    assert child[1]["dev"] == []


def test_a_gke_stack_does_not_import_the_aws_sdk(child: tuple[Path, dict[str, list[str]]]) -> None:
    assert child[1]["prod"] == ["pulumi_gcp"]


def test_records_are_in_key_order() -> None:
    keys = [r.key for r in plan_of("prod", 4).records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


SOURCES = sorted(p for d in ("components", "infra") for p in (ROOT / d).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_cloud_sdks_are_named_through_components_sdk(path: Path) -> None:
    """``import pulumi_aws`` at the top of any module would load the SDK for every stack."""
    if path == ROOT / "components" / "sdk.py":
        return
    direct = [
        a.name
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import)
        for a in node.names
        if a.name.split(".")[0] in ("pulumi_aws", "pulumi_gcp")
    ] + [
        node.module
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("pulumi_aws", "pulumi_gcp")
    ]
    assert direct == [], "use `from components.sdk import aws, gcp`"


def test_a_recording_run_leaves_the_process_as_it_found_it() -> None:
    trace = sdk_resource._get_stack_trace
    records = planner.record(lambda: k8s.core.v1.ConfigMap("cm", data={"a": "b"}))
    assert [(r.type, r.name, r.inputs["data"]) for r in records] == [("kubernetes:core/v1:ConfigMap", "cm", {"a": "b"})]
    assert gc.isenabled()
    assert sdk_resource._get_stack_trace is trace
    assert sdk_settings.SETTINGS.outputs == set()
    assert sdk_settings._get_rpc_manager().rpcs == []


def test_an_error_in_an_output_still_fails_the_plan() -> None:
    def program() -> None:
        pulumi.Output.from_input(1).apply(lambda _: 1 // 0)

    with pytest.raises(ZeroDivisionError):
        planner.record(program)
    assert gc.isenabled()
