"""Connection settings: every service with ``database`` or ``cache`` reads them from Secrets
(secretKeyRef), at every stack x phase, on every engine; and every Secret a pod reads exists."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from components import secret_refs as sr
from components.postgres import connection as pgc
from components.problems import ConfigError
from components.redis import connection as rdc
from components.redis import plan as rp
from infra import plan as planner
from infra import stack as composition
from infra.secret_check import plan_problems
from tests.planning import PHASES, STACKS, k8s_objects, plan_of, write_stack

PG_VARS = ["DATABASE_HOST", "DATABASE_PORT", "DATABASE_NAME", "DATABASE_USER", "DATABASE_PASSWORD",
           "DATABASE_RO_HOST", "DATABASE_RO_NAME"]
PG_KEYS = ["host", "port", "dbname", "username", "password", "ro-host", "ro-dbname"]


def secret_env(deployment: dict[str, Any]) -> list[tuple[str, str, str]]:
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
    return [(e["name"], e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
            for e in env if "valueFrom" in e]


def region_of(cluster: str) -> str:
    return cluster.removesuffix("-k8s")


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("phase", PHASES)
def test_every_service_gets_its_database_settings_from_the_region_secret(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    services = plan.settings.stack.services
    seen = set()
    for key, obj in k8s_objects(plan, "Deployment").items():
        cluster, name = key.split("/")
        if name not in services:
            continue
        seen.add((region_of(cluster), name))
        env = secret_env(obj)
        if services[name].database is None:
            assert env == [], name
            continue
        assert env == [(v, f"{region_of(cluster)}-pg-connection", k) for v, k in zip(PG_VARS, PG_KEYS, strict=True)]
        # never a plain value for a connection setting
        plain = {e["name"] for e in obj["spec"]["template"]["spec"]["containers"][0]["env"] if "value" in e}
        assert not plain & set(PG_VARS)
    assert {n for _, n in seen} == set(services)
    # the region's Secret holds exactly the keys the env reads (values are secret in the plan)
    for key in {f"{r}-k8s/{r}-pg-connection" for r, n in seen if services[n].database is not None}:
        assert sorted(k8s_objects(plan, "Secret")[key]["stringData"]) == sorted(PG_KEYS)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("phase", PHASES)
def test_every_secret_a_pod_reads_exists(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    assert plan_problems(plan.settings, plan.manifests()) == []


def test_prod_aws_phase_4_tokyo_services_read_tokyo_s_own_connection_secret() -> None:
    plan = plan_of("prod-aws", 4)
    api = k8s_objects(plan, "Deployment")["tokyo-k8s/api"]
    assert {s for _, s, _ in secret_env(api)} == {"tokyo-pg-connection"}
    assert "tokyo-k8s/tokyo-pg-connection" in k8s_objects(plan, "Secret")


# --- the check itself, with configs that break it ----------------------------------------------


def _stack(tmp_path: Path, target: str, phase: int, services: dict[str, Any], **config: Any) -> Path:
    env = "development" if target == "existing" else "production"
    parts = {"cdn": False, **config.pop("parts", {})}
    return write_stack(tmp_path, target, phase, env, services=services, parts=parts, **config)


API = {"image": "ghcr.io/x/api:1.0.0", "callers": ["ingress"], "database": {"poolSize": 5}}


def test_database_without_the_postgres_part_is_a_config_error(tmp_path: Path) -> None:
    root = _stack(tmp_path, "existing", 1, {"api": {**API, "cache": True}}, parts={"postgres": False, "redis": False})
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=root)
    assert sorted(p.render() for p in err.value.problems) == [
        "phasescale:services.api.cache: got true; needs phasescale:parts.redis true (no Redis to connect to)",
        "phasescale:services.api.database: got {'poolSize': 5}; needs phasescale:parts.postgres true "
        "(no database to connect to)",
    ]


def test_the_secret_check_names_a_pod_reading_a_secret_nobody_creates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Skip the config check, so the program wires the env of a database that is not built.
    monkeypatch.setattr(composition, "connection_problems", lambda settings: [])
    root = _stack(tmp_path, "existing", 1, {"api": API}, parts={"postgres": False})
    plan = planner.run("t", None, root=root, check=False)
    problems = plan_problems(plan.settings, plan.manifests())
    assert [(p.path, p.value) for p in problems] == [("seoul-k8s/phasescale/Deployment/api", "seoul-pg-connection")]
    assert problems[0].expected.startswith("a Secret the plan creates, one an operator the plan deploys makes")
    with pytest.raises(ConfigError) as err:  # the plan itself refuses it (infra/deployability.py)
        planner.run("t", None, root=root)
    assert err.value.problems == problems


def test_secret_refs_reads_every_kind_of_reference() -> None:
    pod = {
        "containers": [{
            "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "a", "key": "k"}}},
                    {"name": "B", "valueFrom": {"secretKeyRef": {"name": "b", "key": "k", "optional": True}}},
                    {"name": "C", "value": "plain"}],
            "envFrom": [{"secretRef": {"name": "c"}}],
        }],
        "initContainers": [{"env": [{"name": "D", "valueFrom": {"secretKeyRef": {"name": "d", "key": "k"}}}]}],
        "volumes": [{"name": "v", "secret": {"secretName": "e"}},
                    {"name": "p", "projected": {"sources": [{"secret": {"name": "f"}}]}}],
        "imagePullSecrets": [{"name": "g"}],
    }
    assert sr.pod_spec_refs(pod) == {"a", "c", "d", "e", "f", "g"}
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": pod}}}}}
    assert sr.pod_spec_of(cron) is pod


def test_cnpg_makes_its_app_secret_only_for_initdb_without_a_secret_and_never_for_a_replica() -> None:
    def cluster(**spec: Any) -> dict[str, Any]:
        return {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "seoul-pg"}, "spec": spec}

    assert sr.created(cluster(bootstrap={"initdb": {"database": "app"}})) == {"seoul-pg-app"}
    assert sr.created(cluster(bootstrap={"initdb": {"secret": {"name": "mine"}}})) == set()
    assert sr.custom_resource_refs(cluster(bootstrap={"initdb": {"secret": {"name": "mine"}}})) == {"mine"}
    assert sr.created(cluster(bootstrap={"recovery": {"source": "origin"}}, replica={"enabled": True})) == set()
    assert sr.created(cluster(bootstrap={"initdb": {}}, enableSuperuserAccess=True)) == {"seoul-pg-app", "seoul-pg-superuser"}


def test_a_cnpg_operator_secret_satisfies_a_pod_that_reads_it() -> None:
    objs = [
        ("c", {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg", "namespace": "n"},
               "spec": {"bootstrap": {"initdb": {}}}}),
        ("c", {"kind": "Deployment", "metadata": {"name": "api", "namespace": "n"}, "spec": {"template": {"spec": {
            "containers": [{"env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "pg-app", "key": "password"}}}]}]}}}}),
    ]
    assert sr.secret_problems(objs, {}) == []
    other_ns = [(c, {**o, "metadata": {**o["metadata"], "namespace": "m"}}) if o["kind"] == "Cluster" else (c, o)
                for c, o in objs]
    assert [p.value for p in sr.secret_problems(other_ns, {})] == ["pg-app"]


# --- the connection Secrets' content (pure) and the cache wiring per engine ----------------------


def test_postgres_env_reads_the_operator_secret_for_the_password_when_the_plan_has_none() -> None:
    env = pgc.env("seoul-pg", plan_has_password=False)
    assert ("DATABASE_PASSWORD", "seoul-pg-app", "password") in env
    assert {s for v, s, _ in env if v != "DATABASE_PASSWORD"} == {"seoul-pg-connection"}
    assert pgc.connection_data("rw.svc", "ro.svc", "app", "app_ro", "app", None) == {
        "host": "rw.svc", "port": "5432", "dbname": "app", "username": "app", "ro-host": "ro.svc", "ro-dbname": "app_ro"}


@pytest.mark.parametrize(
    ("engine", "mode", "keys"),
    [
        (rp.Engine.OPERATOR, rp.Mode.REPLICATION, ["host", "port", "mode", "tls", "auth", "password"]),
        (rp.Engine.MEMORYSTORE, rp.Mode.REPLICATION, ["host", "port", "mode", "tls", "auth", "password", "ca.crt"]),
        (rp.Engine.MEMORYSTORE, rp.Mode.CLUSTER, ["host", "port", "mode", "tls", "auth", "ca.crt"]),
        (rp.Engine.ELASTICACHE, rp.Mode.CLUSTER, ["host", "port", "mode", "tls", "auth", "password"]),
    ],
)
def test_redis_env_per_engine(engine: rp.Engine, mode: rp.Mode, keys: list[str]) -> None:
    plan = rp.RedisPlan(engine=engine, mode=mode)
    assert [k for _, s, k in rdc.env(plan) if s == "redis-connection"] == keys
    data = rdc.connection_data(plan, "h", "6379", "pw", "CA")
    assert sorted(data) == sorted(keys)
    assert data["tls"] == ("false" if engine is rp.Engine.OPERATOR else "true")
    assert data["auth"] == ("iam" if (engine, mode) == (rp.Engine.MEMORYSTORE, rp.Mode.CLUSTER) else "password")


REDIS_VARS = {"host": "REDIS_HOST", "port": "REDIS_PORT", "mode": "REDIS_MODE", "tls": "REDIS_TLS",
              "auth": "REDIS_AUTH", "password": "REDIS_PASSWORD", "ca.crt": "REDIS_CA_CERT"}


@pytest.mark.parametrize(
    ("target", "phase", "redis", "keys"),
    [
        ("existing", 1, {}, ["host", "port", "mode", "tls", "auth", "password"]),
        ("gke", 2, {"engine": "memorystore"}, ["host", "port", "mode", "tls", "auth", "password", "ca.crt"]),
        ("gke", 3, {"engine": "memorystore"}, ["host", "port", "mode", "tls", "auth", "ca.crt"]),
        ("eks", 3, {"engine": "elasticache"}, ["host", "port", "mode", "tls", "auth", "password"]),
    ],
)
def test_a_service_with_cache_reads_redis_connection_on_every_engine(
    tmp_path: Path, target: str, phase: int, redis: dict[str, Any], keys: list[str]
) -> None:
    services = {"api": {**API, "cache": True}, "web": {"image": "ghcr.io/x/web:1.0.0", "callers": ["ingress"]}}
    plan = planner.run("t", None, root=_stack(tmp_path, target, phase, services, redis=redis))
    deployments = k8s_objects(plan, "Deployment")
    got = [(v, k) for v, s, k in secret_env(deployments["seoul-k8s/api"]) if s == "redis-connection"]
    assert got == [(REDIS_VARS[k], k) for k in keys]
    assert secret_env(deployments["seoul-k8s/web"]) == []
    assert sorted(k8s_objects(plan, "Secret")["seoul-k8s/redis-connection"]["stringData"]) == sorted(keys)
    assert plan_problems(plan.settings, plan.manifests()) == []
    sa = k8s_objects(plan, "ServiceAccount")["seoul-k8s/api"]["metadata"]
    accounts = {r.name: r for r in plan.of_type("gcp:serviceaccount/account:Account")}
    if "password" in keys:  # a password: no Google identity for the service
        assert "annotations" not in sa and "seoul-api-redis" not in accounts
        return
    # Memorystore cluster, IAM auth: a Google identity through workload identity, allowed to connect.
    assert accounts["seoul-api-redis"].inputs["accountId"] == "seoul-api"
    email = "seoul-api-redis@mock.iam.gserviceaccount.com"  # the offline mock's email for the account
    assert sa["annotations"] == {"iam.gke.io/gcp-service-account": email}
    binding = plan.named("gcp:serviceaccount/iAMMember:IAMMember", "seoul-api-redis-wi").inputs
    assert (binding["role"], binding["member"]) == ("roles/iam.workloadIdentityUser", "serviceAccount:proj.svc.id.goog[phasescale/api]")
    grant = plan.named("gcp:projects/iAMMember:IAMMember", "seoul-api-redis-connect").inputs
    assert (grant["project"], grant["role"], grant["member"]) == (
        "proj", "roles/redis.dbConnectionUser", f"serviceAccount:{email}")


def test_region_summary_keeps_the_secret_names_stable() -> None:
    # The names the README documents: <region>-pg-connection and redis-connection.
    assert pgc.secret_name("seoul-pg") == "seoul-pg-connection"
    assert rdc.secret_name(dataclasses.replace(rp.RedisPlan())) == "redis-connection"
