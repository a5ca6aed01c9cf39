"""Cluster add-ons: cert-manager, the ACME issuer and per-host certificates; the EKS autoscaler, the
NLB of the ingress, production protection; the config rules of the cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.cluster import tls_plan
from components.cluster.addons import EXPANDER_PRIORITIES, NLB_SERVICE_ANNOTATIONS
from components.problems import ConfigError
from components.versions import CLUSTER_AUTOSCALER_TAGS
from infra import plan as planner
from tests.planning import k8s_objects, plan_of, write_stack

CERT = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"


def _releases(stack: str, phase: int, cluster: str = "seoul-k8s") -> dict[str, dict]:  # type: ignore[type-arg]
    return {rel["name"]: rel for c, rel in plan_of(stack, phase).helm_releases() if c == cluster}


@pytest.mark.parametrize("stack", ["prod", "prod-aws", "dev"])
def test_cert_manager_is_an_addon_wherever_an_ingress_exists(stack: str) -> None:
    region = plan_of(stack, 1).settings.active_regions[0]
    rel = _releases(stack, 1, f"{region}-k8s")["cert-manager"]
    # the same release name, namespace and CRD values as when the postgres part installed it (aliased, no
    # replace); the prod stacks' DNS zone adds the ServiceAccount's cloud identity (tests/cluster/test_tls.py)
    assert (rel["namespace"], rel["values"]["crds"]) == ("cert-manager", {"enabled": True})
    assert ("serviceAccount" in rel["values"]) is (stack != "dev")
    (record,) = [r for r in plan_of(stack, 1).of_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "cert-manager"]
    assert (record.name, record.parent) == (f"{region}-addons-cert-manager", f"phasescale:components:ClusterAddons::{region}-addons")


def test_one_certificate_per_host_and_every_ingress_uses_its_hosts_secret() -> None:
    plan = plan_of("prod", 2)
    certs = {r.name: r.inputs for r in plan.of_type(CERT)}
    assert sorted(certs) == ["seoul-admin-erp-example-com-cert", "seoul-api-erp-example-com-cert"]
    api = certs["seoul-api-erp-example-com-cert"]
    assert api["spec"]["dnsNames"] == ["api.erp.example.com"]
    assert api["spec"]["secretName"] == api["metadata"]["name"] == "api-erp-example-com-tls"
    assert api["spec"]["issuerRef"] == {"name": "letsencrypt", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    for name, ing in k8s_objects(plan, "Ingress").items():
        (tls,) = ing["spec"]["tls"]
        assert tls["secretName"] == tls_plan.host_secret(tls["hosts"][0]), name
    issuer = plan.named(ISSUER, "seoul-addons-letsencrypt").inputs["spec"]["acme"]
    assert issuer["server"] == "https://acme-v02.api.letsencrypt.org/directory"
    assert issuer["email"] == "platform-team@example.com"
    assert issuer["solvers"][0] == {"http01": {"ingress": {"ingressClassName": "haproxy"}}}  # + DNS-01: test_tls.py


def test_development_without_an_acme_email_gets_no_issuer() -> None:
    plan = plan_of("dev", 1)
    assert not plan.of_type(ISSUER) and not plan.of_type(CERT)


def test_hosts_are_distinct_and_skip_routes_with_their_own_secret() -> None:
    assert tls_plan.hosts([("a.x", None), ("a.x", None), ("b.x", "mine"), ("c.x", None)]) == ["a.x", "c.x"]


def test_eks_autoscaler_has_priorities_and_matches_the_cluster_minor() -> None:
    values = _releases("prod-aws", 3)["cluster-autoscaler"]["values"]
    assert values["extraArgs"]["expander"] == "priority,least-waste"
    assert values["expanderPriorities"] == EXPANDER_PRIORITIES == {"50": ["^eks-gpu-spot-.*"], "10": [".*"]}
    assert values["image"]["tag"] == CLUSTER_AUTOSCALER_TAGS["1.35"] == "v1.35.2"


def test_the_eks_ingress_gets_an_nlb_and_gke_keeps_its_default() -> None:
    eks = _releases("prod-aws", 1)["haproxy-ingress"]["values"]["controller"]["service"]
    assert eks == {"type": "LoadBalancer", "annotations": NLB_SERVICE_ANNOTATIONS}
    assert _releases("prod", 1)["haproxy-ingress"]["values"]["controller"]["service"] == {"type": "LoadBalancer"}


def test_production_protects_the_eks_cluster_and_its_kms_key() -> None:
    plan = plan_of("prod-aws", 1)
    assert plan.named("aws:eks/cluster:Cluster", "prod-aws-seoul").protect
    assert plan.named("aws:kms/key:Key", "prod-aws-seoul-secrets").protect


def _problems(tmp_path: Path, target: str, environment: str = "production", **config: object) -> list[str]:
    write_stack(tmp_path, target, 1, environment, **config)
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=tmp_path)
    return [f"{p.path}={p.value}" for p in err.value.problems]


@pytest.mark.parametrize("cidr", ["0.0.0.0/0", "::/0"])
def test_production_refuses_an_api_open_to_everyone(tmp_path: Path, cidr: str) -> None:
    write_stack(tmp_path, "eks", 1, "production")
    text = (tmp_path / "Pulumi.t.yaml").read_text().replace("203.0.113.0/24", cidr)
    (tmp_path / "Pulumi.t.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=tmp_path)
    # ::/0 is not an IPv4 CIDR, which the API allow-lists of both clouds take: refused by its syntax first.
    path = "phasescale:cluster.apiAllowedCidrs" + (".0" if ":" in cidr else "")
    assert [(p.path, p.value) for p in err.value.problems] == [(path, cidr)]


def test_an_ingress_in_production_needs_the_acme_email(tmp_path: Path) -> None:
    write_stack(tmp_path, "gke", 1, "production",
                services={"api": {"image": "r/api:1", "callers": ["ingress"], "ingress": {"host": "a.example.com"}}})
    text = (tmp_path / "Pulumi.t.yaml").read_text().replace("acmeEmail: ops@example.com", "")
    (tmp_path / "Pulumi.t.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=tmp_path)
    assert [p.path for p in err.value.problems] == ["phasescale:cluster.acmeEmail"]


def test_eks_refuses_a_minor_out_of_standard_support(tmp_path: Path) -> None:
    write_stack(tmp_path, "eks", 1, "production")
    text = (tmp_path / "Pulumi.t.yaml").read_text().replace("target: eks", "target: eks\n    kubernetesVersion: '1.33'")
    (tmp_path / "Pulumi.t.yaml").write_text(text)
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=tmp_path)
    (problem,) = err.value.problems
    assert (problem.path, problem.value) == ("phasescale:cluster.kubernetesVersion", "1.33")
    assert "1.34, 1.35, 1.36" in problem.expected


def test_the_moved_cert_manager_release_aliases_its_old_top_level_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Existing stacks had `<region>-cert-manager` at the top level (postgres part): the alias keeps
    that URN, so `pulumi up` updates the release in place instead of replacing it (and its CRDs)."""
    specs: dict[str, list[tuple[str, bool]]] = {}
    register = planner._RecordingMonitor.RegisterResource

    def spy(self: planner._RecordingMonitor, request: Any) -> Any:
        if request.type == "kubernetes:helm.sh/v3:Release":
            specs[request.name] = [(a.spec.name, a.spec.noParent) for a in request.aliases]
        return register(self, request)

    monkeypatch.setattr(planner._RecordingMonitor, "RegisterResource", spy)
    planner.run("prod", 4)
    assert specs["seoul-addons-cert-manager"] == [("seoul-cert-manager", True)]
    assert specs["tokyo-addons-cert-manager"] == [("tokyo-cert-manager", True)]
