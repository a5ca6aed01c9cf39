"""Resolve a stack's config into validated settings: the stack config plus the phase's sizes.

Pure: takes the raw ``phasescale:`` keys as a mapping, so the same code serves ``pulumi up`` (keys
from the engine) and the offline plan (keys from ``Pulumi.<stack>.yaml``). Every mistake is
collected into one :class:`~components.problems.ConfigError`; nothing is half-resolved.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from components.cluster.storage import CLOUD_CLASSES, EKS_DEFAULT_CLASS
from components.problems import ConfigError, Problem
from components.versions import CLUSTER_AUTOSCALER_TAGS
from infra import catalog, config_checks, phased
from infra.config import SECRET_KEYS, TOP_LEVEL_KEYS, Environment, Runtime, StackConfig, Target
from infra.raw import NULL
from infra.raw import drop as _drop
from infra.raw import problems_of as _problems
from infra.raw import short as _short

NAMESPACE = "phasescale"


@dataclass(frozen=True)
class Settings:
    """A validated stack: its config, the sizes of its phase, and its secret values."""

    stack: StackConfig
    sizes: catalog.PhaseSizes
    secrets: Mapping[str, str] = field(default_factory=dict)
    """Secret config values by key; callers wrap them with ``pulumi.Output.secret``."""
    per_phase: Mapping[str, str] = field(default_factory=dict)
    """Catalog values this phase takes from ``phasescale:phaseOverrides`` (``postgres.storageGib``
    -> the key that sets it, ``"3"`` or ``"2-4"``): where ``infra diff`` says to keep a volume."""

    @property
    def phase(self) -> int:
        return self.stack.phase

    @property
    def active_regions(self) -> list[str]:
        """Regions deployed at this phase: all of them when multi-region, else the first."""
        names = list(self.stack.regions)
        return names if self.sizes.regions.multi_region else names[:1]


PASSED_ON = ("gcp", "aws", "kubernetes", "pulumi")
"""Provider namespaces whose keys the program passes on to Pulumi untouched; any other namespace
than these and ``phasescale`` is a typo (``phasescal:environment`` would silently drop production)."""


def parse_value(value: Any) -> Any:
    """Pulumi hands structured config values over as JSON text; plain strings stay strings. Only
    ASCII digits make a number (superscript and fullwidth digits stay strings and fail as such)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        return int(value)
    return value


def _suggest(key: str) -> str:
    """The nearest valid ``phasescale:`` key to a mistyped one, as advice."""
    valid = TOP_LEVEL_KEYS + SECRET_KEYS
    lowered = {k.lower(): k for k in valid}
    match = lowered.get(key.lower()) or next(iter(difflib.get_close_matches(key, valid, n=1, cutoff=0.75)), None)
    return f"did you mean {NAMESPACE}:{match}? " if match else ""


def _key_problem(full_key: str, value: Any) -> Problem | None:
    """A problem for a top-level key that is not ``phasescale:<known>`` nor a passed-on provider key."""
    ns, colon, key = full_key.partition(":")
    if colon and ns in PASSED_ON:
        return None
    value = parse_value(value)
    valid = ", ".join(sorted(TOP_LEVEL_KEYS + SECRET_KEYS))
    if not colon:
        return Problem(full_key, _short(value), f"a namespaced key; {_suggest(ns)}valid: {NAMESPACE}:<key> "
                       f"({valid}) or {', '.join(f'{n}:<key>' for n in PASSED_ON)}")
    if ns != NAMESPACE:
        hint = _suggest(key)
        return Problem(full_key, _short(value), f"unknown namespace {ns!r}; {hint}valid namespaces: "
                       f"{NAMESPACE}, {', '.join(PASSED_ON)}")
    if key not in TOP_LEVEL_KEYS and key not in SECRET_KEYS:
        return Problem(full_key, _short(value), f"unknown key; {_suggest(key)}valid keys: {valid}")
    return None


def _degraded(values: dict[str, Any], err: ValidationError) -> StackConfig | None:
    """The stack with every invalid value removed (defaults in their place), so the checks that span
    keys still run and report beside the schema errors; None when a required value is missing."""
    trial = copy.deepcopy(values)
    for _ in range(4):
        errors = err.errors()
        # A required key missing in a service or region (or the cluster's target): nothing to stand in.
        if any(e["type"] == "missing" and len(e["loc"]) <= 3 and e["loc"] != ("phase",) for e in errors):
            return None
        progress = False
        for e in errors:
            if e["loc"] == ("phase",):  # a placeholder phase: the checks that span keys do not use it
                progress |= trial.get("phase") != 1
                trial["phase"] = 1
            else:  # an invalid value: its default; a required key missing in an optional object: no object
                progress |= _drop(trial, e["loc"][:-1] if e["type"] == "missing" else e["loc"])
        if not progress:
            return None
        try:
            return StackConfig.model_validate(trial)
        except ValidationError as again:
            err = again
    return None


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


@dataclass
class Resolution:
    """What :func:`resolve_all` found: the settings (possibly with invalid values replaced by their
    defaults, so later checks can still run), every problem, and the paths already reported."""

    settings: Settings | None
    problems: list[Problem]
    phase_known: bool
    reported: list[str]

    def shadowed(self, path: str) -> bool:
        """A later check's problem at (or under, or above) a path already reported is a consequence."""
        return any(path == r or path.startswith(r + ".") or r.startswith(path + ".") for r in self.reported)


def resolve_all(
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    phase_override: int | None = None,
) -> Resolution:
    """Every stage of validation on ``raw``, none skipped because an earlier one failed."""
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    for full_key, value in raw.items():
        bad = _key_problem(full_key, value)
        if bad is not None:
            problems.append(bad)
            continue
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
        if value is None:
            problems.append(Problem(full_key, NULL, "a value; remove the key to use the default"))
            continue
        values[key] = parse_value(value)
    if phase_override is not None:
        values["phase"] = phase_override
    phase = values.get("phase")
    phase_known = isinstance(phase, int) and not isinstance(phase, bool) and phase in catalog.PHASES
    known = int(phase) if phase_known else None  # type: ignore[arg-type]
    if "parts" in values:  # parts on at some phases only: a boolean for this phase (infra/phased.py)
        values["parts"], switched = phased.switch_parts(values["parts"], known)
        problems += switched

    reported = [p.path for p in problems]
    stack: StackConfig | None = None
    try:
        stack = StackConfig.model_validate(values)
    except ValidationError as err:
        schema = _problems(err, f"{NAMESPACE}:")
        problems += schema
        reported += [p.path for p in schema]
        stack = _degraded(values, err)

    overrides = values.get("overrides")
    overrides = overrides if isinstance(overrides, Mapping) else {}
    # A bad phase must not hide override mistakes: they are checked against every phase's row.
    found = phased.resolve_sizes(known, overrides, values.get("phaseOverrides"))
    problems += found.problems
    reported += [p.path for p in found.problems]
    sizes = found.sizes

    if stack is not None:
        later = cross_checks(stack) + config_checks.check(stack, sizes if phase_known else None)
        problems += [p for p in later if not _covered(p.path, reported)]
    settings = (Settings(stack=stack, sizes=sizes, secrets=secrets, per_phase=found.per_phase)
                if stack and sizes else None)  # fmt: skip
    return Resolution(settings, problems, phase_known, reported)


def _covered(path: str, reported: list[str]) -> bool:
    return any(path == r or path.startswith(r + ".") for r in reported)


def resolve(
    raw: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    phase_override: int | None = None,
) -> Settings:
    """Validate ``raw`` (``{"phasescale:phase": "2", ...}``) and return the stack's settings.

    Raises :class:`ConfigError` with every problem found (the parts' own checks run later, in
    :func:`infra.load.load` and the composition).
    """
    found = resolve_all(raw, secret_keys, phase_override)
    if found.problems or found.settings is None:
        raise ConfigError(found.problems or [Problem("phasescale:phase", NULL, "an integer 1-4")])
    return found.settings
