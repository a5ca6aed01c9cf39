"""The offline plan: run the real program under Pulumi's mocks and record what the engine would get.

No Pulumi CLI, no credentials, no network. Every resource registration is recorded with its type,
name, parent, provider, protect flag and inputs (``infra/recording.py``); the writers turn the
records into Kubernetes manifests, Helm release files and ``resources.json``, byte-identical from
run to run. Secrets never reach the output: any value that was marked secret is written as
``[secret]``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml

from components.problems import Problem, raise_if_any
from infra import cost, deployability, stackfile
from infra.advise_report import CostDelta
from infra.config import SECRET_KEYS
from infra.recording import PROJECT, REDACTED, Record, _RecordingMonitor, record
from infra.settings import NAMESPACE, Settings

# Re-exported: callers (and tests spying on _RecordingMonitor) use them as ``infra.plan.<name>``.
__all__ = ["PROJECT", "REDACTED", "Plan", "Record", "_RecordingMonitor", "record", "run", "summary", "write"]

OFFLINE_SECRETS = {"slackWebhookUrl": "https://hooks.slack.com/services/OFFLINE/PLACEHOLDER/0000"}
"""Offline stand-ins for secret config (the real values are encrypted); well-formed so validation
of their shape still runs. They never reach the output: secret values are written as REDACTED."""
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Plan:
    stack: str
    settings: Settings
    records: list[Record] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Record]:
        return [r for r in self.records if r.type == type_]

    def named(self, type_: str, name: str) -> Record:
        found = [r for r in self.records if r.type == type_ and r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources of type {type_} named {name}")
        return found[0]

    def manifests(self) -> list[tuple[str, dict[str, Any]]]:
        """``(cluster, object)`` for every Kubernetes object, as the provider would send it."""
        return [(r.provider, r.inputs) for r in self.records if r.is_kubernetes_object]

    def helm_releases(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (r.provider, r.inputs) for r in self.records if r.type == "kubernetes:helm.sh/v3:Release"
        ]


def stack_file(stack: str, root: Path = ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def read_stack_config(path: Path) -> tuple[dict[str, Any], frozenset[str]]:
    """The stack file's config as Pulumi hands it to the program: strings (objects as JSON), plus
    the set of secret keys. Secret values cannot be decrypted offline: every secret key (set in the
    file or, as usual, only in the encrypted config) becomes a placeholder marked secret. A YAML null
    stays None (reported as ``null`` by the checks). Raises ConfigError for a file that is not a
    readable, single-document YAML mapping (see infra/stackfile.py)."""
    config = stackfile.load(path)
    raw: dict[str, Any] = {}
    secret: set[str] = set()
    for key in SECRET_KEYS:  # not set in the file: `pulumi config set --secret` keeps them elsewhere
        raw[f"{NAMESPACE}:{key}"] = OFFLINE_SECRETS.get(key, "offlinePlaceholder0000000000000000")
        secret.add(f"{NAMESPACE}:{key}")
    for key, value in config.items():
        secret.discard(key)
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            raw[key] = OFFLINE_SECRETS.get(key.partition(":")[2], "offlinePlaceholder0000000000000000")
            secret.add(key)
        elif isinstance(value, (dict, list)):
            raw[key] = json.dumps(value, default=str)
        elif isinstance(value, bool):
            raw[key] = "true" if value else "false"
        elif value is None:
            raw[key] = None
        else:
            raw[key] = str(value)
    return raw, frozenset(secret)


def run(
    stack: str,
    phase: int | None = None,
    root: Path = ROOT,
    program: Callable[[Settings], None] | None = None,
    check: bool = True,
    check_budget: bool = True,
) -> Plan:
    """Resolve ``Pulumi.<stack>.yaml`` (with an optional phase override) and run the program under
    mocks. Raises ``ConfigError`` before any registration when the config is invalid, and after
    recording when the plan is not deployable (``check``: ``infra.deployability``) or its estimate's
    minimum exceeds ``phasescale:budgetUsdPerMonth`` (``check_budget``: ``infra.cost``)."""
    from infra.load import load  # late import: the composition imports every component
    from infra.stack import build

    raw, secret_keys = read_stack_config(stack_file(stack, root))
    settings = load(raw, secret_keys, stack, phase)
    if phase is not None:
        raw[f"{NAMESPACE}:phase"] = str(phase)
    body = program or build
    records = record(lambda: body(settings), stack, raw, secret_keys)
    plan = Plan(stack=stack, settings=settings, records=records)
    raise_if_any(plan_problems(plan, deployable=check, budget=check_budget))
    return plan


def plan_problems(plan: Plan, deployable: bool = True, budget: bool = True) -> list[Problem]:
    """The checks that need the plan's own objects: deployability (``infra.deployability``) and the
    budget against the estimate's minimum (``infra.cost``)."""
    settings, found = plan.settings, []
    if deployable:
        found += deployability.plan_problems(settings, plan.manifests(), plan.helm_releases())
    if budget and settings.stack.budget_usd_per_month is not None:
        found += cost.budget_problems(cost.estimate(plan.records, settings.stack.usage), settings.stack.budget_usd_per_month)
    return found


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
"""libyaml's emitter when PyYAML was built with it (the pinned wheels are): same YAML, ten times faster."""


def _dump(value: Any, width: int = 80) -> str:
    """YAML with every mapping's keys sorted. The inputs come back from the wire as protobuf maps,
    whose order is not the program's and changes between processes; sorted keys make two plans of
    the same stack byte-identical (and a Kubernetes object reads apiVersion, kind, metadata, spec)."""
    return yaml.dump(value, Dumper=_DUMPER, sort_keys=True, width=width, allow_unicode=False)


def _redact_urls(value: Any) -> Any:
    """Alertmanager config with every inline webhook/API URL replaced (``*_file`` keys are paths)."""
    if isinstance(value, dict):
        return {k: REDACTED if k in ("api_url", "url") and isinstance(v, str) else _redact_urls(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_urls(v) for v in value]
    return value


def write_monitoring(plan: Plan, out: Path) -> None:
    """``rules/<region>-<name>.yaml``: the ``groups:`` of each PrometheusRule as a plain rule file
    (``promtool check rules``); ``alertmanager.yaml``: the primary region's Alertmanager config
    (``amtool check-config``)."""
    for cluster, obj in plan.manifests():
        if obj["kind"] == "PrometheusRule":
            region = cluster.removesuffix("-k8s")
            path = out / "rules" / f"{region}-{_slug(obj['metadata']['name'])}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_dump({"groups": obj["spec"]["groups"]}, width=10_000))
    primary = f"{plan.settings.active_regions[0]}-k8s"
    configs = [
        rel["values"]["alertmanager"]["config"]
        for cluster, rel in plan.helm_releases()
        if rel.get("chart") == "kube-prometheus-stack" and "config" in rel.get("values", {}).get("alertmanager", {})
        and cluster == primary
    ]
    target = out / "alertmanager.yaml"
    if configs:
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(_dump(_redact_urls(configs[0]), width=10_000))
    elif target.exists():
        target.unlink()


def write(plan: Plan, out: Path) -> None:
    """Write manifests/, helm/, rules/, alertmanager.yaml and resources.json under ``out`` (replacing
    what a previous plan wrote)."""
    for sub in ("manifests", "helm", "rules"):
        target = out / sub
        if target.exists():
            for old in sorted(target.rglob("*"), reverse=True):
                old.unlink() if old.is_file() else old.rmdir()
    for cluster, obj in plan.manifests():
        meta = obj.get("metadata", {})
        path = out / "manifests" / cluster / meta.get("namespace", "_cluster") / (
            f"{obj['kind']}-{_slug(meta.get('name', 'unnamed'))}.yaml"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_dump(obj))
    for cluster, rel in plan.helm_releases():
        head = {
            "release": rel.get("name"),
            "chart": rel.get("chart"),
            "repository": (rel.get("repositoryOpts") or {}).get("repo"),
            "version": rel.get("version"),
            "namespace": rel.get("namespace"),
        }
        path = out / "helm" / cluster / f"{_slug(str(head['release']))}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        # The release's own fields in this fixed order, then its values with sorted keys.
        path.write_text(yaml.dump(head, Dumper=_DUMPER, sort_keys=False) + _dump({"values": rel.get("values", {})}))
    write_monitoring(plan, out)
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": r.parent,
            "provider": r.provider,
            "protect": r.protect,
            "inputs": r.inputs,
        }
        for r in plan.records
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "resources.json").write_text(json.dumps(resources, indent=1, sort_keys=True))


def summary(plan: Plan) -> str:
    """A readable summary: the phase, each part's size per region, and resource counts."""
    s = plan.settings
    sizes = s.sizes
    lines = [
        f"stack {plan.stack}: phase {s.phase}, target {s.stack.cluster.target.value}, "
        f"regions {', '.join(s.active_regions)}"
        + (f" (of {', '.join(s.stack.regions)})" if len(s.active_regions) < len(s.stack.regions) else ""),
        f"  nodes: {sizes.nodes.min_nodes}-{sizes.nodes.max_nodes} per pool",
    ]
    from infra.services import replica_bounds, service_plan

    for name, svc in s.stack.services.items():
        lo, hi = replica_bounds(s, svc)
        if svc.runtime.value == "cloudrun":
            lines.append(f"  service {name}: cloudrun {lo}-{hi} instances, concurrency {svc.concurrency}")
            continue
        p = service_plan(s, name, svc)
        signals = []
        if p.cpu_percent:
            signals.append(f"cpu {p.cpu_percent}%")
        if p.memory_percent:
            signals.append(f"memory {p.memory_percent}%")
        signals += [f"{m.name} {m.target_per_pod}/pod" for m in p.custom_metrics]
        how = "KEDA" if p.uses_keda else "HPA"
        lines.append(f"  service {name}: {lo}-{hi} replicas on {' or '.join(signals)} ({how})")
    for part in ("postgres", "redis", "milvus", "gpu", "cdn", "monitoring"):
        if getattr(s.stack.parts, part):
            data = getattr(sizes, part).model_dump(by_alias=True)
            lines.append(f"  {part}: " + ", ".join(f"{k}={v}" for k, v in data.items()))
    counts = Counter(r.type for r in plan.records)
    lines.append(f"  {len(plan.records)} resources:")
    lines += [f"    {n:4d} {t}" for t, n in sorted(counts.items())]
    return "\n".join(lines)


def phase_costs(stack: str, from_phase: int, to_phase: int, root: Path = ROOT) -> CostDelta | None:
    """``infra advise``'s cost of a move (``infra.advise.COST_ESTIMATE``): both phases priced from
    their own plans, minimum and maximum; None while either estimate has unpriced resources."""
    plans = [run(stack, p, root, check_budget=False) for p in (from_phase, to_phase)]
    before, after = (cost.estimate(x.records, x.settings.stack.usage) for x in plans)
    if before.unpriced or after.unpriced:
        return None
    return CostDelta((before.low, before.high), (after.low, after.high))


def preflight_child(stdin: str) -> tuple[int, str]:
    """``python -m infra preflight``: the child side of :func:`infra.deployability.preflight`. Reads
    ``{"config", "secretKeys", "stack"}`` as JSON, records the program under mocks and answers the
    plan's problems (deployability and budget: :func:`plan_problems`) as a JSON list (``[]`` when there are none). Exit 0 whenever it answers:
    the parent treats any other exit as a failed check, never as a pass."""
    from infra.load import load  # late import: the composition imports every component
    from infra.stack import build

    request = json.loads(stdin)
    raw, secret_keys, stack = request["config"], frozenset(request["secretKeys"]), request["stack"]
    settings = load(raw, secret_keys, stack)
    plan = Plan(stack=stack, settings=settings, records=record(lambda: build(settings), stack, raw, secret_keys))
    found = plan_problems(plan)
    rendered = [{"path": p.path, "value": p.value, "expected": p.expected} for p in found]
    return 0, json.dumps(rendered, default=str)


def pulumi_program() -> None:
    """Entry point under the real engine (``__main__.py``): config from Pulumi, errors without
    a traceback."""
    from pulumi.runtime.config import _SECRET_KEYS, CONFIG, get_config_env, get_config_secret_keys_env

    from components.problems import ConfigError
    from infra.load import load
    from infra.stack import build

    raw = {**get_config_env(), **CONFIG.get()}
    secret_keys = frozenset(_SECRET_KEYS.get()) | frozenset(get_config_secret_keys_env())
    try:
        settings = load(raw, secret_keys, pulumi.get_stack())
        # The checks that need the plan's own objects (deployability, budget), before the first registration.
        raise_if_any(deployability.preflight(raw, secret_keys, pulumi.get_stack()))
        build(settings)
    except ConfigError as err:
        raise pulumi.RunError(err.render()) from None
