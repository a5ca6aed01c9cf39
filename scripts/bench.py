"""Benchmark: the offline plan time of every stack (cold process, then warm), and the test suite.

    python scripts/bench.py            # or: make bench
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
STACKS = ("dev", "prod", "prod-aws")


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    print(f"machine: {os.cpu_count()} cores")
    for stack in STACKS:
        cold = timed([PY, "-m", "infra", "plan", "--stack", stack, "--phase", "4"])
        code = (
            f"import time; from infra import plan as p; p.run({stack!r}, 4); t=time.perf_counter(); "
            f"p.run({stack!r}, 4); print(time.perf_counter()-t)"
        )
        warm = float(subprocess.run([PY, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
        print(f"plan {stack:9s} phase 4: {cold:5.1f} s in a new process (SDK imports included), {warm:4.2f} s warm")
    with tempfile.TemporaryDirectory() as cold:  # an empty plan cache: the suite plans every stack
        os.chmod(cold, 0o755)  # the loopback PostgreSQL runs as the postgres user and must reach it
        suite = timed([PY, "-m", "pytest", "-n", "2", "tests"], env={**os.environ, "TMPDIR": cold})
    print(f"test suite (pytest -n 2, no cached plans): {suite:5.1f} s")


if __name__ == "__main__":
    main()
