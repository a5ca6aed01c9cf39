"""Checks that span several keys of a (schema-valid) stack config, beside the models of config.py.

Pure: each returns ``list[Problem]``. They run even when other keys failed the schema (on the stack
with those values reset to their defaults); problems at already-reported paths are dropped there.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from components.cluster.eks import subnet_plan
from components.cluster.gke import subnet_ranges
from components.problems import Problem
from infra import config_alerts, tls
from infra.catalog import PhaseSizes
from infra.config import StackConfig, Target
from infra.rules import AWS_REGIONS, GCP_REGIONS

P = "phasescale:"
RESERVED_SERVICE_NAMES = frozenset({"ingress", "monitoring", "redis", "redis-auth", "redis-backup", "redis-config",
                                    "vllm", "vllm-hf-token", "cdn-store", "cdn-store-s3-config"})
"""Names taken in the app namespace by what the program creates there (Redis, vLLM, the dev CDN store,
``<region>-pg*`` of PostgreSQL) or by the callers keywords (``ingress``, ``monitoring``): a service of
that name would collide with the object or the keyword."""


def check(stack: StackConfig, sizes: PhaseSizes | None) -> list[Problem]:
    """Every cross-key check of the stack; ``sizes`` is None when the phase itself is invalid."""
    active = None if sizes is None else list(stack.regions)[: None if sizes.regions.multi_region else 1]
    return (
        regions(stack, sizes) + services(stack) + _memorystore(stack, sizes) + tls.problems(stack, active)
        + alerts(stack, sizes)
    )  # fmt: skip


def alerts(stack: StackConfig, sizes: PhaseSizes | None) -> list[Problem]:
    """``phasescale:alerts`` against the alerts' units and the defaults of the stack's phase."""
    return config_alerts.problems(stack.alerts, stack.phase if sizes is not None else None)


MEMORYSTORE_MAX_GIB = 300
"""Memorystore for Redis (basic / standard tier) instances hold 1-300 GB
(cloud.google.com/memorystore/docs/redis/redis-tiers#capacity)."""


def _memorystore(stack: StackConfig, sizes: PhaseSizes | None) -> list[Problem]:
    if sizes is None or not stack.parts.redis or stack.redis.engine.value != "memorystore":
        return []
    if sizes.redis.mode != "cluster" and sizes.redis.memory_mib > MEMORYSTORE_MAX_GIB * 1024:
        return [Problem(f"{P}overrides.redis.memoryMib", sizes.redis.memory_mib,
                        f"at most {MEMORYSTORE_MAX_GIB * 1024} (Memorystore's {MEMORYSTORE_MAX_GIB} GB limit); "
                        "above that use mode cluster")]
    return []


def _zones(location: str, zones: list[str], target: Target) -> tuple[str, ...]:
    """The zones the cluster uses (as infra/targets.zones_of): empty means a, b, c on EKS."""
    if zones or target is not Target.EKS:
        return tuple(zones)
    return tuple(f"{location}{z}" for z in "abc")


def regions(stack: StackConfig, sizes: PhaseSizes | None) -> list[Problem]:
    found: list[Problem] = []
    target = stack.cluster.target
    known = {Target.GKE: GCP_REGIONS, Target.EKS: AWS_REGIONS}.get(target)
    for name, region in stack.regions.items():
        path = f"{P}regions.{name}"
        if known is not None and region.location not in known:
            other = "an AWS region" if region.location in AWS_REGIONS else (
                "a Google Cloud region" if region.location in GCP_REGIONS else "no region")
            found.append(Problem(f"{path}.location", region.location,
                                 f"a {'Google Cloud' if target is Target.GKE else 'AWS'} region for cluster.target "
                                 f"{target.value} (this is {other}), e.g. "
                                 f"{'asia-northeast3' if target is Target.GKE else 'ap-northeast-2'}"))
        found += _zone_problems(path, region.location, region.zones, target)
        if target is Target.EXISTING:
            continue
        zones = _zones(region.location, region.zones, target)
        net = ipaddress.IPv4Network(region.vpc_cidr)
        try:
            if target is Target.GKE:
                subnet_ranges(region.vpc_cidr)
            else:
                if not 16 <= net.prefixlen <= 28:
                    raise ValueError("AWS VPCs are /16 to /28")
                subnet_plan(region.vpc_cidr, zones)
        except ValueError:
            need = "/16 or larger (nodes, pods, services)" if target is Target.GKE else (
                f"/16 or /17 with room for a /18 per zone plus the public /20s ({len(zones)} zones; a /16 holds 3)")
            found.append(Problem(f"{path}.vpcCidr", region.vpc_cidr, f"a range large enough: {need}"))
    if sizes is not None and sizes.regions.multi_region and target is not Target.EXISTING:
        nets = [(name, ipaddress.IPv4Network(r.vpc_cidr)) for name, r in stack.regions.items()]
        for i, (a, net_a) in enumerate(nets):
            for b, net_b in nets[:i]:
                if net_a.overlaps(net_b):
                    found.append(Problem(f"{P}regions.{a}.vpcCidr", str(net_a),
                                         f"a range that does not overlap regions.{b}.vpcCidr ({net_b}): every "
                                         "region is deployed at this phase and their VPCs are peered/routed"))
    return found


def _zone_problems(path: str, location: str, zones: list[str], target: Target) -> list[Problem]:
    found = []
    for zone, n in Counter(zones).items():
        if n > 1:
            found.append(Problem(f"{path}.zones", zone, "each zone once"))
    if target is Target.EXISTING:
        return found
    # Zone names: GCE <region>-<letter> (us-central1-a), AWS <region><letter> (ap-northeast-1a).
    for zone in zones:
        suffix = zone.removeprefix(f"{location}-" if target is Target.GKE else location)
        if suffix == zone or len(suffix) != 1 or not suffix.isalpha() or not suffix.islower():
            example = f"{location}-a" if target is Target.GKE else f"{location}a"
            found.append(Problem(f"{path}.zones", zone, f"a zone of {location}, e.g. {example}"))
    return found


def services(stack: StackConfig) -> list[Problem]:
    found = []
    routes: dict[tuple[str, str, str], str] = {}
    for name, svc in stack.services.items():
        if name in RESERVED_SERVICE_NAMES or any(name.startswith(f"{r}-pg") for r in stack.regions):
            found.append(Problem(f"{P}services.{name}", name, "a name of its own, not one of "
                                 f"{', '.join(sorted(RESERVED_SERVICE_NAMES))} nor <region>-pg*"))
        if svc.ingress is None:
            continue
        for region in stack.regions:  # a route per region: regionHosts may give a region its own host
            host = tls.route_host(svc.ingress, region)
            route = (region, host or "", svc.ingress.path_prefix.rstrip("/") or "/")
            if host is not None and route in routes and routes[route] != name:
                found.append(Problem(f"{P}services.{name}.ingress", f"{host}{svc.ingress.path_prefix}",
                                     f"a host and path of its own: services.{routes[route]} already routes it"))
                break
            routes.setdefault(route, name)
    return found
