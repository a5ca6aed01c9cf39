"""Pure: how a region's Cloud Run services reach the data tier and the in-cluster vLLM (no Pulumi calls).

**Direct VPC egress.** Each Cloud Run service sends its private-range traffic into the region's GKE
VPC through a dedicated subnet (``template.vpcAccess.networkInterfaces`` with network and
subnetwork, egress ``PRIVATE_RANGES_ONLY``: the internet and Google APIs keep Cloud Run's own path).
Google's rules for that subnet (Cloud Run docs, "Direct VPC egress with a VPC network", sections
"IP address allocation" / "Scaling up and down" / "IP address usage for services"):

- Cloud Run reserves addresses in blocks of 16 (a /28) at a time;
- the subnet's IPv4 range must be a /26 or larger;
- in steady state a service uses 2x as many addresses as it runs instances; a revision rollout runs
  the new revision's instances while the old one still holds its addresses, so we size for twice that
  (the networking best-practices page, "Monitor IP address usage": instance count x 4);
- every primary IPv4 range loses 4 addresses to Google Cloud (VPC docs, "Reserved IP addresses in
  IPv4 subnets": network, default gateway, second-to-last and broadcast).

So a region whose Cloud Run services can reach ``N`` instances together needs
``ceil(4 N / 16) x 16 + 4`` addresses, in the smallest power-of-two range that holds them and is
not smaller than a /26. ``N`` is the services' largest max instances over every phase, so moving
between phases never changes the range (a range can only grow in place: the provider expands a
subnet whose new range contains the old one and replaces it otherwise).

The range sits at the start of the fourth /20 of the region's lower /17, which
``components.cluster.gke.subnet_ranges`` leaves free (nodes, services and the control plane use the
first three), so it grows in place up to a /20 (1,020 instances).

**Reaching the cluster.** A ClusterIP is virtual: nothing outside the cluster routes to it. Each
in-cluster target Cloud Run needs (the PostgreSQL poolers, vLLM) gets a second Service of type
LoadBalancer with ``networking.gke.io/load-balancer-type: "Internal"``: GKE builds an internal
passthrough Network Load Balancer (a forwarding rule on a private IP of the node subnet) and the VPC
firewall rule that admits ``spec.loadBalancerSourceRanges`` (here: the Cloud Run subnet only) to the
nodes (GKE docs, "LoadBalancer Service parameters"). ``externalTrafficPolicy: Local`` keeps the
client's source address on the packets the pods receive (same page, "External traffic policy"), so a
NetworkPolicy can admit exactly the Cloud Run subnet by ``ipBlock``; it is added beside the target's
own policy (NetworkPolicies are additive). Memorystore (direct peering with the VPC, or Private
Service Connect endpoints in the node subnet for a cluster) is reached on its private IP with no
Kubernetes hop (Cloud Run docs, "Connect to a Redis instance from a Cloud Run service").
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components import kube
from components.problems import Problem

IPS_PER_INSTANCE = 2
"""Steady state: 2 addresses per instance (Cloud Run, "IP address usage for services")."""
ROLLOUT_FACTOR = 2
"""An old and a new revision at once during a rollout (best practices: instance count x 4)."""
BLOCK = 16
"""Cloud Run reserves addresses 16 at a time (a /28)."""
RESERVED = 4
"""Addresses Google Cloud keeps in every subnet's primary IPv4 range."""
MIN_PREFIX = 26
"""Cloud Run needs a /26 or larger."""
BLOCK_PREFIX = 20
"""The room the range may grow into: the fourth /20 of the region's lower /17."""
EGRESS = "PRIVATE_RANGES_ONLY"
ILB_ANNOTATION = {"networking.gke.io/load-balancer-type": "Internal"}
SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
STARTUP_FAILURES = 12
"""Startup probe failures allowed (x 10 s period): Direct VPC egress may take a minute or more to
connect on instance start-up, and Google recommends a startup probe that waits for it (Cloud Run
docs, "Direct VPC egress", Limitations)."""


def addresses_needed(instances: int) -> int:
    """Addresses a subnet must hold for Cloud Run services reaching ``instances`` together."""
    used = instances * IPS_PER_INSTANCE * ROLLOUT_FACTOR
    return math.ceil(used / BLOCK) * BLOCK + RESERVED


def subnet_prefix(instances: int) -> int:
    """The prefix length of the smallest range for ``instances`` (never smaller than a /26)."""
    prefix = 32 - max(0, math.ceil(math.log2(addresses_needed(instances))))
    return min(prefix, MIN_PREFIX)


def capacity(prefix: int) -> int:
    """How many instances a range of ``prefix`` holds by the rule above (inverse of ``subnet_prefix``)."""
    usable = (2 ** (32 - prefix) - RESERVED) // BLOCK * BLOCK
    return usable // (IPS_PER_INSTANCE * ROLLOUT_FACTOR)


def room(vpc_cidr: str) -> ipaddress.IPv4Network:
    """The /20 the Cloud Run subnet of a region grows in (see the module doc)."""
    lower = next(ipaddress.IPv4Network(vpc_cidr).subnets(new_prefix=17))
    return list(lower.subnets(new_prefix=BLOCK_PREFIX))[3]


def subnet_cidr(vpc_cidr: str, instances: int) -> str:
    """The Cloud Run subnet's range: ``subnet_prefix(instances)`` at the start of ``room``."""
    prefix = max(subnet_prefix(instances), BLOCK_PREFIX)
    return str(next(room(vpc_cidr).subnets(new_prefix=prefix)))


def subnet_problems(instances: Mapping[str, int], path: str) -> list[Problem]:
    """Refuse Cloud Run services whose instances together need more than the room (a /20)."""
    total = sum(instances.values())
    if subnet_prefix(total) >= BLOCK_PREFIX:
        return []
    shown = {name: n for name, n in sorted(instances.items())}
    return [Problem(path, shown, f"Cloud Run services of a region may reach {capacity(BLOCK_PREFIX)} instances "
                                 f"together (their Direct VPC egress subnet grows to a /{BLOCK_PREFIX}: 4 addresses "
                                 f"per instance, in blocks of {BLOCK}); these reach {total}: lower their max instances")]


def account_id(service: str, region: str, primary: bool) -> str:
    """The Google service account id of a Cloud Run service in one region: ``run-<service>`` in the
    primary region (the id it always had), ``run-<service>-<region>`` in the others, since ids are
    unique in a project; cut to the 30 characters allowed with a hash of the whole."""
    base = f"run-{service}"
    if primary:
        return base[:30]
    full = f"{base}-{region}"
    return full if len(full) <= 30 else f"{full[:21]}-{hashlib.sha256(full.encode()).hexdigest()[:8]}"


# --- Targets in the cluster ---------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """An in-cluster endpoint exposed to the Cloud Run subnet."""

    name: str
    """Kubernetes name of the internal load balancer Service (``<target>-ilb``)."""
    selector: Mapping[str, str]
    """Labels of the target's pods."""
    port: int
    """What Cloud Run connects to (the in-cluster Service's port)."""
    pod_port: int | str
    """The pods' port (number, or the container port's name for the Service's ``targetPort``)."""
    policy_port: int
    """The pods' port number, for the NetworkPolicy."""


def ilb_service(target: Target, namespace: str, cidr: str) -> dict[str, Any]:
    """The internal passthrough load balancer Service of ``target`` (module doc)."""
    return {
        "metadata": {
            "name": target.name,
            "namespace": namespace,
            "labels": kube.labels(target.name, "cloud-run-access"),
            "annotations": dict(ILB_ANNOTATION),
        },
        "spec": {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "loadBalancerSourceRanges": [cidr],
            "selector": dict(target.selector),
            "ports": [{"name": "tcp", "port": target.port, "targetPort": target.pod_port, "protocol": "TCP"}],
        },
    }


def network_policy(target: Target, namespace: str, cidr: str) -> dict[str, Any]:
    """Admit the Cloud Run subnet to the target's pods on their port (beside the target's own policy)."""
    return {
        "metadata": {
            "name": f"{target.name.removesuffix('-ilb')}-cloudrun",
            "namespace": namespace,
            "labels": kube.labels(target.name, "cloud-run-access"),
        },
        "spec": {
            "podSelector": {"matchLabels": dict(target.selector)},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": cidr}}],
                         "ports": [{"protocol": "TCP", "port": target.policy_port}]}],
        },
    }


# --- Connection settings ------------------------------------------------------------------------

PG_SECRET_KEYS = ("host", "ro-host", "password")
"""PostgreSQL keys read from Secret Manager: the addresses (known at deploy time) and the password."""
REDIS_SECRET_KEYS = ("host", "port", "password", "ca.crt")
"""Redis keys read from Secret Manager: the address (a Memorystore output), the AUTH string, the CA."""


def secret_id(cluster_name: str, part: str, key: str) -> str:
    """Secret Manager id of one connection value of a region: ``<stack>-<region>-<part>-<key>``."""
    return f"{cluster_name}-{part}-{key.replace('.', '-')}"


@dataclass(frozen=True)
class EnvVar:
    """One Cloud Run env var: a plain value, or a Secret Manager secret (``part``, ``key``)."""

    name: str
    value: Any = None
    secret: tuple[str, str] | None = None


def env(part: str, spec: Sequence[tuple[str, str, str]], data: Mapping[str, Any],
        secret_keys: Sequence[str]) -> tuple[EnvVar, ...]:
    """The Cloud Run env of one part: the same variables as the in-cluster services (``spec``: the
    ``(var, Secret, key)`` triples of ``components/<part>/connection.env``), each key in
    ``secret_keys`` from Secret Manager, every other one the constant the connection Secret holds."""
    return tuple(
        EnvVar(var, secret=(part, key)) if key in secret_keys else EnvVar(var, value=data[key])
        for var, _, key in spec
    )
