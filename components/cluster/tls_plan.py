"""TLS for Ingresses: one Let's Encrypt ClusterIssuer per cluster and one cert-manager Certificate per
host (pure).

- ACME HTTP-01 (cert-manager docs, "HTTP01"): cert-manager answers the challenge with a temporary
  Ingress of the given ``ingressClassName`` (field available since cert-manager 1.12), so the HAProxy
  controller serves it. Let's Encrypt's production directory; its account key lives in the Secret
  ``letsencrypt-account-key`` of the cert-manager namespace.
  The controller's global ``ssl-redirect`` sends the challenge's plain-HTTP request to HTTPS on the same
  host; Let's Encrypt follows redirects to port 443 without validating the certificate there
  (letsencrypt.org/docs/challenge-types, HTTP-01); the HTTPS hop then has to reach the solver Ingress
  through the controller's HTTPS frontend. Not verified on a live cluster here: if a first issuance
  stays pending, ``kubectl describe challenge`` shows where the request ended.
- One Certificate per host, not per Ingress: several services share a host under different path
  prefixes, and a Certificate per Ingress (cert-manager's ingress-shim) would order the same name once
  per path and hit Let's Encrypt's duplicate-certificate limit (5 a week for the same set of names).
- ACME DNS-01 for the hosts of ``cluster.dnsZone`` (cert-manager docs, "DNS01"; fields from
  pkg/apis/acme/v1/types_issuer.go @ v1.20.3, 1e1d16d1744e6d9c80e464e58e8d9ab1caed222b): a second
  solver with ``selector.dnsZones: [<zone>]``, which cert-manager picks for the zone's name and every
  name below it (pkg/controller/acmeorders/selectors/dns_zones.go: the zone's labels must all match),
  while the selector-less HTTP-01 solver stays "the 'default' solver with the lowest priority" for the
  other hosts. cert-manager writes ``_acme-challenge.<host>`` TXT records with ambient credentials,
  which it uses for ClusterIssuers by default: on GKE Workload Identity (``cloudDNS`` with ``project``
  and no ``serviceAccountSecretRef``: docs configuration/acme/dns01/google.md), on EKS IRSA
  (``route53`` with ``hostedZoneID``; its ``region`` "is ignored" under IRSA: types_issuer.go).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

CERT_MANAGER_API = "cert-manager.io/v1"
CLUSTER_ISSUER = "letsencrypt"
LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


CERT_MANAGER_SERVICE_ACCOUNT = "cert-manager"
"""The controller's ServiceAccount: the chart's ``cert-manager.fullname`` for the release ``cert-manager``
(deploy/charts/cert-manager/templates/_helpers.tpl @ v1.20.3), the subject the cloud identity trusts."""
GKE_DNS_ROLE = "roles/dns.admin"
"""What cert-manager's Cloud DNS guide grants the solver's Google service account on the zone's project."""
WORKLOAD_IDENTITY_ANNOTATION = "iam.gke.io/gcp-service-account"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def cluster_issuer_spec(
    email: str, ingress_class: str, dns01: dict[str, Any] | None = None, dns_zone: str | None = None
) -> dict[str, Any]:
    """The Let's Encrypt issuer: HTTP-01 through ``ingress_class`` for every host, and with ``dns01`` (a
    provider block) DNS-01 for the hosts of ``dns_zone``."""
    solvers: list[dict[str, Any]] = [{"http01": {"ingress": {"ingressClassName": ingress_class}}}]
    if dns01 is not None:
        assert dns_zone is not None
        solvers.append({"selector": {"dnsZones": [dns_zone]}, "dns01": dns01})
    return {
        "acme": {
            "server": LETSENCRYPT_PRODUCTION,
            "email": email,
            "privateKeySecretRef": {"name": "letsencrypt-account-key"},
            "solvers": solvers,
        }
    }


def cloud_dns_solver(project: str, managed_zone: str) -> dict[str, Any]:
    """``dns01.cloudDNS``: the zone's project and name (``hostedZoneName``, so cert-manager does not pick a
    zone on its own); no ``serviceAccountSecretRef``, so it uses Workload Identity."""
    return {"cloudDNS": {"project": project, "hostedZoneName": managed_zone}}


def route53_solver(hosted_zone_id: str) -> dict[str, Any]:
    """``dns01.route53``: only this hosted zone (no ``ListHostedZonesByName`` lookup), IRSA credentials."""
    return {"route53": {"hostedZoneID": hosted_zone_id}}


def route53_policy(hosted_zone_id: str) -> str:
    """The IAM policy of cert-manager's Route53 guide (configuration/acme/dns01/route53.md), tightened as
    it suggests: record changes and listing on this hosted zone only, TXT records only; the change
    status on ``change/*``. ``route53:ListHostedZonesByName`` "can be removed if you specify the
    (optional) hostedZoneID", and cert-manager never calls it then (getHostedZoneID in
    pkg/issuer/acme/dns/route53/route53.go returns the configured id first)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"},
                {
                    "Effect": "Allow",
                    "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
                    "Resource": f"arn:aws:route53:::hostedzone/{hosted_zone_id}",
                    "Condition": {"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}},
                },
            ],
        },
        sort_keys=True,
    )


def in_zone(host: str, zone: str) -> bool:
    """Whether ``host`` is ``zone`` or a name below it (what the ``dnsZones`` selector matches)."""
    return host == zone or host.endswith(f".{zone}")


def host_secret(host: str) -> str:
    """The TLS Secret of a host: ``api.erp.example.com`` -> ``api-erp-example-com-tls``."""
    return f"{host.replace('.', '-')}-tls"[:253]


def certificate_spec(host: str, secret: str) -> dict[str, Any]:
    return {
        "secretName": secret,
        "dnsNames": [host],
        "issuerRef": {"name": CLUSTER_ISSUER, "kind": "ClusterIssuer", "group": "cert-manager.io"},
        "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
    }


def hosts(routes: Iterable[tuple[str, str | None]]) -> list[str]:
    """Distinct hosts, in order, of ``(host, own tls secret)`` routes that use cert-manager (no own secret)."""
    out: list[str] = []
    for host, own_secret in routes:
        if own_secret is None and host not in out:
            out.append(host)
    return out


def dns01_account_id(cluster: str) -> str:
    """The Google service account id of a GKE cluster's DNS-01 solver (6-30 characters, no trailing '-').
    The prefix comes first so that truncating a long cluster name can never make it the nodes' id
    (``<cluster>-nodes``, cut at 30 the same way)."""
    return f"dns01-{cluster}"[:30].rstrip("-")
