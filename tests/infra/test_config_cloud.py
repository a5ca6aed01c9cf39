"""Configs the schema would once accept but the clouds or Kubernetes refuse, or that mean trouble: each
class has a representative bad config (its problem's path, value and what is valid), and valid but
unusual configs keep working."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.problems import ConfigError
from infra import plan as planner
from infra.load import load
from infra.settings import Settings

LOCATION = {"gke": "asia-northeast3", "eks": "ap-northeast-2"}


def stack(tmp_path: Path, target: str = "gke", phase: int = 2, regions: Any = None, **config: Any) -> Path:
    cluster: dict[str, Any] = {"target": target, **({"gcpProject": "proj-123"} if target == "gke" else {})}
    doc = {
        "phasescale:phase": phase,
        "phasescale:cluster": cluster,
        "phasescale:regions": regions or {"seoul": {"location": LOCATION[target]}},
        **{f"phasescale:{k}": v for k, v in config.items()},
    }
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(json.dumps({"config": doc}))  # JSON is YAML
    return path


def resolved(path: Path, name: str = "t") -> Settings:
    raw, secret = planner.read_stack_config(path)
    return load(raw, secret, name)


def refused(path: Path, name: str = "t") -> list[tuple[str, Any, str]]:
    with pytest.raises(ConfigError) as err:
        resolved(path, name)
    return [(p.path, p.value, p.expected) for p in err.value.problems]


def paths(path: Path, name: str = "t") -> list[tuple[str, Any]]:
    return [(p, v) for p, v, _ in refused(path, name)]


# --- CIDRs --------------------------------------------------------------------------------------


def test_api_allowed_cidrs_must_be_cidrs(tmp_path: Path) -> None:
    got = refused(stack(tmp_path, cluster={"target": "gke", "gcpProject": "proj-123",
                                           "apiAllowedCidrs": ["203.0.113.0/24", "office", "198.51.100.7/24"]}))
    assert [(p, v) for p, v, _ in got] == [
        ("phasescale:cluster.apiAllowedCidrs.1", "office"),
        ("phasescale:cluster.apiAllowedCidrs.2", "198.51.100.7/24"),
    ]
    assert got[1][2] == "an IPv4 CIDR such as 10.0.0.0/16 (198.51.100.7/24 has host bits set)"


@pytest.mark.parametrize("cidr", ["8.8.0.0/16", "127.0.0.0/16", "224.0.0.0/16", "0.0.0.0/0"])
def test_vpc_must_be_a_private_range(tmp_path: Path, cidr: str) -> None:
    ((p, v, expected),) = refused(stack(tmp_path, regions={"seoul": {"location": "asia-northeast3", "vpcCidr": cidr}}))
    assert (p, v) == ("phasescale:regions.seoul.vpcCidr", cidr)
    assert expected.startswith("a private range inside 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, 100.64.0.0/10")


def test_eks_vpc_outside_16_to_28(tmp_path: Path) -> None:
    region = {"seoul": {"location": "ap-northeast-2", "vpcCidr": "10.0.0.0/12"}}
    assert paths(stack(tmp_path, "eks", regions=region)) == [("phasescale:regions.seoul.vpcCidr", "10.0.0.0/12")]


def test_overlapping_regions_at_the_multi_region_phase(tmp_path: Path) -> None:
    regions = {"seoul": {"location": "asia-northeast3"}, "tokyo": {"location": "asia-northeast1"}}
    got = refused(stack(tmp_path, phase=4, regions=regions, parts={"cdn": False}))
    assert got == [("phasescale:regions.tokyo.vpcCidr", "10.0.0.0/16",
                    "a range that does not overlap regions.seoul.vpcCidr (10.0.0.0/16): every region is deployed at "
                    "this phase and their VPCs are peered/routed")]
    # Below the multi-region phase only the first region is deployed: the same file is valid.
    assert resolved(stack(tmp_path, phase=3, regions=regions, parts={"cdn": False})).active_regions == ["seoul"]


# --- overrides ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "key", "value"),
    [("services", "maxReplicas", 10**9), ("nodes", "maxNodes", 10**9), ("postgres", "storageGib", 10**9),
     ("postgres", "maxConnections", 10**9), ("monitoring", "retentionDays", 10**9), ("redis", "shards", 10**9),
     ("nodes", "gkeMachineType", "big-box"), ("nodes", "eksInstanceType", "m6i-xlarge")],
)
def test_overrides_have_upper_bounds_and_machine_shapes(tmp_path: Path, part: str, key: str, value: Any) -> None:
    got = paths(stack(tmp_path, overrides={part: {key: value}}))
    assert got == [(f"phasescale:overrides.{part}.{key}", value)]


def test_min_above_max_in_catalog_rows(tmp_path: Path) -> None:
    got = refused(stack(tmp_path, overrides={"nodes": {"minNodes": 5, "maxNodes": 2},
                                             "cdn": {"defaultTtlS": 90000, "maxTtlS": 3600}}))
    assert [(p, e) for p, _, e in got] == [
        ("phasescale:overrides.cdn", "defaultTtlS (90000) must not be above maxTtlS (3600)"),
        ("phasescale:overrides.nodes", "minNodes (5) must not be above maxNodes (2)"),
    ]


def test_memorystore_above_its_size_limit(tmp_path: Path) -> None:
    got = paths(stack(tmp_path, redis={"engine": "memorystore"}, overrides={"redis": {"memoryMib": 400_000}}))
    assert ("phasescale:overrides.redis.memoryMib", 400_000) in got


# --- regions and zones --------------------------------------------------------------------------


def test_locations_must_be_regions_of_the_chosen_cloud(tmp_path: Path) -> None:
    regions = {"seoul": {"location": "ap-northeast-2"}, "mars": {"location": "mars-east1"}}
    got = refused(stack(tmp_path, regions=regions))
    assert got == [
        ("phasescale:regions.mars.location", "mars-east1",
         "a Google Cloud region for cluster.target gke (this is no region), e.g. asia-northeast3"),
        ("phasescale:regions.seoul.location", "ap-northeast-2",
         "a Google Cloud region for cluster.target gke (this is an AWS region), e.g. asia-northeast3"),
    ]


def test_zones_inside_the_region_and_each_once(tmp_path: Path) -> None:
    regions = {"seoul": {"location": "ap-northeast-2", "zones": ["ap-northeast-2a", "ap-northeast-1c", "ap-northeast-2a"]}}
    assert paths(stack(tmp_path, "eks", regions=regions)) == [
        ("phasescale:regions.seoul.zones", "ap-northeast-1c"),
        ("phasescale:regions.seoul.zones", "ap-northeast-2a"),
    ]


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("namespace", ["kube-system", "default", "monitoring", "cnpg-system", "milvus"])
def test_app_namespace_is_not_one_the_program_or_kubernetes_uses(tmp_path: Path, namespace: str) -> None:
    assert paths(stack(tmp_path, namespace=namespace)) == [("phasescale:namespace", namespace)]


@pytest.mark.parametrize("service", ["redis", "ingress", "monitoring", "vllm", "seoul-pg"])
def test_service_names_that_collide_with_program_objects(tmp_path: Path, service: str) -> None:
    got = paths(stack(tmp_path, services={service: {"image": "ghcr.io/a/b:1"}}))
    assert (f"phasescale:services.{service}", service) in got


def test_derived_names_past_the_clouds_limits(tmp_path: Path) -> None:
    name = "a-very-long-production-stack-name"  # GKE cluster <stack>-<region> has 40 characters at most
    got = refused(stack(tmp_path, regions={"seoul-primary": {"location": "asia-northeast3"}}), name)
    assert ("phasescale:regions.seoul-primary", f"{name}-seoul-primary") in [(p, v) for p, v, _ in got]
    assert any(e.startswith("a cluster name the cloud accepts (1-40 lowercase") for _, _, e in got)


def test_names_colliding_after_truncation(tmp_path: Path) -> None:
    regions = {"seoul-one": {"location": "asia-northeast3", "vpcCidr": "10.1.0.0/16"},
               "seoul-two": {"location": "asia-northeast3", "vpcCidr": "10.2.0.0/16"}}
    got = refused(stack(tmp_path, phase=4, regions=regions, parts={"redis": False, "postgres": False, "cdn": False}),
                  "production-erp-stacks-x")
    # Google service account ids keep 30 characters: both regions' node accounts are the same, ending in '-'.
    assert [(p, v, e.split(":")[0]) for p, v, e in got] == [
        ("phasescale:regions.seoul-one", "production-erp-stacks-x-seoul-", "a service account id the cloud accepts (6-30 "
         "lowercase letters, digits, '-', no trailing '-')"),
        ("phasescale:regions.seoul-two", "production-erp-stacks-x-seoul-", "a service account id of its own"),
        ("phasescale:regions.seoul-two", "production-erp-stacks-x-seoul-", "a service account id the cloud accepts (6-30 "
         "lowercase letters, digits, '-', no trailing '-')"),
    ]


def test_aws_names(tmp_path: Path) -> None:
    name = "a-long-stack-name-for-the-caches1"  # ElastiCache id <cluster>-redis cut at 40 ends in '-'
    got = refused(stack(tmp_path, "eks", regions={"seoul": {"location": "ap-northeast-2"}},
                        redis={"engine": "elasticache"}), name)
    assert [(v, e.split(" (")[0]) for _, v, e in got] == [(f"{name}-seoul-redis"[:40], "a cache id the cloud accepts")]


@pytest.mark.parametrize(("key", "value", "path"), [
    ("database", "postgres", "database"), ("database", "template1", "database"), ("owner", "rdsadmin", "owner"),
    ("storageClass", "Fast_SSD", "storageClass"),
])
def test_reserved_database_names_and_invalid_kubernetes_names(tmp_path: Path, key: str, value: str, path: str) -> None:
    assert paths(stack(tmp_path, postgres={key: value})) == [(f"phasescale:postgres.{path}", value)]


@pytest.mark.parametrize("image", ["ghcr.io/Org/api:1", "api:latest tag", "ghcr.io/a/api:" + "x" * 129, "a//b:1"])
def test_image_references(tmp_path: Path, image: str) -> None:
    ((p, _, e),) = refused(stack(tmp_path, services={"api": {"image": image}}))
    assert (p, e) == ("phasescale:services.api.image", "an image reference registry/path[:tag][@sha256:digest] "
                      "(lowercase path, tag <= 128)")


# --- ingress, resources, env --------------------------------------------------------------------


def test_ingress_routes(tmp_path: Path) -> None:
    services = {
        "api": {"image": "ghcr.io/a/api:1", "ingress": {"host": "api.example.com", "pathPrefix": "/v1"}},
        "api-two": {"image": "ghcr.io/a/api:1", "ingress": {"host": "api.example.com", "pathPrefix": "/v1/"}},
        "web": {"image": "ghcr.io/a/web:1", "ingress": {"host": "www_example.com", "tlsSecret": "My Secret"}},
        "admin": {"image": "ghcr.io/a/admin:1", "ingress": {"host": "admin.example.com", "pathPrefix": "/x/../admin"}},
    }
    assert paths(stack(tmp_path, services=services)) == [
        ("phasescale:services.admin.ingress.pathPrefix", "/x/../admin"),
        ("phasescale:services.api-two.ingress", "api.example.com/v1/"),
        ("phasescale:services.web.ingress.host", "www_example.com"),
        ("phasescale:services.web.ingress.tlsSecret", "My Secret"),
    ]


def test_limits_ports_and_env(tmp_path: Path) -> None:
    services = {
        "api": {"image": "ghcr.io/a/api:1", "resources": {"cpuMillicores": 500, "cpuLimitMillicores": 250}},
        "web": {"image": "ghcr.io/a/web:1", "port": True, "env": {"MY-VAR": "1", "1ST": "2", "OK_1": "3"}},
    }
    got = refused(stack(tmp_path, services=services))
    assert got == [
        ("phasescale:services.api.resources", {"cpuMillicores": 500, "cpuLimitMillicores": 250},
         "cpuLimitMillicores (250) must not be below cpuMillicores (500)"),
        ("phasescale:services.web.env", {"MY-VAR": "1", "1ST": "2", "OK_1": "3"},
         "environment variable names of letters, digits and '_', not starting with a digit: ['MY-VAR', '1ST']"),
        ("phasescale:services.web.port", True, "a number, not the boolean true"),
    ]


# --- valid unusual configs keep working ---------------------------------------------------------


def test_valid_unusual_configs(tmp_path: Path) -> None:
    services = {
        "api": {"image": "localhost:5000/team/api@sha256:" + "a" * 64, "env": {"_X": "1", "lower_ok": "2"},
                "phaseReplicas": {"4": {"min": 0, "max": 2}}, "autoscaling": {"scaleToZero": True, "rpsPerPod": 50}, "resources": {"cpuMillicores": 250, "cpuLimitMillicores": 250},
                "ingress": {"host": "api.example.com", "pathPrefix": "/v1"}},
        "api-v2": {"image": "ghcr.io/a/api:2.0.0-rc.1", "ingress": {"host": "api.example.com", "pathPrefix": "/v2"}},
    }
    regions = {"seoul": {"location": "asia-northeast3", "vpcCidr": "172.16.0.0/12", "zones": ["asia-northeast3-a"]},
               "tokyo": {"location": "asia-northeast1", "vpcCidr": "100.64.0.0/16"}}
    s = resolved(stack(tmp_path, phase=4, regions=regions, services=services, parts={"cdn": False}), "prod-erp-stack-22-char")
    assert s.active_regions == ["seoul", "tokyo"]
    assert s.stack.services["api"].phase_replicas[4].min == 0
    # The same two regions on the default VPC range are fine below the multi-region phase.
    same = {"seoul": {"location": "asia-northeast3"}, "tokyo": {"location": "asia-northeast1"}}
    assert resolved(stack(tmp_path, phase=2, regions=same)).active_regions == ["seoul"]
    # A GKE cluster name of exactly 40 characters.
    assert resolved(stack(tmp_path, phase=2), "x" * 34).stack.cluster.target.value == "gke"
    # An eks /17 with one zone, and a /16 with three explicit zones.
    one = {"seoul": {"location": "ap-northeast-2", "vpcCidr": "10.9.0.0/17", "zones": ["ap-northeast-2a"]}}
    assert resolved(stack(tmp_path, "eks", regions=one)).stack.regions["seoul"].vpc_cidr == "10.9.0.0/17"
