"""A fresh GCP project: every API the stack uses is enabled, and each GCP resource waits for its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest
from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.sync_await import _sync_await

from infra import apis
from infra import plan as planner
from tests.planning import PHASES, plan_of, write_stack

BASE = {"compute", "container", "iam", "cloudresourcemanager", "storage", "logging", "monitoring"}


def _enabled(plan: planner.Plan) -> set[str]:
    found = {r.inputs["service"] for r in plan.of_type(apis.SERVICE_TYPE)}
    for r in plan.of_type(apis.SERVICE_TYPE):
        assert r.inputs["disableOnDestroy"] is False and r.inputs["project"] == plan.settings.stack.cluster.gcp_project
    return {s.removesuffix(".googleapis.com") for s in found}


@pytest.mark.parametrize("phase", PHASES)
def test_prod_enables_exactly_the_apis_of_its_resources(phase: int) -> None:
    plan = plan_of("prod", phase)
    used = {api.removesuffix(".googleapis.com") for r in plan.records if r.type.startswith("gcp:")
            and r.type != apis.SERVICE_TYPE for api in apis.apis_of(r.type)}
    assert _enabled(plan) == used
    # prod: Memorystore (redis) at every phase; Memorystore Cluster (PSC) from phase 3; the CDN's copy to
    # the second region's bucket at phase 4
    extra = {"redis"} | ({"networkconnectivity"} if phase >= 3 else set()) | ({"storagetransfer"} if phase == 4 else set())
    assert used == BASE | extra


@pytest.mark.parametrize("stack", ["dev", "prod-aws"])
def test_other_targets_enable_no_gcp_api(stack: str) -> None:
    assert not plan_of(stack, 1).of_type(apis.SERVICE_TYPE)


def test_cloud_sql_and_cloud_run_bring_their_apis(tmp_path: Path) -> None:
    write_stack(tmp_path, "gke", 1, "development", postgres={"engine": "cloudsql"},
                services={"api": {"image": "r/api:1", "runtime": "cloudrun"}})
    plan = planner.run("t", root=tmp_path)
    assert {"sqladmin", "servicenetworking", "run"} <= _enabled(plan)


def test_an_unknown_gcp_module_stops_the_program() -> None:
    with pytest.raises(ValueError, match=r"add it to infra/apis\.API_OF"):
        apis.apis_of("gcp:bigquery/dataset:Dataset")


class _DepsMonitor(mocks.MockMonitor):
    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.deps: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:
        self.deps[request.name] = [urn.rpartition("::")[2] for urn in request.dependencies]
        return super().RegisterResource(request)


class _Mocks(mocks.Mocks):
    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return {}, []


def test_each_resource_depends_on_the_apis_of_its_module() -> None:
    mock = _Mocks()
    monitor = _DepsMonitor(mock)
    runtime_settings.ROOT.set(None)  # a fresh root stack: no transformation of an earlier run
    mocks.set_mocks(mock, project="p", stack="s", preview=False, monitor=monitor)

    def program() -> None:
        apis.enable_apis("proj")
        gcp.compute.Network("net", project="proj")
        gcp.container.Cluster("gke", project="proj", location="asia-northeast3")

    _sync_await(pulumi.runtime.stack.run_pulumi_func(program))
    assert sorted(monitor.deps["net"]) == ["api-compute"]
    assert sorted(monitor.deps["gke"]) == ["api-compute", "api-container", "api-logging", "api-monitoring"]
    assert monitor.deps["api-container"] == []
