"""Resolve a stack's config into validated settings: the stack config plus the phase's sizes.

Pure: takes the raw ``phasescale:`` keys as a mapping, so the same code serves ``pulumi up`` (keys
from the engine) and the offline plan (keys from ``Pulumi.<stack>.yaml``). Every mistake is
collected into one :class:`~components.problems.ConfigError`; nothing is half-resolved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from components.cluster.storage import CLOUD_CLASSES, EKS_DEFAULT_CLASS
from components.problems import ConfigError, Problem
from components.versions import CLUSTER_AUTOSCALER_TAGS
from infra import catalog
from infra.config import SECRET_KEYS, TOP_LEVEL_KEYS, Environment, Runtime, StackConfig, Target

NAMESPACE = "phasescale"


@dataclass(frozen=True)
class Settings:
    """A validated stack: its config, the sizes of its phase, and its secret values."""

    stack: StackConfig
    sizes: catalog.PhaseSizes
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret config values by key; callers wrap them with ``pulumi.Output.secret``."""

    @property
    def phase(self) -> int:
        return self.stack.phase

    @property
    def active_regions(self) -> list[str]:
        """Regions deployed at this phase: all of them when multi-region, else the first."""
        names = list(self.stack.regions)
        return names if self.sizes.regions.multi_region else names[:1]


def _loc_path(prefix: str, loc: tuple[int | str, ...]) -> str:
    """``("phasescale:", ("services", "api", "port"))`` -> ``phasescale:services.api.port``."""
    parts = [str(p) for p in loc if "[" not in str(p)]  # drop validator names like "function-after[...]"
    return prefix + ".".join(parts)


def _problems(err: ValidationError, prefix: str) -> list[Problem]:
    found = []
    for e in err.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (misspelled?); see the config reference in README.md"
        value = e.get("input")
        found.append(Problem(_loc_path(prefix, e["loc"]), _short(value), msg))
    return found


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 80 else text[:77] + "..."


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_value(value: Any) -> Any:
    """Pulumi hands structured config values over as JSON text; plain strings stay strings."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


OPEN_TO_ALL = ("0.0.0.0/0", "::/0")


def has_ingress(stack: StackConfig) -> bool:
    """Whether the regions get the ingress controller (and so cert-manager and the ACME issuer)."""
    return any(s.ingress is not None for s in stack.services.values()) or stack.monitoring.grafana_host is not None


def cluster_storage_classes(target: Target) -> dict[str, bool] | None:
    """Storage classes of a target's clusters (name -> is default); None: an existing cluster's own."""
    if target is Target.EXISTING:
        return None
    classes = dict(CLOUD_CLASSES[target.value])
    if target is Target.EKS:
        classes[EKS_DEFAULT_CLASS] = True  # created by infra/targets.py
    return classes


def storage_class_problems(stack: StackConfig) -> list[Problem]:
    """A configured ``storageClass`` must be one the cluster has (gke, eks); on existing it is the user's."""
    classes = cluster_storage_classes(stack.cluster.target)
    if classes is None:
        return []
    configured = {
        "postgres": stack.postgres.storage_class,
        "redis": stack.redis.storage_class,
        "milvus": stack.milvus.storage_class,
        "monitoring": stack.monitoring.storage_class,
    }
    return [
        Problem(f"{NAMESPACE}:{part}.storageClass", name,
                f"a StorageClass of {stack.cluster.target.value} clusters: {', '.join(sorted(classes))}")
        for part, name in configured.items()
        if name is not None and name not in classes
    ]


def cross_checks(stack: StackConfig) -> list[Problem]:
    """Checks that span several keys (each field on its own is already valid)."""
    found = []
    target = stack.cluster.target
    production = stack.environment is Environment.PRODUCTION
    for cidr in stack.cluster.api_allowed_cidrs:
        if production and target is not Target.EXISTING and cidr.strip() in OPEN_TO_ALL:
            found.append(
                Problem(f"{NAMESPACE}:cluster.apiAllowedCidrs", cidr,
                        "not open to the whole internet in production: the CIDR of the machine (or VPN) that runs "
                        "pulumi up and kubectl, e.g. 198.51.100.7/32")
            )
    found += storage_class_problems(stack)
    if stack.environment is not Environment.DEVELOPMENT and has_ingress(stack) and not stack.cluster.acme_email:
        found.append(
            Problem(f"{NAMESPACE}:cluster.acmeEmail", None,
                    f"required in {stack.environment.value} with an Ingress: the Let's Encrypt account e-mail "
                    "for the hosts' TLS certificates")
        )
    for name, region in stack.regions.items():
        path = f"{NAMESPACE}:regions.{name}.kubeContext"
        if target is Target.EXISTING and not region.kube_context:
            found.append(Problem(path, None, "required for cluster.target existing (a kubeconfig context)"))
        if target is not Target.EXISTING and region.kube_context:
            found.append(Problem(path, region.kube_context, "only for cluster.target existing; remove it"))
    if target is Target.EKS and stack.cluster.kubernetes_version not in CLUSTER_AUTOSCALER_TAGS:
        found.append(
            Problem(f"{NAMESPACE}:cluster.kubernetesVersion", stack.cluster.kubernetes_version,
                    f"one of {', '.join(CLUSTER_AUTOSCALER_TAGS)} (versions with a matching cluster autoscaler)")
        )
    if target is Target.GKE and not stack.cluster.gcp_project:
        found.append(Problem(f"{NAMESPACE}:cluster.gcpProject", None, "required for cluster.target gke"))
    known = set(stack.services) | {"ingress", "monitoring"}
    for name, svc in stack.services.items():
        for caller in svc.callers:
            if caller not in known:
                found.append(
                    Problem(f"{NAMESPACE}:services.{name}.callers", caller,
                            f"not a service; valid: {', '.join(sorted(known))}")
                )
        if svc.runtime is Runtime.CLOUDRUN and target is not Target.GKE:
            found.append(
                Problem(f"{NAMESPACE}:services.{name}.runtime", "cloudrun", "cloudrun needs cluster.target gke")
            )
    return found


def resolve(
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    phase_override: int | None = None,
) -> Settings:
    """Validate ``raw`` (``{"phasescale:phase": "2", ...}``) and return the stack's settings.

    Raises :class:`ConfigError` with every problem found.
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for full_key, value in raw.items():
        ns, _, key = full_key.partition(":")
        if ns != NAMESPACE:
            continue
        if key in SECRET_KEYS:
            if full_key not in secret_keys:
                problems.append(
                    Problem(full_key, "<plaintext>", "must be set with `pulumi config set --secret`")
                )
            else:
                secrets[key] = str(value)
            continue
        if key not in TOP_LEVEL_KEYS:
            valid = ", ".join(sorted(TOP_LEVEL_KEYS + SECRET_KEYS))
            problems.append(Problem(full_key, _short(value), f"unknown key; valid keys: {valid}"))
            continue
        values[key] = parse_value(value)
    if phase_override is not None:
        values["phase"] = phase_override

    stack: StackConfig | None = None
    try:
        stack = StackConfig.model_validate(values)
        problems += cross_checks(stack)
    except ValidationError as err:
        problems += _problems(err, f"{NAMESPACE}:")

    sizes: catalog.PhaseSizes | None = None
    phase = values.get("phase")
    if isinstance(phase, int) and phase in catalog.PHASES:
        overrides = values.get("overrides") or {}
        merged = _deep_merge(catalog.phase_row(phase), overrides if isinstance(overrides, Mapping) else {})
        try:
            sizes = catalog.PhaseSizes.model_validate(merged)
        except ValidationError as err:
            problems += _problems(err, f"{NAMESPACE}:overrides.")

    if problems or stack is None or sizes is None:
        raise ConfigError(problems or [Problem("phasescale:phase", phase, "an integer 1-4")])
    return Settings(stack=stack, sizes=sizes, secrets=secrets)
