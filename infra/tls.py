"""Which region serves which Ingress host, and the TLS rules that follow from it (pure).

A service's route has one ``host`` for every region, or a region's own in ``regionHosts`` (seed 003: the
Korean region serves koto-kr.com, the Indonesian one koto-id.com). Each region's Ingresses and
certificates carry that region's hosts only (``infra/stack.py``).

The rule that matters: ACME HTTP-01 is validated by a request to ``http://<host>/.well-known/...``,
which reaches the one region the host's DNS answer points at (letsencrypt.org/docs/challenge-types).
When two active regions serve the same host, both clusters order a certificate for it; the other
region's challenge is never reached, its order fails and its retries count against Let's Encrypt's
failed-validation limit (5 an hour per account and host: letsencrypt.org/docs/rate-limits). Such a
host needs DNS-01 (``cluster.dnsZone``), which does not depend on where the host points.
"""

from __future__ import annotations

from components.cluster import tls_plan
from components.problems import Problem
from infra.config import IngressRoute, StackConfig, Target

P = "phasescale:"


def route_host(route: IngressRoute, region: str) -> str | None:
    """The host of ``route`` in ``region``: its own from ``regionHosts``, else ``host``."""
    return route.region_hosts.get(region, route.host)


def certificate_hosts(stack: StackConfig, region: str) -> list[str]:
    """The service hosts ``region`` orders a cert-manager certificate for (routes without an own
    ``tlsSecret``), distinct, in the services' order."""
    routes = [
        (host, svc.ingress.tls_secret)
        for svc in stack.services.values()
        if svc.ingress is not None and (host := route_host(svc.ingress, region)) is not None
    ]
    return tls_plan.hosts(routes)


def served_by(stack: StackConfig, regions: list[str]) -> dict[str, list[str]]:
    """Each host a certificate is ordered for -> the ``regions`` that order it (Grafana's host is served
    by every region that runs the monitoring part)."""
    out: dict[str, list[str]] = {}
    for region in regions:
        hosts = certificate_hosts(stack, region)
        if stack.parts.monitoring and stack.monitoring.grafana_host is not None:
            hosts.append(stack.monitoring.grafana_host)
        for host in dict.fromkeys(hosts):
            out.setdefault(host, []).append(region)
    return out


def problems(stack: StackConfig, active_regions: list[str] | None) -> list[Problem]:
    """Region hosts name known regions and leave no region without a host; the DNS zone fits the
    target; a host several active regions serve is in the DNS zone. ``active_regions`` is None when
    the phase is invalid (the rules over active regions are skipped)."""
    found = _route_problems(stack) + _zone_problems(stack)
    if active_regions is None or not stack.cluster.acme_email or found:
        return found  # no issuer (no certificates), or hosts that are not settled yet
    zone = stack.cluster.dns_zone
    for host, regions in served_by(stack, active_regions).items():
        if len(regions) < 2:
            continue
        both = " and ".join(regions)
        served = {"host": host, "regions": regions}
        if zone is None:
            how = ("set phasescale:cluster.dnsZone (domain, and managedZone on gke / route53HostedZoneId on eks) so "
                   "cert-manager solves DNS-01" if stack.cluster.target is not Target.EXISTING else
                   "DNS-01 needs gke or eks: give each region its own host (ingress.regionHosts) or an own tlsSecret")
            found.append(Problem(f"{P}cluster.dnsZone", served,
                                 f"a DNS zone for {host}: regions {both} both serve it and order its certificate, and "
                                 f"an HTTP-01 challenge reaches only the region its DNS points at; {how}"))
        elif not tls_plan.in_zone(host, zone.domain):
            found.append(Problem(f"{P}cluster.dnsZone.domain", zone.domain,
                                 f"a zone that holds {host} (regions {both} both serve it, so it needs DNS-01), or a "
                                 "host per region (ingress.regionHosts)"))
    return found


def _route_problems(stack: StackConfig) -> list[Problem]:
    found = []
    regions = list(stack.regions)
    for name, svc in stack.services.items():
        if svc.ingress is None:
            continue
        path = f"{P}services.{name}.ingress"
        for key in svc.ingress.region_hosts:
            if key not in stack.regions:
                found.append(Problem(f"{path}.regionHosts.{key}", key,
                                     f"a region of phasescale:regions: {', '.join(regions)}"))
        missing = [r for r in regions if route_host(svc.ingress, r) is None]
        if missing:
            found.append(Problem(f"{path}.host", None,
                                 f"a host for every region: regions {', '.join(missing)} have none in regionHosts"))
    return found


def _zone_problems(stack: StackConfig) -> list[Problem]:
    zone, target = stack.cluster.dns_zone, stack.cluster.target
    if zone is None:
        return []
    path = f"{P}cluster.dnsZone"
    if target is Target.EXISTING:
        return [Problem(path, zone.domain, "only for cluster.target gke or eks (cert-manager gets a cloud identity "
                                           "there); remove it")]
    found = []
    own, other = ("managedZone", "route53HostedZoneId") if target is Target.GKE else ("route53HostedZoneId", "managedZone")
    values = {"managedZone": zone.managed_zone, "route53HostedZoneId": zone.route53_hosted_zone_id}
    if values[own] is None:
        found.append(Problem(f"{path}.{own}", None, f"required for cluster.target {target.value}"))
    if values[other] is not None:
        found.append(Problem(f"{path}.{other}", values[other], f"not for cluster.target {target.value}; remove it"))
    if target is Target.EKS and zone.gcp_project is not None:
        found.append(Problem(f"{path}.gcpProject", zone.gcp_project, "not for cluster.target eks; remove it"))
    return found
