"""Check every plan against the operators' CRDs and the charts' default values kept in shared/.

Used by CI (`make validate-shared`), where the steering repo's shared/validation folder sits beside
the project. Not part of `make test`: users do not have that folder.

    python scripts/validate_shared.py ../shared/validation
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra import plan as planner  # noqa: E402

STACKS = ("dev", "prod", "prod-aws")
EXTRA_CRDS = ROOT / "validation" / "crds"
TEST_STACKS = ROOT / "tests" / "queue" / "stacks"
"""Stack files of parts no product stack in the root runs (the queue engines), planned at their phase."""
EXAMPLES = ROOT / "examples"
"""The five products' stacks (README "Example stacks"), planned at every phase."""
CHART_NAMES = {  # our chart name -> check_values.py chart name
    "keda": "keda",
    "kube-prometheus-stack": "kube-prometheus-stack",
    "cloudnative-pg": "cloudnative-pg",
    "milvus-operator": "milvus-operator",
    "redis-operator": "ot-redis-operator",
    "dcgm-exporter": "dcgm-exporter",
}


def main(shared: Path) -> int:
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        for stack in STACKS:
            for phase in (1, 2, 3, 4):
                planner.write(planner.run(stack, phase), out / f"{stack}-{phase}")
        for path in sorted(EXAMPLES.glob("Pulumi.*.yaml")):
            stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
            for phase in (1, 2, 3, 4):
                planner.write(planner.run(stack, phase, root=EXAMPLES), out / f"example-{stack}-{phase}")
        for path in sorted(TEST_STACKS.glob("Pulumi.*.yaml")):
            stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
            planner.write(planner.run(stack, None, root=TEST_STACKS), out / f"test-{stack}")
        manifests = [str(p) for p in sorted(out.glob("*/manifests"))]
        # Our own CRD copies (validation/crds, with sources) for operators shared/ does not carry.
        extra = ["--extra-crds", str(EXTRA_CRDS)] if any(EXTRA_CRDS.glob("*.yaml")) else []
        proc = subprocess.run([sys.executable, str(shared / "validate_manifests.py"), *extra, *manifests])
        failures += proc.returncode != 0
        checked = set()
        for release in sorted(out.glob("*/helm/*/*.yaml")):
            doc = yaml.safe_load(release.read_text())
            chart = CHART_NAMES.get(doc["chart"])
            key = (chart, yaml.safe_dump(doc["values"]))
            if chart is None or key in checked:
                continue
            checked.add(key)
            values = out / "values.yaml"
            values.write_text(yaml.safe_dump(doc["values"]))
            proc = subprocess.run(
                [sys.executable, str(shared / "check_values.py"), chart, str(values)], capture_output=True, text=True
            )
            if proc.returncode != 0:
                failures += 1
                print(f"{release.relative_to(out)}: {proc.stdout}{proc.stderr}")
        print(f"checked {len(manifests)} plans' manifests and {len(checked)} distinct Helm value sets")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/validation")))
