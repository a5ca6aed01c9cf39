"""The control plane reaches every webhook and APIService the plan installs (GKE firewall)."""

from __future__ import annotations

import pytest

from components.cluster import webhooks as wh
from components.versions import CHARTS
from infra.charts import webhook_charts, webhook_ports
from tests.planning import PHASES, STACKS, plan_of

FIREWALL = "gcp:compute/firewall:Firewall"


def _installed(plan, cluster: str) -> set[str]:  # type: ignore[no-untyped-def]
    keys = {wh.chart_key(rel["chart"], rel["version"]) for c, rel in plan.helm_releases() if c == cluster}
    assert None not in keys, "a release of a chart that components/versions.py does not pin"
    return {k for k in keys if k is not None}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("phase", PHASES)
def test_every_installed_webhook_port_is_reachable_from_the_control_plane(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    target = plan.settings.stack.cluster.target.value
    for region in plan.settings.active_regions:
        installed = _installed(plan, f"{region}-k8s")
        with_ports = {k for k in installed if CHARTS[k].control_plane_ports}
        assert with_ports == set(webhook_charts(plan.settings)), (stack, phase, region)
        if target != "gke":
            assert not plan.of_type(FIREWALL)  # EKS: the cluster security group admits the control plane
            continue
        rule = plan.named(FIREWALL, f"{stack}-{region}-control-plane").inputs
        opened = [int(p) for allow in rule["allows"] for p in allow["ports"]]
        assert wh.unreachable(installed, [*wh.GKE_MASTER_OPEN_PORTS, *opened], "p") == []
        assert opened == list(wh.control_plane_ports(installed))  # exactly those, nothing more
        assert rule["direction"] == "INGRESS" and rule["targetServiceAccounts"] == [
            f"{stack}-{region}-nodes@mock.iam.gserviceaccount.com"]
        master = plan.named("gcp:container/cluster:Cluster", f"{stack}-{region}").inputs["privateClusterConfig"]
        assert rule["sourceRanges"] == [master["masterIpv4CidrBlock"]]


def test_prod_opens_cnpg_and_keda_ports() -> None:
    plan = plan_of("prod", 2)
    assert webhook_ports(plan.settings) == (6443, 9443, 10250)


def test_a_cluster_with_only_gkes_own_rule_cannot_reach_cnpg_or_keda() -> None:
    problems = wh.unreachable(["cloudnative-pg", "keda", "cert-manager"], wh.GKE_MASTER_OPEN_PORTS, "x")
    assert [(p.value["chart"], p.value["ports"]) for p in problems] == [("cloudnative-pg", [9443]), ("keda", [6443, 9443])]
    assert wh.unreachable(["cert-manager", "kube-prometheus-stack"], wh.GKE_MASTER_OPEN_PORTS, "x") == []


def test_ports_come_from_the_chart_pins() -> None:
    assert CHARTS["keda"].control_plane_ports == (6443, 9443)
    assert CHARTS["cloudnative-pg"].control_plane_ports == (9443,)
    assert wh.control_plane_ports([]) == ()
    assert wh.chart_key("kubernetes-ingress", CHARTS["haproxy-ingress"].version) == "haproxy-ingress"
