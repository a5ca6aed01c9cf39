"""Benchmark of the offline plan, in one run (``make bench``):

1. every example stack at every phase, each in a new process (``python -m infra plan --out``), beside
   the stack's SDK-import baseline: a new process that imports exactly the SDK modules that plan
   loaded and registers nothing; the ratio of the two is what the program itself costs;
2. synthetic copies of ``prod`` at phase 4 (every region active) with 10 to 200 services over 2 to 4
   regions, generated into a temporary folder: time and CPU per resource above the baseline, which
   must stay flat from ~300 to ~7,500 resources;
3. repeated plans in one process (as the tests and ``diff`` do): each must cost what the first did;
4. the test suite, ``pytest -n 2`` with an empty plan cache.

Each figure is the minimum over ``--repeat`` runs (the machine is shared: the minimum is the run
least disturbed by others).

    python scripts/bench.py [--repeat 3] [--skip-suite] [--sizes 10x2,50x2,100x4,200x4]
"""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STACKS = ("dev", "prod", "prod-aws")
PHASES = (1, 2, 3, 4)
SDK_PACKAGES = ("pulumi", "pulumi_kubernetes", "pulumi_gcp", "pulumi_aws")
LOCATIONS = ("asia-northeast3", "asia-northeast1", "asia-southeast1", "australia-southeast1")
GPU_ZONE_TABLES = ("asia-northeast3", "asia-northeast1")


def timed(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(repeat: int, args: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    runs = [timed(args, env) for _ in range(repeat)]
    return min(w for w, _ in runs), min(c for _, c in runs)


def loaded_sdk_modules() -> list[str]:
    """SDK modules this process has executed (the SDKs register submodules lazily: a placeholder
    in ``sys.modules`` that was never touched does not count)."""
    names = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in SDK_PACKAGES:
            continue
        if type(module).__name__ != "_LazyModule":
            names.append(name)
    return names


def child_modules(stack: str, phase: int, root: Path) -> None:
    """(In a child process) plan the stack and print the SDK modules it loaded, as JSON."""
    sys.path.insert(0, str(ROOT))
    plan = importlib.import_module("infra.plan")
    plan.run(stack, phase, root)
    print(json.dumps(loaded_sdk_modules()))


def child_baseline(modules_file: Path) -> None:
    """(In a child process) import the given SDK modules and nothing else."""
    for name in json.loads(modules_file.read_text()):
        module = importlib.import_module(name)
        getattr(module, "_phasescale_bench", None)  # a lazily registered module executes on first access


def plan_and_baseline(stack: str, phase: int, root: Path, out: Path, repeat: int) -> dict[str, float]:
    listed = subprocess.run(
        [PY, __file__, "_modules", stack, str(phase), str(root)], check=True, capture_output=True, text=True
    ).stdout
    modules = out / f"modules-{stack}-{phase}.json"
    modules.write_text(listed)
    plan_wall, plan_cpu = best(
        repeat, [PY, "-m", "infra", "plan", "--stack", stack, "--phase", str(phase), "--dir", str(root),
                 "--out", str(out / f"{stack}-{phase}")]
    )
    base_wall, base_cpu = best(repeat, [PY, __file__, "_baseline", str(modules)])
    records = json.loads((out / f"{stack}-{phase}" / "resources.json").read_text())
    return {"plan": plan_wall, "plan_cpu": plan_cpu, "base": base_wall, "base_cpu": base_cpu,
            "resources": len(records), "modules": len(json.loads(listed))}


def synthetic_stack(folder: Path, services: int, regions: int) -> str:
    """``Pulumi.synth.yaml``: prod at phase 4 with ``services`` copies of its services (round robin,
    each with its own path on the shared hosts) over ``regions`` regions. Returns the stack name."""
    doc = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    config = doc["config"]
    seeds = config["phasescale:services"]
    names = list(seeds)
    generated = {}
    for i in range(services):
        seed = names[i % len(names)]
        svc = copy.deepcopy(seeds[seed])
        svc["callers"] = ["ingress"]
        if "ingress" in svc:
            svc["ingress"] = {"host": svc["ingress"]["host"], "pathPrefix": f"/s{i:03d}"}
        generated[f"s{i:03d}-{seed}"] = svc
    config["phasescale:services"] = generated
    config["phasescale:regions"] = {
        f"r{i}": {"location": LOCATIONS[i], "vpcCidr": f"10.{10 + 10 * i}.0.0/16"} for i in range(regions)
    }
    config["phasescale:phase"] = 4
    # Room for every copy at its max replicas, or the scheduling check refuses the stack.
    config.setdefault("phasescale:overrides", {}).setdefault("nodes", {})["maxNodes"] = 1000
    if any(loc not in GPU_ZONE_TABLES for loc in LOCATIONS[:regions]):
        # GPU pools go only to zones that sell the GPU, and components/gpu/zones.py has tables for the
        # stacks' regions only: copies over more regions run without the GPU part (a few resources).
        config["phasescale:parts"]["gpu"] = False
    (folder / "Pulumi.synth.yaml").write_text(yaml.safe_dump(doc))
    return "synth"


def child_floor(stack: str, root: Path) -> None:
    """(In a child process) CPU per resource of the plan of ``stack`` (second run, SDK loaded), and
    of replaying its records as bare resources (the same types, names and inputs, no parents, no
    program logic): the SDK's registration plus the recording, the floor under the plan."""
    sys.path.insert(0, str(ROOT))
    pulumi = importlib.import_module("pulumi")
    plan = importlib.import_module("infra.plan")
    plan.run(stack, 4, root)
    start = time.process_time()
    records = plan.run(stack, 4, root).records
    planned = time.process_time() - start

    def replay() -> None:
        for r in records:
            if r.custom:
                pulumi.CustomResource(r.type, r.name, dict(r.inputs))
            else:
                pulumi.ComponentResource(r.type, r.name)

    start = time.process_time()
    plan.record(replay)
    replayed = time.process_time() - start
    print(json.dumps({"resources": len(records), "plan": planned, "replay": replayed}))


def repeated_in_one_process(times: int) -> list[float]:
    code = (
        "import json, time; from infra import plan as p\n"
        "out = []\n"
        f"for _ in range({times}):\n"
        "    t = time.process_time(); p.run('prod', 4); out.append(time.process_time() - t)\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([PY, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    runs: list[float] = json.loads(done.stdout)
    return runs


def cost_of_plans() -> dict[str, float]:
    """CPU seconds of ``infra.cost.estimate`` on prod phase 4's plan (price table loaded once
    first, as ``plan`` does), and of loading the table."""
    code = (
        "import json, time; from infra import plan as p, cost\n"
        "plan = p.run('prod', 4)\n"
        "t = time.process_time(); cost.prices(); load = time.process_time() - t\n"
        "t = time.process_time(); cost.estimate(plan.records); once = time.process_time() - t\n"
        "print(json.dumps({'load': load, 'estimate': once, 'resources': len(plan.records)}))"
    )
    done = subprocess.run([PY, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    out: dict[str, float] = json.loads(done.stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the minimum is reported")
    parser.add_argument("--sizes", default="10x2,50x2,100x4,200x4", help="synthetic SERVICESxREGIONS")
    parser.add_argument("--skip-suite", action="store_true", help="do not time the test suite")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; minimum of {args.repeat} runs each")
    with tempfile.TemporaryDirectory(prefix="phasescale-bench-") as tmp:
        out = Path(tmp)
        print("\nexample stacks, new process each (plan = python -m infra plan --out; baseline = the same "
              "SDK modules imported, nothing registered)")
        print(f"{'stack':9s} phase resources   plan s (cpu)  baseline s (cpu)  ratio (cpu)")
        for stack in STACKS:
            for phase in PHASES:
                m = plan_and_baseline(stack, phase, ROOT, out, args.repeat)
                print(f"{stack:9s} {phase:5d} {m['resources']:9.0f} {m['plan']:8.2f} ({m['plan_cpu']:5.2f}) "
                      f"{m['base']:9.2f} ({m['base_cpu']:5.2f})  {m['plan'] / m['base']:5.2f}x "
                      f"({m['plan_cpu'] / m['base_cpu']:4.2f}x)")
        print("\nsynthetic prod copies at phase 4, new process each (per resource: above the baseline)")
        print(f"{'size':7s} resources   plan s (cpu)  baseline s   ms/resource wall (cpu)")
        for size in args.sizes.split(","):
            services, regions = (int(n) for n in size.split("x"))
            folder = out / f"synth-{size}"
            folder.mkdir()
            stack = synthetic_stack(folder, services, regions)
            m = plan_and_baseline(stack, 4, folder, out, args.repeat)
            per = 1000 * (m["plan"] - m["base"]) / m["resources"]
            per_cpu = 1000 * (m["plan_cpu"] - m["base_cpu"]) / m["resources"]
            print(f"{size:7s} {m['resources']:9.0f} {m['plan']:8.2f} ({m['plan_cpu']:5.2f}) {m['base']:9.2f}   "
                  f"{per:6.2f} ({per_cpu:5.2f})")
        floor = json.loads(subprocess.run(
            [PY, __file__, "_floor", stack, str(folder)], check=True, capture_output=True, text=True
        ).stdout)
        n = floor["resources"]
        print(f"\nfloor, {size} in one process with the SDK loaded: the plan {1000 * floor['plan'] / n:.2f} ms CPU "
              f"per resource; replaying its {n} records as bare resources (SDK registration and recording "
              f"only) {1000 * floor['replay'] / n:.2f} ms")
    c = cost_of_plans()
    print(f"\ncost of prod phase 4's plan ({c['resources']:.0f} records): price table load {1000 * c['load']:.1f} ms CPU, "
          f"estimate {1000 * c['estimate']:.1f} ms CPU")
    runs = repeated_in_one_process(5)
    print("\nprod phase 4 planned 5 times in one process, CPU s each: " + ", ".join(f"{r:.2f}" for r in runs))
    if not args.skip_suite:
        with tempfile.TemporaryDirectory() as cold:  # an empty plan cache: the suite plans every stack
            os.chmod(cold, 0o755)  # the loopback PostgreSQL runs as the postgres user and must reach it
            wall, cpu = timed([PY, "-m", "pytest", "-n", "2", "-q", "tests"], env={**os.environ, "TMPDIR": cold})
        print(f"\ntest suite (pytest -n 2, no cached plans): {wall:5.1f} s ({cpu:5.1f} s CPU)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_modules":
        child_modules(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_floor":
        child_floor(sys.argv[2], Path(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "_baseline":
        child_baseline(Path(sys.argv[2]))
    else:
        main()
