"""TLS across regions: per-region ingress hosts, DNS-01 for hosts several regions serve (Cloud DNS with
Workload Identity on GKE, Route53 with IRSA on EKS), and the config rules that keep HTTP-01 from
racing between regions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.cluster import tls_plan
from components.problems import ConfigError
from components.versions import CHARTS
from infra import plan as planner
from infra.config_tls import DnsZone
from infra.load import load
from tests.planning import ROOT, k8s_objects, plan_of

CERT = "kubernetes:cert-manager.io/v1:Certificate"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
HTTP01 = {"http01": {"ingress": {"ingressClassName": "haproxy"}}}


def test_the_issuer_keeps_http01_as_default_and_adds_dns01_for_the_zone() -> None:
    assert tls_plan.cluster_issuer_spec("a@b.c", "haproxy")["acme"]["solvers"] == [HTTP01]
    dns01 = tls_plan.cloud_dns_solver("dns-proj", "example-com")
    assert tls_plan.cluster_issuer_spec("a@b.c", "haproxy", dns01, "example.com")["acme"]["solvers"] == [
        HTTP01,
        {"selector": {"dnsZones": ["example.com"]}, "dns01": {"cloudDNS": {"project": "dns-proj", "hostedZoneName": "example-com"}}},
    ]


@pytest.mark.parametrize(("host", "zone", "inside"), [
    ("example.com", "example.com", True),
    ("api.erp.example.com", "example.com", True),
    ("badexample.com", "example.com", False),  # a suffix is not a zone: cert-manager compares whole labels
    ("example.com", "erp.example.com", False),
])
def test_a_host_is_in_a_zone_by_whole_labels(host: str, zone: str, inside: bool) -> None:
    assert tls_plan.in_zone(host, zone) is inside


def test_route53_policy_is_the_guides_tightened_to_one_zone_and_txt_records() -> None:
    assert json.loads(tls_plan.route53_policy("Z1D633PJN98FT9")) == {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"},
            {
                "Effect": "Allow",
                "Action": ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"],
                "Resource": "arn:aws:route53:::hostedzone/Z1D633PJN98FT9",
                "Condition": {"ForAllValues:StringEquals": {"route53:ChangeResourceRecordSetsRecordTypes": ["TXT"]}},
            },
        ],
    }


def test_prod_gke_phase_4_solves_dns01_in_cloud_dns_with_workload_identity() -> None:
    plan = plan_of("prod", 4)
    for region in ("seoul", "tokyo"):
        cluster = f"prod-{region}"
        solvers = plan.named(ISSUER, f"{region}-addons-letsencrypt").inputs["spec"]["acme"]["solvers"]
        assert solvers == [HTTP01, {"selector": {"dnsZones": ["erp.example.com"]}, "dns01": {
            "cloudDNS": {"project": "phasescale-prod", "hostedZoneName": "erp-example-com"}}}]
        gsa = plan.named("gcp:serviceaccount/account:Account", f"{cluster}-cert-manager")
        assert (gsa.inputs["accountId"], gsa.parent) == (f"dns01-{cluster}", f"phasescale:components:GkeCluster::{cluster}")
        wi = plan.named("gcp:serviceaccount/iAMMember:IAMMember", f"{cluster}-cert-manager-wi").inputs
        assert wi == {"serviceAccountId": f"{cluster}-cert-manager", "role": "roles/iam.workloadIdentityUser",
                      "member": "serviceAccount:phasescale-prod.svc.id.goog[cert-manager/cert-manager]"}
        admin = plan.named("gcp:projects/iAMMember:IAMMember", f"{cluster}-cert-manager-dns-admin").inputs
        assert admin == {"project": "phasescale-prod", "role": "roles/dns.admin",
                         "member": f"serviceAccount:{cluster}-cert-manager@mock.iam.gserviceaccount.com"}
        (release,) = [r for c, r in plan.helm_releases() if c == f"{region}-k8s" and r["name"] == "cert-manager"]
        email = f"{cluster}-cert-manager@mock.iam.gserviceaccount.com"
        assert release["values"] == {"crds": {"enabled": True}, "serviceAccount": {"annotations": {
            "iam.gke.io/gcp-service-account": email}}, "podAnnotations": {"phasescale.io/gcp-service-account": email}}


def test_prod_aws_phase_4_solves_dns01_in_route53_with_irsa() -> None:
    plan = plan_of("prod-aws", 4)
    for region in ("seoul", "tokyo"):
        cluster = f"prod-aws-{region}"
        solvers = plan.named(ISSUER, f"{region}-addons-letsencrypt").inputs["spec"]["acme"]["solvers"]
        assert solvers == [HTTP01, {"selector": {"dnsZones": ["example.com"]}, "dns01": {
            "route53": {"hostedZoneID": "Z1D633PJN98FT9"}}}]
        policy = plan.named("aws:iam/policy:Policy", f"{cluster}-cert-manager-route53")
        assert policy.inputs["policy"] == tls_plan.route53_policy("Z1D633PJN98FT9")
        assert policy.provider == f"{region}-aws"  # the region's AWS provider
        trust = json.loads(plan.named("aws:iam/role:Role", f"{cluster}-cert-manager").inputs["assumeRolePolicy"])
        (condition,) = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
        assert condition[f"oidc.eks.example.invalid/id/{cluster}:sub"] == "system:serviceaccount:cert-manager:cert-manager"
        attached = plan.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"{cluster}-cert-manager-0").inputs
        assert attached == {"role": f"{cluster}-cert-manager", "policyArn": f"arn:aws:mock:::{cluster}-cert-manager-route53"}
        (release,) = [r for c, r in plan.helm_releases() if c == f"{region}-k8s" and r["name"] == "cert-manager"]
        assert release["values"]["serviceAccount"] == {"annotations": {
            "eks.amazonaws.com/role-arn": f"arn:aws:mock:::{cluster}-cert-manager"}}
        # A running cert-manager never sees a new IRSA annotation: the pods roll with it.
        assert release["values"]["podAnnotations"] == {"phasescale.io/role-arn": f"arn:aws:mock:::{cluster}-cert-manager"}


def _doc(target: str = "existing", phase: int = 4, zone: dict[str, Any] | None = None,
         **services: dict[str, Any]) -> dict[str, Any]:
    """Two regions (seoul, jakarta) with an ACME e-mail and only the services: the quickest plan."""
    locations = {"gke": ("asia-northeast3", "asia-southeast2"), "eks": ("ap-northeast-2", "ap-southeast-3"),
                 "existing": ("local", "local")}[target]
    cluster: dict[str, Any] = {"target": target, "acmeEmail": "ops@example.com"}
    regions: dict[str, Any] = {
        "seoul": {"location": locations[0]},
        "jakarta": {"location": locations[1], "vpcCidr": "10.20.0.0/16"},
    }
    if target == "gke":
        cluster["gcpProject"] = "proj"
    if target == "existing":
        regions["seoul"]["kubeContext"], regions["jakarta"]["kubeContext"] = "kind-kr", "kind-id"
    else:
        cluster["apiAllowedCidrs"] = ["203.0.113.0/24"]
    if zone is not None:
        cluster["dnsZone"] = zone
    doc = {
        "phasescale:phase": phase,
        "phasescale:cluster": cluster,
        "phasescale:regions": regions,
        "phasescale:parts": {"postgres": False, "redis": False, "monitoring": False, "cdn": False},
        "phasescale:services": {name: {"image": "r/app:1", "callers": ["ingress"], **svc} for name, svc in services.items()},
    }
    return doc


def _stack(tmp_path: Path, target: str = "existing", phase: int = 4, zone: dict[str, Any] | None = None,
           **services: dict[str, Any]) -> Path:
    (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump({"config": _doc(target, phase, zone, **services)}, sort_keys=False))
    return tmp_path


def test_each_region_serves_its_own_hosts_with_its_own_certificates(tmp_path: Path) -> None:
    """Seed 003: Korea serves koto-kr.com, Indonesia koto-id.com; a host only one region serves stays on
    HTTP-01, so no DNS zone is needed."""
    own = {"ingress": {"regionHosts": {"seoul": "api.koto-kr.com", "jakarta": "api.koto-id.com"}}}
    web = {"ingress": {"host": "www.koto.com", "tlsSecret": "koto-www", "regionHosts": {"jakarta": "www.koto-id.com"}}}
    plan = planner.run("t", root=_stack(tmp_path, api=own, web=web))
    certs = {(r.provider, r.inputs["spec"]["dnsNames"][0]) for r in plan.of_type(CERT)}
    # web's own tlsSecret: no Certificate for www.koto.com; jakarta's www.koto-id.com uses the same own secret
    assert certs == {("seoul-k8s", "api.koto-kr.com"), ("jakarta-k8s", "api.koto-id.com")}
    hosts = {name: [(rule["host"], tls["secretName"]) for rule, tls in zip(ing["spec"]["rules"], ing["spec"]["tls"],
                                                                               strict=True)]
             for name, ing in k8s_objects(plan, "Ingress").items()}
    assert hosts == {
        "seoul-k8s/api": [("api.koto-kr.com", "api-koto-kr-com-tls")],
        "jakarta-k8s/api": [("api.koto-id.com", "api-koto-id-com-tls")],
        "seoul-k8s/web": [("www.koto.com", "koto-www")],
        "jakarta-k8s/web": [("www.koto-id.com", "koto-www")],
    }
    issuers = [r.inputs["spec"]["acme"]["solvers"] for r in plan.of_type(ISSUER)]
    assert issuers == [[HTTP01], [HTTP01]]


API = {"ingress": {"host": "api.example.com"}}
GKE_ZONE = {"domain": "example.com", "managedZone": "example-com"}


@pytest.mark.parametrize(("target", "zone", "services", "expected"), [
    # both regions would order api.example.com over HTTP-01: the key to set, the host, both regions
    ("gke", None, {"api": API}, [("phasescale:cluster.dnsZone", {"host": "api.example.com", "regions": ["seoul", "jakarta"]},
                                  "regions seoul and jakarta both serve it")]),
    ("existing", None, {"api": API}, [("phasescale:cluster.dnsZone", {"host": "api.example.com", "regions": ["seoul", "jakarta"]},
                                       "DNS-01 needs gke or eks")]),
    ("gke", {"domain": "other.com", "managedZone": "other-com"}, {"api": API},
     [("phasescale:cluster.dnsZone.domain", "other.com", "a zone that holds api.example.com")]),
    ("gke", {"domain": "example.com"}, {"api": API}, [("phasescale:cluster.dnsZone.managedZone", None, "required for")]),
    ("gke", {**GKE_ZONE, "route53HostedZoneId": "Z1"}, {"api": API},
     [("phasescale:cluster.dnsZone.route53HostedZoneId", "Z1", "not for cluster.target gke")]),
    ("existing", GKE_ZONE, {"api": API}, [("phasescale:cluster.dnsZone", "example.com", "only for cluster.target gke or eks")]),
    ("eks", {**GKE_ZONE, "gcpProject": "dns-project"}, {"api": API}, [
        ("phasescale:cluster.dnsZone.gcpProject", "dns-project", "not for cluster.target eks"),
        ("phasescale:cluster.dnsZone.managedZone", "example-com", "not for cluster.target eks"),
        ("phasescale:cluster.dnsZone.route53HostedZoneId", None, "required for cluster.target eks"),
    ]),
    ("eks", {"domain": "example.com", "route53HostedZoneId": "/hostedzone/Z1"}, {"api": API},
     [("phasescale:cluster.dnsZone.route53HostedZoneId", "/hostedzone/Z1", "^[A-Z0-9]{1,32}$")]),
    ("gke", GKE_ZONE, {"api": {"ingress": {"regionHosts": {"seoul": "api.example.com", "tokyo": "api.example.jp"}}}}, [
        ("phasescale:services.api.ingress.host", None, "regions jakarta have none in regionHosts"),
        ("phasescale:services.api.ingress.regionHosts.tokyo", "tokyo", "a region of phasescale:regions: seoul, jakarta"),
    ]),
    ("gke", GKE_ZONE, {"api": {"ingress": {"host": "api.example.com", "regionHosts": {"jakarta": "id.example.com"}}},
                       "web": {"ingress": {"host": "www.example.com", "regionHosts": {"jakarta": "id.example.com"}}}},
     [("phasescale:services.web.ingress", "id.example.com/", "services.api already routes it")]),
])
def test_tls_config_that_cannot_work_is_refused_with_the_key_to_set(
    tmp_path: Path, target: str, zone: dict[str, Any] | None, services: dict[str, Any],
    expected: list[tuple[str, object, str]],
) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", root=_stack(tmp_path, target, zone=zone, **services))
    got = [(p.path, p.value, p.expected) for p in err.value.problems]
    assert [(path, value) for path, value, _ in got] == [(path, value) for path, value, _ in expected]
    for (_, _, text), (_, _, part) in zip(got, expected, strict=True):
        assert part in text


@pytest.mark.parametrize(("phase", "zone"), [(3, None), (4, GKE_ZONE)])
def test_a_shared_host_is_fine_below_the_multi_region_phase_or_with_a_zone(phase: int, zone: dict[str, Any] | None) -> None:
    settings = load(_doc("gke", phase, zone, api=API), frozenset(), "t")
    assert settings.stack.cluster.dns_zone == (None if zone is None else DnsZone.model_validate(zone))


def test_the_dns01_service_accounts_of_two_regions_must_not_meet_after_truncation() -> None:
    with pytest.raises(ConfigError) as err:
        load(_doc("gke", 4, GKE_ZONE, api=API), frozenset(), "abcdefghijklmnopqrstuvw")
    clash = [p for p in err.value.problems if p.value == "dns01-abcdefghijklmnopqrstuvw"]
    assert [p.path for p in clash] == ["phasescale:regions.jakarta"] and "derives the same" in clash[0].expected


@pytest.mark.parametrize(("stack", "phase"), [("prod", 4), ("prod-aws", 4), ("dev", 1)])
def test_cert_manager_values_fit_the_pinned_charts_schema(stack: str, phase: int) -> None:
    """Helm applies the chart's values.schema.json at install (unknown keys refused): a misspelt
    ``serviceAccount.annotation`` would fail `pulumi up`, not the plan."""
    schema = json.loads((ROOT / "validation" / "charts" / "cert-manager-values.schema.json").read_text())
    releases = [r for _, r in plan_of(stack, phase).helm_releases() if r["chart"] == "cert-manager"]
    assert releases and all(r["version"] == CHARTS["cert-manager"].version == "v1.20.3" for r in releases)
    for release in releases:
        jsonschema.validate(release["values"], schema)
    with pytest.raises(jsonschema.ValidationError, match="'annotation' was unexpected"):
        jsonschema.validate({"serviceAccount": {"annotation": {}}}, schema)
