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
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CERT_MANAGER_API = "cert-manager.io/v1"
CLUSTER_ISSUER = "letsencrypt"
LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"


def cluster_issuer_spec(email: str, ingress_class: str) -> dict[str, Any]:
    return {
        "acme": {
            "server": LETSENCRYPT_PRODUCTION,
            "email": email,
            "privateKeySecretRef": {"name": "letsencrypt-account-key"},
            "solvers": [{"http01": {"ingress": {"ingressClassName": ingress_class}}}],
        }
    }


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
