"""Children wait for their component's dependencies (infra/ordering.py): on a first `pulumi up` a
service's Deployment must not race the namespace it lives in."""

from __future__ import annotations

from typing import Any

import pytest

from infra import plan as planner
from infra import recording


def test_a_component_s_children_inherit_its_depends_on(monkeypatch: pytest.MonkeyPatch) -> None:
    deps: dict[tuple[str, str], set[str]] = {}
    register = recording._RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        deps[(request.type, request.name)] = {u.rpartition("::")[2] for u in request.dependencies}
        return register(self, request)

    monkeypatch.setattr(recording._RecordingMonitor, "RegisterResource", spy)
    planner.run("dev", 1)
    component = deps[("phasescale:components:StatelessService", "local-api")]
    assert {"local-ns", "local-addons-ingress"} <= component
    # Its children (the Deployment, the Service) wait for the same.
    assert component <= deps[("kubernetes:apps/v1:Deployment", "local-api")]
    assert component <= deps[("kubernetes:core/v1:Service", "local-api-svc")]
