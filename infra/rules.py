"""Value rules shared by the config models: CIDRs, DNS names, environment keys, image references,
and the regions of each cloud. Pure, no project imports (``infra/config.py`` builds on it).

Each rule raises ``ValueError`` with what would be valid; pydantic turns that into a Problem at the
value's own path.
"""

from __future__ import annotations

import ipaddress
import re
import typing
from typing import Any

PRIVATE_RANGES = tuple(
    ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
)
"""Where a VPC may live: RFC 1918 and the shared 100.64.0.0/10 (both clouds accept these for a VPC;
a public, loopback or multicast block would shadow real addresses).
GKE: cloud.google.com/vpc/docs/subnets#valid-ranges; EKS: docs.aws.amazon.com/vpc/latest/userguide/vpc-cidr-blocks.html."""

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN_MAX = 253
"""Kubernetes object names (Secrets, StorageClasses): DNS-1123 subdomains, at most 253 characters of
DNS-1123 labels joined by dots (kubernetes.io/docs/concepts/overview/working-with-objects/names)."""
ENV_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A portable environment variable name (POSIX shells read nothing else; C_IDENTIFIER)."""
IMAGE_REF = re.compile(
    r"(?:(?:[a-z0-9]+(?:[._-][a-z0-9]+)*)(?::[0-9]{1,5})?/)?"  # registry host and port
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"  # repository path
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?"
)
"""The reference grammar of the distribution spec (github.com/distribution/reference, reference.go):
lowercase path components, an optional tag of at most 128 characters, an optional sha256 digest."""

RESERVED_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease",  # Kubernetes' own
    "monitoring", "cnpg-system", "cert-manager", "keda", "ingress", "milvus", "milvus-operator",
    "redis-operator", "nvidia",  # the namespaces this program installs into
})
RESERVED_DATABASE_NAMES = frozenset({"postgres", "template0", "template1", "rdsadmin", "cloudsqladmin"})
"""PostgreSQL's own databases, and those of RDS and Cloud SQL (an app database may not take them)."""
RESERVED_ROLES = frozenset({"postgres", "rdsadmin", "rds_superuser", "cloudsqladmin", "cloudsqlsuperuser",
                            "streaming_replica", "pg_monitor", "public"})
"""Superusers and system roles of PostgreSQL, RDS, Cloud SQL and CloudNativePG (streaming_replica)."""


def is_int_field(annotation: Any) -> bool:
    return annotation is int or (int in typing.get_args(annotation) and bool not in typing.get_args(annotation))


GCP_REGIONS = frozenset(
    """
africa-south1 asia-east1 asia-east2 asia-northeast1 asia-northeast2 asia-northeast3 asia-south1 asia-south2
asia-southeast1 asia-southeast2 australia-southeast1 australia-southeast2 europe-central2 europe-north1
europe-north2 europe-southwest1 europe-west1 europe-west10 europe-west12 europe-west2 europe-west3
europe-west4 europe-west6 europe-west8 europe-west9 me-central1 me-central2 me-west1 mexico-central1
northamerica-northeast1 northamerica-northeast2 northamerica-south1 southamerica-east1 southamerica-west1
us-central1 us-east1 us-east4 us-east5 us-south1 us-west1 us-west2 us-west3 us-west4
""".split()  # noqa: SIM905
)
"""Compute Engine regions (cloud.google.com/compute/docs/regions-zones)."""
AWS_REGIONS = frozenset(
    """
af-south-1 ap-east-1 ap-east-2 ap-northeast-1 ap-northeast-2 ap-northeast-3 ap-south-1 ap-south-2
ap-southeast-1 ap-southeast-2 ap-southeast-3 ap-southeast-4 ap-southeast-5 ap-southeast-7 ca-central-1
ca-west-1 eu-central-1 eu-central-2 eu-north-1 eu-south-1 eu-south-2 eu-west-1 eu-west-2 eu-west-3
il-central-1 me-central-1 me-south-1 mx-central-1 sa-east-1 us-east-1 us-east-2 us-west-1 us-west-2
us-gov-east-1 us-gov-west-1
""".split()  # noqa: SIM905
)
"""Commercial and GovCloud regions (docs.aws.amazon.com/global-infrastructure/latest/regions)."""


def cidr(value: str) -> str:
    """An IPv4 CIDR without host bits (octets 0-255, prefix 0-32, no leading zeros)."""
    try:
        ipaddress.IPv4Network(value, strict=True)
    except ValueError as err:
        raise ValueError(f"an IPv4 CIDR such as 10.0.0.0/16 ({err})") from None
    if not value.isascii() or "/" not in value:
        raise ValueError("an IPv4 CIDR with its prefix length, such as 10.0.0.0/16")
    return value


def vpc_cidr(value: str) -> str:
    """A private IPv4 CIDR (10/8, 172.16/12, 192.168/16, 100.64/10) without host bits."""
    net = ipaddress.IPv4Network(cidr(value))
    if not any(net.subnet_of(r) for r in PRIVATE_RANGES):
        raise ValueError(f"a private range inside {', '.join(map(str, PRIVATE_RANGES))} (not public, "
                         "loopback, multicast or 0.0.0.0/0)")
    return value


def dns_subdomain(value: str) -> str:
    """A DNS-1123 subdomain: Kubernetes object names, ingress hosts."""
    labels = value.split(".")
    if len(value) > DNS_SUBDOMAIN_MAX or not all(DNS_LABEL.fullmatch(label) for label in labels):
        raise ValueError("a DNS name: lowercase labels of 1-63 letters, digits and '-' joined by dots, "
                         f"at most {DNS_SUBDOMAIN_MAX} characters")
    return value


def url_path(value: str) -> str:
    """An HTTP path prefix: starts with '/', no '..' or '.' segments, no spaces or query."""
    if not value.startswith("/") or any(seg in (".", "..") for seg in value.split("/")) or re.search(r"[\s?#]", value):
        raise ValueError("a path starting with '/', without '.' or '..' segments, spaces, '?' or '#'")
    return value


def env_keys(value: dict[str, str]) -> dict[str, str]:
    """Names of letters, digits and '_', not starting with a digit."""
    bad = [k for k in value if not ENV_KEY.fullmatch(k)]
    if bad:
        raise ValueError(f"environment variable names of letters, digits and '_', not starting with a digit: {bad}")
    return value


def image(value: str) -> str:
    """An image reference registry/path[:tag][@sha256:digest], at most 255 characters."""
    if not IMAGE_REF.fullmatch(value) or len(value) > 255:
        raise ValueError("an image reference registry/path[:tag][@sha256:digest] (lowercase path, tag <= 128)")
    return value


def _not_in(reserved: frozenset[str], what: str) -> typing.Callable[[str], str]:
    def check(value: str) -> str:
        if value in reserved:
            raise ValueError(f"{what} of its own, not one of {', '.join(sorted(reserved))}")
        return value

    check.__doc__ = f"not {', '.join(sorted(reserved))}"

    return check


database_name = _not_in(RESERVED_DATABASE_NAMES, "a database name")
role_name = _not_in(RESERVED_ROLES, "a role name")
app_namespace = _not_in(RESERVED_NAMESPACES, "a namespace")
