import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functools

import kubernetes_validate.utils as kubernetes_validate_utils
import pytest
from hypothesis import HealthCheck, settings

from tests import planning

# kubernetes_validate reads and parses its schema files (the definitions file is megabytes) again on
# every validate() call; they never change within a run, so each is read once. validate() looks
# both helpers up as module globals, so the cached versions serve every caller.
kubernetes_validate_utils.schema_contents = functools.cache(kubernetes_validate_utils.schema_contents)
kubernetes_validate_utils.all_versions = functools.cache(kubernetes_validate_utils.all_versions)

# Fast, deterministic property tests: the whole suite must stay under a minute on 2 cores.
settings.register_profile(
    "phasescale", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("phasescale")


@pytest.fixture(scope="session", autouse=True)
def _warm_shared_plans(request: pytest.FixtureRequest, worker_id: str) -> None:
    """On a whole-suite run, each xdist worker first computes its half of the shared plans
    (``tests.planning.warm``); a run of a few test files plans only what it reads."""
    if len(request.session.items) >= 1000:
        planning.warm(reverse=worker_id == "gw1")
