"""Helpers for testing generated rules with promtool/amtool: tool lookup, series, and a small
re-implementation of the Prometheus template functions the annotations use (to state the exact
annotations promtool must produce)."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

SETUP_HINT = (
    "run the project's setup (Debian: `apt-get install -y prometheus prometheus-alertmanager`, "
    "which installs /usr/bin/promtool and /usr/bin/amtool)"
)


def tool(name: str) -> str:
    """The path of ``name``; fails (never skips) when it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found on PATH: {SETUP_HINT}", pytrace=False)
    return path


def _env() -> dict[str, str]:
    """promtool's test TSDB goes to tmpfs when there is one (its fsyncs dominate a run)."""
    env = dict(os.environ)
    if os.access("/dev/shm", os.W_OK):
        env["TMPDIR"] = "/dev/shm"
    return env


def run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, check=False, env=_env())


def run_all(commands: Mapping[str, Sequence[str]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the commands side by side; their results by key."""
    procs = {
        key: subprocess.Popen(
            list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env()
        )
        for key, args in commands.items()
    }
    out = {}
    for key, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=60)
        out[key] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


def write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=10_000))
    return path


def series(name: str, labels: Mapping[str, str], values: str | Sequence[float]) -> dict[str, str]:
    """One promtool input series; ``values`` in promtool notation or as a list of floats."""
    sel = ",".join(f'{k}="{v}"' for k, v in labels.items())
    text = values if isinstance(values, str) else " ".join(f"{v:g}" for v in values)
    return {"series": f"{name}{{{sel}}}", "values": text}


def _g4(v: float) -> str:
    return f"{v:.4g}"


def humanize(v: float) -> str:
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    prefix = ""
    if abs(v) >= 1:
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix, v = p, v / 1000
    else:
        for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
            if abs(v) >= 1:
                break
            prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}"


def humanize_duration(v: float) -> str:
    if v == 0:
        return "0s"
    if abs(v) >= 1:
        s = int(v)
        days, hours, minutes, seconds = s // 86400, s // 3600 % 24, s // 60 % 60, s % 60
        if days:
            return f"{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{minutes}m {seconds}s"
        return f"{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{_g4(v)}{prefix}s"


def _plain(v: float) -> str:
    return f"{v:g}" if v != int(v) or abs(v) >= 1e21 else str(int(v))


_PIPES = {"": _plain, "humanize": humanize, "humanizePercentage": lambda v: f"{_g4(v * 100)}%",
          "humanizeDuration": humanize_duration}  # fmt: skip
_VALUE = re.compile(r"\{\{ \$value(?: \| (\w+))? \}\}")
_LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")
_RANGE = re.compile(r"\{\{ range query .*? \}\}\{\{ \.Labels\.(\w+) \}\} \{\{ end \}\}")


def render(template: str, labels: Mapping[str, str], value: float, query_labels: Sequence[str] = ()) -> str:
    """Expand the template subset the rules use; ``range query`` yields ``query_labels`` (sorted)."""
    out = _RANGE.sub(lambda _: "".join(f"{x} " for x in sorted(query_labels)), template)
    out = _VALUE.sub(lambda m: _PIPES[m.group(1) or ""](value), out)
    out = _LABEL.sub(lambda m: labels.get(m.group(1), ""), out)
    if "{{" in out:
        raise ValueError(f"template part not supported by the test renderer: {out}")
    return out
