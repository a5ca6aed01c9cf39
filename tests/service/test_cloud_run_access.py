"""Cloud Run services reach the region's data tier and vLLM: Direct VPC egress, internal load
balancers with NetworkPolicies, connection settings from Secret Manager, and what is refused."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from components.cluster.gke import subnet_ranges
from components.problems import ConfigError
from components.service import cloud_run_plan as crp
from infra import cloud_run
from infra import plan as planner
from tests.planning import write_stack

API = {"image": "asia-northeast3-docker.pkg.dev/proj/app/api:1.0.0", "runtime": "cloudrun",
       "database": {"poolSize": 5}, "cache": True}
CNPG_MEMORYSTORE = {"parts": {"monitoring": False, "cdn": False}, "redis": {"engine": "memorystore"},
                    "services": {"api": API}}
CLOUDSQL_CLUSTER_GPU = {"parts": {"cdn": False, "gpu": True},
                        "postgres": {"engine": "cloudsql"}, "redis": {"engine": "memorystore"},
                        "services": {"api": API}}


@pytest.fixture(scope="module")
def phase2(tmp_path_factory: pytest.TempPathFactory) -> planner.Plan:
    """Phase 2: CNPG with a read replica (rw and ro poolers), Memorystore HA (AUTH and TLS)."""
    return planner.run("t", None, write_stack(tmp_path_factory.mktemp("run2"), "gke", 2, **CNPG_MEMORYSTORE))


@pytest.fixture(scope="module")
def phase3(tmp_path_factory: pytest.TempPathFactory) -> planner.Plan:
    """Phase 3: Cloud SQL behind PgBouncer, a Memorystore cluster (IAM auth), vLLM."""
    return planner.run("t", None, write_stack(tmp_path_factory.mktemp("run3"), "gke", 3, **CLOUDSQL_CLUSTER_GPU))


# --- The subnet size rule -----------------------------------------------------------------------


@pytest.mark.parametrize(("instances", "prefix"), [
    (1, 26), (12, 26),     # 48 + 4 addresses: the /26 minimum
    (13, 25), (28, 25),    # 52 -> 64 + 4 needs a /25; 28: 112 + 4 is all a /25 (128) holds
    (50, 24), (60, 24),    # the catalog's top (50): 200 -> 208 + 4 = 212 -> /24
    (61, 23), (1020, 20),  # 1,020 is what the /20 room holds
    (1021, 19),
])
def test_subnet_prefix_follows_googles_rule(instances: int, prefix: int) -> None:
    assert crp.subnet_prefix(instances) == prefix


def test_every_size_holds_its_instances_and_no_smaller_one_would() -> None:
    for n in range(1, 1021):
        p = crp.subnet_prefix(n)
        assert p <= crp.MIN_PREFIX and crp.capacity(p) >= n
        assert p == crp.MIN_PREFIX or crp.capacity(p + 1) < n


@pytest.mark.parametrize("vpc", ["10.10.0.0/16", "10.20.0.0/16", "172.16.0.0/12"])
def test_the_room_is_inside_the_region_block_and_clear_of_the_gke_ranges(vpc: str) -> None:
    room = crp.room(vpc)
    assert room.subnet_of(ipaddress.IPv4Network(vpc)) and room.prefixlen == 20  # type: ignore[arg-type]
    for used in subnet_ranges(vpc).values():
        assert not room.overlaps(ipaddress.IPv4Network(used)), used
    # Growing keeps the network address: the provider expands the range in place.
    assert [crp.subnet_cidr(vpc, n).split("/")[0] for n in (1, 50, 1020)] == [str(room.network_address)] * 3


# --- What the plan registers --------------------------------------------------------------------


def test_the_subnet_is_sized_for_the_peak_over_every_phase(phase2: planner.Plan) -> None:
    subnet = phase2.named("gcp:compute/subnetwork:Subnetwork", "seoul-cloudrun-subnet")
    assert subnet.parent == "phasescale:components:CloudRunAccess::seoul-cloudrun"
    assert subnet.inputs == {
        "name": "t-seoul-run", "project": "proj", "region": "asia-northeast3", "network": "t-seoul-vpc-id",
        "ipCidrRange": "10.0.48.0/24",  # max 8 at phase 2, 50 at phase 4: sized for 50
        "privateIpGoogleAccess": True, "description": "Direct VPC egress of the Cloud Run services of t-seoul",
    }


def _env(plan: planner.Plan) -> dict[str, Any]:
    tmpl = plan.named("gcp:cloudrunv2/service:Service", "seoul-api").inputs["template"]
    return {e["name"]: e.get("value", e.get("valueSource")) for e in tmpl["containers"][0]["envs"]}


def _ref(secret: str) -> dict[str, Any]:
    return {"secretKeyRef": {"secret": secret, "version": "1"}}


def test_direct_vpc_egress_and_the_same_settings_as_in_the_cluster(phase2: planner.Plan) -> None:
    tmpl = phase2.named("gcp:cloudrunv2/service:Service", "seoul-api").inputs["template"]
    assert tmpl["vpcAccess"] == {
        "egress": "PRIVATE_RANGES_ONLY",
        "networkInterfaces": [{"network": "t-seoul-vpc-id", "subnetwork": "seoul-cloudrun-subnet-id"}],
    }
    assert tmpl["containers"][0]["startupProbe"] == {"httpGet": {"path": "/healthz"}, "periodSeconds": 10,
                                                     "failureThreshold": 12}
    assert _env(phase2) == {
        "DATABASE_HOST": _ref("t-seoul-pg-host"), "DATABASE_PORT": "5432", "DATABASE_NAME": "app",
        "DATABASE_USER": "app", "DATABASE_PASSWORD": _ref("t-seoul-pg-password"),
        "DATABASE_RO_HOST": _ref("t-seoul-pg-ro-host"), "DATABASE_RO_NAME": "app",
        "REDIS_HOST": _ref("t-seoul-redis-host"), "REDIS_PORT": _ref("t-seoul-redis-port"),
        "REDIS_MODE": "replication", "REDIS_TLS": "true", "REDIS_AUTH": "password",
        "REDIS_PASSWORD": _ref("t-seoul-redis-password"), "REDIS_CA_CERT": _ref("t-seoul-redis-ca-crt"),
    }


def test_each_secret_is_regional_and_readable_by_the_service_account_only(phase2: planner.Plan) -> None:
    keys = ["pg-host", "pg-password", "pg-ro-host", "redis-ca-crt", "redis-host", "redis-password", "redis-port"]
    secrets = {r.name: r.inputs for r in phase2.of_type("gcp:secretmanager/secret:Secret")}
    assert sorted(secrets) == [f"seoul-cloudrun-{k}" for k in keys]
    assert secrets["seoul-cloudrun-pg-password"] == {
        "project": "proj", "secretId": "t-seoul-pg-password",
        "replication": {"userManaged": {"replicas": [{"location": "asia-northeast3"}]}},
        "labels": {"phasescale-region": "t-seoul", "phasescale-part": "pg"},
    }
    versions = {r.name: r.inputs for r in phase2.of_type("gcp:secretmanager/secretVersion:SecretVersion")}
    assert versions["seoul-cloudrun-pg-password"] == {"secret": "seoul-cloudrun-pg-password-id",
                                                      "secretData": "[secret]"}
    grants = {r.name: r.inputs for r in phase2.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")}
    assert grants == {f"seoul-api-{k}-access": {
        "project": "proj", "secretId": f"t-seoul-{k}", "role": "roles/secretmanager.secretAccessor",
        "member": "serviceAccount:seoul-api-sa@mock.iam.gserviceaccount.com",
    } for k in keys}


def _k8s(plan: planner.Plan, kind: str, name: str) -> dict[str, Any]:
    found = [o for _, o in plan.manifests() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, name
    return found[0]


def test_the_poolers_get_internal_load_balancers_and_admit_the_cloud_run_subnet(phase2: planner.Plan) -> None:
    for kind in ("rw", "ro"):
        pooler = f"seoul-pg-pooler-{kind}"
        svc = _k8s(phase2, "Service", f"{pooler}-ilb")
        assert svc["metadata"]["annotations"] == {"networking.gke.io/load-balancer-type": "Internal"}
        assert svc["spec"] == {
            "type": "LoadBalancer", "externalTrafficPolicy": "Local", "loadBalancerSourceRanges": ["10.0.48.0/24"],
            "selector": {"cnpg.io/poolerName": pooler},
            "ports": [{"name": "tcp", "port": 5432, "targetPort": 5432, "protocol": "TCP"}],
        }
        policy = _k8s(phase2, "NetworkPolicy", f"{pooler}-cloudrun")
        assert policy["spec"] == {
            "podSelector": {"matchLabels": {"cnpg.io/poolerName": pooler}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.48.0/24"}}], "ports": [{"protocol": "TCP", "port": 5432}]}],
        }


def test_pgbouncer_vllm_and_the_memorystore_cluster_iam_role(phase3: planner.Plan) -> None:
    bouncer = _k8s(phase3, "Service", "seoul-pg-pgbouncer-ilb")["spec"]
    assert (bouncer["ports"], bouncer["selector"]["app.kubernetes.io/name"]) == (
        [{"name": "tcp", "port": 5432, "targetPort": "pgbouncer", "protocol": "TCP"}], "seoul-pg-pgbouncer")
    assert _k8s(phase3, "NetworkPolicy", "seoul-pg-pgbouncer-cloudrun")["spec"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 6432}]
    vllm = _k8s(phase3, "Service", "vllm-ilb")["spec"]
    assert (vllm["ports"], vllm["loadBalancerSourceRanges"]) == (
        [{"name": "tcp", "port": 8000, "targetPort": "http", "protocol": "TCP"}], ["10.0.48.0/24"])
    env = _env(phase3)
    assert env["LLM_BASE_URL"] == "http://:8000/v1"  # offline: GKE has not assigned the IP yet
    assert (env["REDIS_AUTH"], "REDIS_PASSWORD" in env, env["DATABASE_RO_NAME"]) == ("iam", False, "app_ro")
    role = phase3.named("gcp:projects/iAMMember:IAMMember", "seoul-api-redis-dbconnectionuser").inputs
    assert role == {"project": "proj", "role": "roles/redis.dbConnectionUser",
                    "member": "serviceAccount:seoul-api-sa@mock.iam.gserviceaccount.com"}


def test_the_access_objects_pass_the_strict_kubernetes_schemas(phase2: planner.Plan, phase3: planner.Plan) -> None:
    objects = [r.inputs for plan in (phase2, phase3) for r in plan.records
               if r.is_kubernetes_object and r.parent.endswith("CloudRunAccess::seoul-cloudrun")]
    assert sorted(o["metadata"]["name"] for o in objects) == [
        "seoul-pg-pgbouncer-cloudrun", "seoul-pg-pgbouncer-ilb", "seoul-pg-pooler-ro-cloudrun",
        "seoul-pg-pooler-ro-ilb", "seoul-pg-pooler-rw-cloudrun", "seoul-pg-pooler-rw-ilb", "vllm-cloudrun", "vllm-ilb",
    ]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30", strict=True)


# --- What is refused ----------------------------------------------------------------------------


def test_the_operators_redis_is_out_of_cloud_runs_reach(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, write_stack(tmp_path, "gke", 1, parts={"monitoring": False, "cdn": False},
                                           services={"api": API}))
    assert [p.render() for p in err.value.problems] == [
        "phasescale:services.api.cache: got true; Cloud Run reaches Redis on Memorystore only (phasescale:redis.engine "
        "memorystore): the operator's Redis hands its clients pod addresses (Sentinel, cluster redirects) that no "
        "load balancer in front of it can stand for; or use runtime kubernetes",
    ]


def test_cloud_run_needs_the_database_password_in_secret_config(phase2: planner.Plan) -> None:
    settings = phase2.settings
    assert cloud_run.problems(settings) == []
    without = dataclasses.replace(settings, secrets={k: v for k, v in settings.secrets.items() if k != "dbPassword"})
    [problem] = cloud_run.problems(without)
    assert (problem.path, problem.value) == ("phasescale:dbPassword", None)
    assert problem.expected.startswith("required when a Cloud Run service declares database (api): Cloud Run reads")


def test_more_instances_than_the_subnet_room_holds_is_refused(tmp_path: Path) -> None:
    big = {"image": API["image"], "runtime": "cloudrun", "cache": True, "replicas": {"min": 0, "max": 1000}}
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, write_stack(tmp_path, "gke", 1, **{**CNPG_MEMORYSTORE, "services": {
            "api": big, "jobs": {**big, "image": "asia-northeast3-docker.pkg.dev/proj/app/jobs:1.0.0"}}}))
    assert [(p.path, p.value) for p in err.value.problems] == [("phasescale:services", {"api": 1000, "jobs": 1000})]
    assert err.value.problems[0].expected.startswith("Cloud Run services of a region may reach 1020 instances together")


def test_each_region_has_its_own_service_account_id() -> None:
    # Ids are unique in a project: the primary keeps the id it always had, the others add their region.
    assert crp.account_id("api", "seoul", primary=True) == "run-api"
    assert crp.account_id("api", "tokyo", primary=False) == "run-api-tokyo"
    long = crp.account_id("recommendation-engine", "singapore", primary=False)
    assert len(long) == 30 and long.startswith("run-recommendation-en-")
    assert long != crp.account_id("recommendation-engine", "singapore2", primary=False)
