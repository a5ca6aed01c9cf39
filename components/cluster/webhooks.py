"""Which ports the Kubernetes control plane must reach on the nodes (pure).

Admission webhooks and aggregated APIServices are called by the API server itself. On GKE private
clusters the control plane reaches nodes and pods only on TCP 443 and 10250 unless a firewall rule
opens more ("By default, firewall rules restrict your cluster control plane to only initiate TCP
connections to your nodes and Pods on ports 443 (HTTPS) and 10250 (kubelet)": GKE docs, Private
clusters, "Adding firewall rules for specific use cases"). EKS needs no rule: the cluster security
group lets the control plane and managed node groups talk on every port (EKS docs, "View Amazon EKS
security group requirements for clusters").

Each chart pin in :mod:`components.versions` records the ports its webhooks / APIServices listen on
(``Chart.control_plane_ports``); this module turns the set of charts a cluster installs into the
ports to open, and checks that a cluster's open ports cover them.
"""

from __future__ import annotations

from collections.abc import Iterable

from components.problems import Problem
from components.versions import CHARTS

GKE_MASTER_OPEN_PORTS = (443, 10250)
"""What GKE's own ``gke-<cluster>-<id>-master`` rule opens from the control-plane range."""


def control_plane_ports(chart_keys: Iterable[str]) -> tuple[int, ...]:
    """The sorted union of the control-plane ports of ``chart_keys`` (keys of ``CHARTS``)."""
    return tuple(sorted({port for key in chart_keys for port in CHARTS[key].control_plane_ports}))


def chart_key(chart: str, version: str) -> str | None:
    """The ``CHARTS`` key of a Helm release's chart name and version, if it is one of ours."""
    for key, pin in CHARTS.items():
        if (pin.name, pin.version) == (chart, version):
            return key
    return None


def unreachable(chart_keys: Iterable[str], open_ports: Iterable[int], path: str) -> list[Problem]:
    """One problem per installed chart whose webhook / APIService ports are not all open."""
    opened = set(open_ports)
    problems = []
    for key in sorted(set(chart_keys)):
        missing = sorted(set(CHARTS[key].control_plane_ports) - opened)
        if missing:
            problems.append(
                Problem(path, {"chart": key, "ports": missing},
                        f"the control plane must reach these webhook/APIService ports; open: {sorted(opened)}")
            )
    return problems
