import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, settings

# Fast, deterministic property tests: the whole suite must stay under a minute on 2 cores.
settings.register_profile(
    "phasescale", max_examples=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("phasescale")
