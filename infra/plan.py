"""The offline plan: run the real program under Pulumi's mocks and record what the engine would get.

No Pulumi CLI, no credentials, no network. Every resource registration is recorded with its type,
name, parent, provider, protect flag and inputs; the writers turn the records into Kubernetes
manifests, Helm release files and ``resources.json``. Secrets never reach the output: any value
that was marked secret is written as ``[secret]``.
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
from pulumi.runtime import mocks, rpc
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra import stackfile
from infra.config import SECRET_KEYS
from infra.settings import NAMESPACE, Settings

PROJECT = "phasescale"
REDACTED = "[secret]"
OFFLINE_SECRETS = {"slackWebhookUrl": "https://hooks.slack.com/services/OFFLINE/PLACEHOLDER/0000"}
"""Offline stand-ins for secret config (the real values are encrypted); well-formed so validation
of their shape still runs. They never reach the output: secret values are written as REDACTED."""
SECRET_SIG = rpc._special_sig_key
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Record:
    """One registered resource, as the engine would receive it."""

    type: str
    name: str
    parent: str
    provider: str
    protect: bool
    custom: bool
    inputs: dict[str, Any]

    @property
    def key(self) -> str:
        """Stable identity across runs: parent chain plus type and name (the URN's content)."""
        return f"{self.parent}::{self.type}::{self.name}"

    @property
    def is_kubernetes_object(self) -> bool:
        return (
            self.custom
            and self.type.startswith("kubernetes:")
            and not self.type.startswith("kubernetes:helm.sh/")
            and "apiVersion" in self.inputs
        )


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


def _clean(value: Any) -> Any:
    """Wire values to plain data: integral floats back to ints, secrets redacted."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == rpc._special_secret_sig:
            inner = value.get("value")
            # A secret map (a Secret's stringData) keeps its keys, so the object stays valid.
            return {k: REDACTED for k in inner} if isinstance(inner, dict) else REDACTED
        return {k: _clean(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _name_of(urn: str) -> str:
    return urn.split("::")[-1] if urn else ""


class _RecordingMonitor(mocks.MockMonitor):
    def __init__(self, mock: mocks.Mocks) -> None:
        super().__init__(mock)
        self.records: list[Record] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            provider = request.provider.split("::")[3] if request.provider else ""
            self.records.append(
                Record(
                    type=request.type,
                    name=request.name,
                    parent=_parent_key(request.parent),
                    provider=provider,
                    protect=bool(request.protect),
                    custom=bool(request.custom),
                    inputs=_clean(inputs),
                )
            )
        return response


def _parent_key(urn: str) -> str:
    if not urn:
        return ""
    qualified = urn.split("::")[2]
    type_ = qualified.split("$")[-1]
    if type_ == "pulumi:pulumi:Stack":
        return ""
    return f"{type_}::{_name_of(urn)}"


class _Mocks(mocks.Mocks):
    """Plausible outputs for the few resources whose outputs feed other inputs."""

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        out = dict(args.inputs)
        name = out.get("name") or args.name
        out.setdefault("name", name)
        out["arn"] = f"arn:aws:mock:::{args.name}"
        out["email"] = f"{str(name)[:30]}@mock.iam.gserviceaccount.com"
        out["uri"] = f"https://{args.name}.example.invalid"
        if args.typ == "gcp:container/cluster:Cluster":
            out["endpoint"] = "203.0.113.10"
            out["masterAuth"] = {"clusterCaCertificate": "TU9DSy1DQQ=="}
        if args.typ == "aws:eks/cluster:Cluster":
            out["endpoint"] = f"https://{args.name}.eks.example.invalid"
            out["certificateAuthority"] = {"data": "TU9DSy1DQQ=="}
            out["identities"] = [{"oidcs": [{"issuer": f"https://oidc.eks.example.invalid/id/{args.name}"}]}]
        if args.typ == "gcp:redis/instance:Instance":
            out["persistenceIamIdentity"] = "serviceAccount:service-000000000000@cloud-redis.iam.gserviceaccount.com"
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            out["url"] = args.inputs.get("url", "")
        return f"{args.name}-id", out

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Data sources read nothing offline (an EKS node group's live scaling: none, as on a first deploy;
        ``None`` here would make the mock monitor crash)."""
        return {}, []


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
) -> Plan:
    """Resolve ``Pulumi.<stack>.yaml`` (with an optional phase override) and run the program under
    mocks. Raises ``ConfigError`` before any registration when the config is invalid."""
    from infra.load import load  # late import: the composition imports every component
    from infra.stack import build

    raw, secret_keys = read_stack_config(stack_file(stack, root))
    settings = load(raw, secret_keys, stack, phase)
    if phase is not None:
        raw[f"{NAMESPACE}:phase"] = str(phase)
    body = program or build
    records = record(lambda: body(settings), stack, raw, secret_keys)
    return Plan(stack=stack, settings=settings, records=records)


def record(
    program: Callable[[], object],
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: frozenset[str] = frozenset(),
) -> list[Record]:
    """Run ``program`` under fresh mocks and return every registration it made, in order."""
    mock = _Mocks()
    monitor = _RecordingMonitor(mock)
    # A fresh root stack per run, as under the engine (one program per process): otherwise stack
    # transformations of an earlier run (infra/apis.py) would apply to this one.
    runtime_settings.ROOT.set(None)
    mocks.set_mocks(mock, project=PROJECT, stack=stack, preview=False, monitor=monitor)
    set_all_config(dict(config or {}), sorted(secret_keys))
    def body() -> None:
        program()

    _sync_await(run_pulumi_func(body))
    return monitor.records


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


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
            path.write_text(yaml.safe_dump({"groups": obj["spec"]["groups"]}, sort_keys=False, width=10_000))
    configs = [
        rel["values"]["alertmanager"]["config"]
        for _, rel in plan.helm_releases()
        if rel.get("chart") == "kube-prometheus-stack" and "config" in rel.get("values", {}).get("alertmanager", {})
    ]
    target = out / "alertmanager.yaml"
    if configs:
        out.mkdir(parents=True, exist_ok=True)
        target.write_text(yaml.safe_dump(_redact_urls(configs[0]), sort_keys=False, width=10_000))
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
        path.write_text(yaml.safe_dump(obj, sort_keys=False))
    for cluster, rel in plan.helm_releases():
        doc = {
            "release": rel.get("name"),
            "chart": rel.get("chart"),
            "repository": (rel.get("repositoryOpts") or {}).get("repo"),
            "version": rel.get("version"),
            "namespace": rel.get("namespace"),
            "values": rel.get("values", {}),
        }
        path = out / "helm" / cluster / f"{_slug(str(doc['release']))}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
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
        build(settings)
    except ConfigError as err:
        raise pulumi.RunError(err.render()) from None
