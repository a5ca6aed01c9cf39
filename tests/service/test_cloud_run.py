"""runtime: cloudrun on GKE stacks: a phase-1 team can start serverless, sized by the phase."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.problems import ConfigError
from infra import plan as planner

STACK = """config:
  phasescale:phase: 1
  phasescale:environment: staging
  phasescale:cluster: {target: gke, gcpProject: acme-stage}
  phasescale:regions: {seoul: {location: asia-northeast3}}
  phasescale:parts: {postgres: false, redis: false, monitoring: false, cdn: false}
  phasescale:services:
    api:
      image: asia-northeast3-docker.pkg.dev/acme-stage/app/api:1.0.0
      runtime: cloudrun
      resources: {cpuMillicores: 2000, memoryMib: 4096}
"""


@pytest.mark.parametrize(("phase", "bounds"), [(1, (0, 3)), (2, (1, 8)), (3, (2, 15))])
def test_cloud_run_instances_follow_the_seed_figures(tmp_path: Path, phase: int, bounds: tuple[int, int]) -> None:
    (tmp_path / "Pulumi.stage.yaml").write_text(STACK)
    plan = planner.run("stage", phase, tmp_path)
    svc = plan.named("gcp:cloudrunv2/service:Service", "seoul-api").inputs
    tmpl = svc["template"]
    assert (tmpl["scaling"]["minInstanceCount"], tmpl["scaling"]["maxInstanceCount"]) == bounds
    assert tmpl["maxInstanceRequestConcurrency"] == 100
    assert tmpl["timeout"] == "300s"
    assert tmpl["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4096Mi"}
    assert svc["location"] == "asia-northeast3"
    assert not plan.of_type("kubernetes:apps/v1:Deployment")


def test_cloud_run_needs_gke(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.stage.yaml").write_text(
        STACK.replace("{target: gke, gcpProject: acme-stage}", "{target: existing}").replace(
            "{seoul: {location: asia-northeast3}}", "{seoul: {location: local, kubeContext: kind}}"
        )
    )
    with pytest.raises(ConfigError) as err:
        planner.run("stage", 1, tmp_path)
    assert [p.render() for p in err.value.problems] == [
        "phasescale:services.api.runtime: got 'cloudrun'; cloudrun needs cluster.target gke"
    ]
