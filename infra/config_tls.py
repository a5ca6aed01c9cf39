"""The config of the DNS zone that ACME DNS-01 challenges are solved in (``cluster.dnsZone``).

Checked beside the hosts it serves by ``infra/tls.py``; the ClusterIssuer's solver and the identity
cert-manager writes the zone with are in ``components/cluster/tls_plan.py``.
"""

from __future__ import annotations

from pydantic import Field

from infra.config_base import DnsName, Model


class DnsZone(Model):
    """A public DNS zone cert-manager may write ``_acme-challenge`` TXT records into (ACME DNS-01)."""

    domain: DnsName = Field(
        description="The zone's DNS name, e.g. example.com. Every Ingress host in it (the name or below) is "
        "issued over DNS-01, which works whichever region the host's DNS answer points at; hosts outside it "
        "over HTTP-01. A host two active regions serve must be in it.",
    )
    # cloud.google.com/resource-manager/docs/creating-managing-projects: 6-30 characters, lowercase letters,
    # digits and hyphens, a letter first, no trailing hyphen.
    gcp_project: str | None = Field(
        default=None,
        pattern=r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$",
        description="gke: the project of the Cloud DNS managed zone (roles/dns.admin is granted there); "
        "default cluster.gcpProject.",
    )
    # Cloud DNS ManagedZone.name (cloud.google.com/dns/docs/reference/rest/v1/managedZones): 1-63 characters,
    # a letter first, a letter or digit last, lowercase letters, digits and dashes.
    managed_zone: str | None = Field(
        default=None,
        pattern=r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="gke (required there): the name of the public Cloud DNS managed zone of domain "
        "(gcloud dns managed-zones list).",
    )
    # Route 53 API reference, HostedZone.Id: "Maximum length of 32"; the console shows ids such as Z1D633PJN98FT9.
    route53_hosted_zone_id: str | None = Field(
        default=None,
        pattern=r"^[A-Z0-9]{1,32}$",
        description="eks (required there): the id of the public Route53 hosted zone of domain (without "
        "/hostedzone/); cert-manager may change only TXT records of this zone.",
    )
