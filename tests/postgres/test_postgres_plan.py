"""Pure planning of PostgresCluster: parameters, connection budget, pgbouncer.ini, CNPG specs."""

from __future__ import annotations

import configparser
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.postgres.plan import (
    BARMAN_PLUGIN,
    CNPG_FIXED_PARAMETERS,
    CNPG_MANAGED_PARAMETERS,
    BackupCredentials,
    BackupStore,
    Endpoint,
    PoolerSizing,
    PoolerType,
    PostgresSizing,
    ServiceDbUse,
    SslMode,
    backup_problems,
    cnpg_cluster_spec,
    cnpg_parameters,
    cnpg_pooler_spec,
    connection_budget,
    object_store_spec,
    pgbouncer_ini,
    pgbouncer_parameters,
    pooler_name,
    pooler_types,
    postgres_parameters,
    scheduled_backup_spec,
    scram_sha256_secret,
    userlist_line,
)

PG_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm"
BOUNCER_IMAGE = "ghcr.io/cloudnative-pg/pgbouncer:1.24.1"
PREFIX = "phasescale:overrides.postgres"

# The catalog's phases 1 and 4 (phase 2 is the dataclass default).
PHASE1 = PostgresSizing(
    cpu=1,
    memory_gib=2,
    storage_gib=20,
    read_replicas=0,
    pooler=PoolerSizing(
        instances=1, max_client_conn=500, default_pool_size=20, min_pool_size=5, reserve_pool_size=5
    ),
)
PHASE4 = PostgresSizing(
    cpu=8,
    memory_gib=32,
    storage_gib=500,
    read_replicas=4,
    pooler=PoolerSizing(
        instances=4, max_client_conn=4000, default_pool_size=80, min_pool_size=20, reserve_pool_size=10
    ),
)


# --- parameters --------------------------------------------------------------------------------


def test_parameters_for_the_seed_sizing() -> None:
    assert postgres_parameters(PostgresSizing()) == {
        "max_connections": "200",
        "shared_buffers": "2048MB",
        "effective_cache_size": "6144MB",
        "work_mem": "10485kB",
        "maintenance_work_mem": "512MB",
        "wal_buffers": "16MB",
        "min_wal_size": "2048MB",
        "max_wal_size": "8192MB",
        "checkpoint_completion_target": "0.9",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "default_statistics_target": "100",
        "max_worker_processes": "8",
        "max_parallel_workers": "2",
        "max_parallel_workers_per_gather": "1",
        "max_parallel_maintenance_workers": "1",
        "wal_level": "replica",
        "max_wal_senders": "3",
        "wal_keep_size": "128MB",
        "hot_standby": "on",
        "archive_timeout": "60s",
        "password_encryption": "scram-sha-256",
        "log_min_duration_statement": "500ms",
    }


@pytest.mark.parametrize(
    ("sizing", "expected"),
    [
        (
            PHASE1,
            {
                "max_connections": "100",
                "shared_buffers": "512MB",
                "effective_cache_size": "1536MB",
                "work_mem": "5242kB",
                "maintenance_work_mem": "128MB",
                "max_wal_size": "2048MB",
                "min_wal_size": "512MB",
                "max_parallel_workers_per_gather": "0",
                "max_wal_senders": "3",
            },
        ),
        (
            PHASE4,
            {
                "max_connections": "800",
                "shared_buffers": "8192MB",
                "effective_cache_size": "24576MB",
                "work_mem": "10485kB",
                "maintenance_work_mem": "2048MB",
                "max_wal_size": "8192MB",
                "min_wal_size": "2048MB",
                "max_parallel_workers_per_gather": "4",
                "max_wal_senders": "6",
            },
        ),
    ],
)
def test_parameters_per_phase(sizing: PostgresSizing, expected: dict[str, str]) -> None:
    params = postgres_parameters(sizing)
    assert {k: params[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("memory_gib", "explicit", "expected"),
    [(1, None, 100), (8, None, 200), (32, None, 800), (256, None, 5000), (8, 350, 350)],
)
def test_max_connections_explicit_or_derived(memory_gib: int, explicit: int | None, expected: int) -> None:
    sizing = PostgresSizing(memory_gib=memory_gib, max_connections=explicit)
    assert sizing.resolved_max_connections == expected
    assert postgres_parameters(sizing)["max_connections"] == str(expected)


def test_cnpg_parameters_leave_out_what_cnpg_manages() -> None:
    full = postgres_parameters(PostgresSizing())
    cnpg = cnpg_parameters(PostgresSizing())
    assert set(full) - set(cnpg) == {"wal_level", "max_wal_senders", "hot_standby"}
    assert cnpg["wal_keep_size"] == "128MB"
    assert cnpg["archive_timeout"] == "60s"


@given(
    cpu=st.integers(1, 64),
    memory_gib=st.integers(1, 512),
    storage_gib=st.integers(10, 10_000),
    replicas=st.integers(0, 10),
)
def test_parameters_are_sane_for_any_size(cpu: int, memory_gib: int, storage_gib: int, replicas: int) -> None:
    sizing = PostgresSizing(cpu=cpu, memory_gib=memory_gib, storage_gib=storage_gib, read_replicas=replicas)
    params = postgres_parameters(sizing)
    mb = {k: int(v.removesuffix("MB")) for k, v in params.items() if re.fullmatch(r"\d+MB", v)}
    assert mb["shared_buffers"] + mb["effective_cache_size"] == memory_gib * 1024
    assert mb["min_wal_size"] < mb["max_wal_size"] <= 8192
    assert int(params["max_wal_senders"]) >= replicas + 1
    assert all(isinstance(v, str) and v for v in params.values())
    assert not set(cnpg_parameters(sizing)) & (CNPG_FIXED_PARAMETERS | CNPG_MANAGED_PARAMETERS)


# --- connection budget -------------------------------------------------------------------------


def test_seed_budget_is_accepted() -> None:
    services = {"auth-service": ServiceDbUse(max_replicas=10), "api": ServiceDbUse(max_replicas=8)}
    assert ServiceDbUse(max_replicas=1).pool_size == 10
    assert connection_budget(services, PoolerSizing(), 200, PREFIX) == []


@pytest.mark.parametrize(
    "sizing",
    [
        PHASE1,
        PostgresSizing(),
        PostgresSizing(
            cpu=4, memory_gib=16, max_connections=400, pooler=PoolerSizing(instances=3, max_client_conn=2000)
        ),
        PHASE4,
    ],
)
def test_catalog_phases_fit_their_budget(sizing: PostgresSizing) -> None:
    assert connection_budget({}, sizing.pooler, sizing.resolved_max_connections, PREFIX) == []


def test_server_connections_over_80_percent_show_the_arithmetic() -> None:
    problems = connection_budget({}, PoolerSizing(instances=3), 200, PREFIX)
    assert [(p.path, p.value, p.expected) for p in problems] == [
        (
            f"{PREFIX}.defaultPoolSize",
            50,
            "3 pooler instances x (50 + 5) server connections = 165 > 80% of max_connections 200 = 160; "
            "must stay under: lower defaultPoolSize, reservePoolSize or poolerInstances, or raise maxConnections",
        )
    ]


def test_server_connections_exactly_at_80_percent_are_refused() -> None:
    [problem] = connection_budget({}, PoolerSizing(instances=2, default_pool_size=75), 200, PREFIX)
    assert "2 pooler instances x (75 + 5) server connections = 160 >= 80% of max_connections 200 = 160;" in (
        problem.expected
    )


def test_fractional_limit_and_several_databases() -> None:
    [problem] = connection_budget(
        {}, PoolerSizing(instances=1, default_pool_size=40), 101, PREFIX, databases=2
    )
    assert problem.expected.startswith(
        "1 pooler instances x 2 databases x (40 + 5) server connections = 90 > 80% of max_connections 101 = 80.8;"
    )


def test_client_connections_over_the_poolers_limit() -> None:
    services = {"web-admin": ServiceDbUse(max_replicas=8), "auth-service": ServiceDbUse(max_replicas=3)}
    pooler = PoolerSizing(instances=1, max_client_conn=100, default_pool_size=20)
    [problem] = connection_budget(services, pooler, 200, PREFIX)
    assert problem.path == f"{PREFIX}.maxClientConn"
    assert problem.expected.startswith(
        "services at max replicas open 3 x 10 (auth-service) + 8 x 10 (web-admin) = 110 client connections "
        "> 1 pooler instances x max_client_conn 100 = 100;"
    )


def test_pool_settings_and_per_pod_pool_checked() -> None:
    pooler = PoolerSizing(instances=1, max_client_conn=50, default_pool_size=5, min_pool_size=8)
    problems = connection_budget(
        {"ai-service": ServiceDbUse(max_replicas=1, pool_size=60)},
        pooler,
        100,
        PREFIX,
        services_path="phasescale:services",
    )
    paths = sorted(p.path for p in problems)
    assert paths == [
        "phasescale:overrides.postgres.maxClientConn",
        "phasescale:overrides.postgres.minPoolSize",
        "phasescale:services.ai-service.database.poolSize",
    ]


budgets = st.fixed_dictionaries(
    {
        "instances": st.integers(1, 8),
        "max_client_conn": st.integers(10, 5000),
        "default_pool_size": st.integers(1, 200),
        "reserve_pool_size": st.integers(0, 20),
        "max_connections": st.integers(20, 2000),
        "databases": st.integers(1, 3),
        "services": st.dictionaries(
            st.sampled_from(["api", "auth-service", "web-admin", "ai-service"]),
            st.tuples(st.integers(0, 50), st.integers(1, 30)),
            max_size=4,
        ),
    }
)


@given(budgets)
def test_accepted_budget_means_server_under_80_percent_and_clients_fit(b: dict) -> None:
    pooler = PoolerSizing(
        instances=b["instances"],
        max_client_conn=b["max_client_conn"],
        default_pool_size=b["default_pool_size"],
        min_pool_size=0,
        reserve_pool_size=b["reserve_pool_size"],
    )
    services = {n: ServiceDbUse(max_replicas=r, pool_size=p) for n, (r, p) in b["services"].items()}
    problems = connection_budget(services, pooler, b["max_connections"], PREFIX, databases=b["databases"])
    server = b["instances"] * b["databases"] * (b["default_pool_size"] + b["reserve_pool_size"])
    clients = sum(r * p for r, p in b["services"].values())
    server_refused = any(p.path.endswith(".defaultPoolSize") for p in problems)
    clients_refused = any(p.path.endswith(".maxClientConn") for p in problems)
    assert server_refused == (server >= 0.8 * b["max_connections"])
    assert clients_refused == (clients > b["instances"] * b["max_client_conn"])
    if not problems:
        assert server < 0.8 * b["max_connections"]
    for problem in problems:  # every message carries its arithmetic
        if problem.path.endswith(".defaultPoolSize"):
            assert f"= {server} " in problem.expected
        if problem.path.endswith(".maxClientConn"):
            assert f"= {clients} client connections" in problem.expected


# --- pgbouncer.ini -----------------------------------------------------------------------------


def _parse(ini: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(ini)
    return parser


def test_pgbouncer_ini_for_a_managed_primary_and_two_replicas() -> None:
    ini = pgbouncer_ini(
        "app", Endpoint("10.0.0.5"), [Endpoint("10.0.0.6"), Endpoint("10.0.0.7")], PoolerSizing()
    )
    parsed = _parse(ini)
    assert dict(parsed["databases"]) == {
        "app": "host=10.0.0.5 port=5432 dbname=app max_db_connections=55",
        "app_ro": "host=10.0.0.6,10.0.0.7 port=5432 dbname=app max_db_connections=55",
    }
    bouncer = parsed["pgbouncer"]
    assert {
        k: bouncer[k]
        for k in (
            "listen_addr",
            "listen_port",
            "auth_type",
            "auth_file",
            "pool_mode",
            "max_client_conn",
            "default_pool_size",
            "min_pool_size",
            "reserve_pool_size",
            "server_tls_sslmode",
            "ignore_startup_parameters",
            "admin_users",
            "stats_users",
            "server_reset_query",
            "server_reset_query_always",
        )
    } == {
        "listen_addr": "0.0.0.0",
        "listen_port": "6432",
        "auth_type": "scram-sha-256",
        "auth_file": "/etc/pgbouncer/userlist.txt",
        "pool_mode": "transaction",
        "max_client_conn": "1000",
        "default_pool_size": "50",
        "min_pool_size": "10",
        "reserve_pool_size": "5",
        "server_tls_sslmode": "require",
        "ignore_startup_parameters": "extra_float_digits",
        "admin_users": "pgbouncer_admin",
        "stats_users": "pgbouncer_stats",
        "server_reset_query": "DISCARD ALL",
        "server_reset_query_always": "0",
    }
    assert "max_prepared_statements" not in bouncer
    assert "server_tls_ca_file" not in bouncer


def test_pgbouncer_ini_without_replicas_reads_from_the_primary_read_only() -> None:
    parsed = _parse(
        pgbouncer_ini("app", Endpoint("db.internal", 5433), [], PoolerSizing(default_pool_size=20))
    )
    assert parsed["databases"]["app_ro"] == (
        "host=db.internal port=5433 dbname=app max_db_connections=25 "
        "connect_query='SET default_transaction_read_only = on'"
    )


def test_pgbouncer_ini_options() -> None:
    ini = pgbouncer_ini(
        "app",
        Endpoint("p"),
        [],
        PoolerSizing(max_prepared_statements=200),
        server_tls_sslmode=SslMode.VERIFY_FULL,
        server_tls_ca_file="/etc/ssl/rds-ca.pem",
    )
    bouncer = _parse(ini)["pgbouncer"]
    assert bouncer["server_tls_sslmode"] == "verify-full"
    assert bouncer["server_tls_ca_file"] == "/etc/ssl/rds-ca.pem"
    assert bouncer["max_prepared_statements"] == "200"


def test_pgbouncer_ini_refuses_what_it_cannot_express() -> None:
    with pytest.raises(ValueError, match="share one port"):
        pgbouncer_ini("app", Endpoint("p"), [Endpoint("a", 5432), Endpoint("b", 5433)], PoolerSizing())
    with pytest.raises(ValueError, match="needs server_tls_ca_file"):
        pgbouncer_ini("app", Endpoint("p"), [], PoolerSizing(), server_tls_sslmode=SslMode.VERIFY_CA)


@given(default=st.integers(1, 500), reserve=st.integers(0, 50), replicas=st.integers(0, 4))
def test_pgbouncer_ini_caps_every_database_at_pool_plus_reserve(
    default: int, reserve: int, replicas: int
) -> None:
    pooler = PoolerSizing(default_pool_size=default, reserve_pool_size=reserve, min_pool_size=0)
    ini = pgbouncer_ini("app", Endpoint("p"), [Endpoint(f"r{i}") for i in range(replicas)], pooler)
    for entry in _parse(ini)["databases"].values():
        assert f"max_db_connections={default + reserve}" in entry


def test_userlist_line_quotes() -> None:
    assert userlist_line("app", "pw") == '"app" "pw"'
    assert userlist_line('we"ird', 'p"w') == '"we""ird" "p""w"'


def test_scram_secret_format_and_determinism() -> None:
    salt = bytes(range(16))
    secret = scram_sha256_secret("s3cret", salt)
    assert re.fullmatch(
        r"SCRAM-SHA-256\$4096:AAECAwQFBgcICQoLDA0ODw==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=", secret
    )
    assert scram_sha256_secret("s3cret", salt) == secret
    assert scram_sha256_secret("s3cret") != scram_sha256_secret("s3cret")  # random salt


# --- CloudNativePG -----------------------------------------------------------------------------


def test_cluster_spec_with_replicas_and_backups() -> None:
    spec = cnpg_cluster_spec(
        "pg",
        PostgresSizing(),
        PG_IMAGE,
        owner_secret="pg-app",
        storage_class="premium-rwo",
        object_store="pg-backups",
        service_account_annotations={"iam.gke.io/gcp-service-account": "pg@p.iam.gserviceaccount.com"},
    )
    assert spec == {
        "instances": 2,
        "imageName": PG_IMAGE,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "enablePDB": True,
        "storage": {"size": "100Gi", "resizeInUseVolumes": True, "storageClass": "premium-rwo"},
        "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
        "postgresql": {"parameters": cnpg_parameters(PostgresSizing())},
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "preferred",
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": "pg", "cnpg.io/podRole": "instance"}},
            }
        ],
        "monitoring": {"enablePodMonitor": True},
        "bootstrap": {
            "initdb": {"database": "app", "owner": "app", "dataChecksums": True, "secret": {"name": "pg-app"}}
        },
        "plugins": [
            {
                "name": "barman-cloud.cloudnative-pg.io",
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": "pg-backups"},
            }
        ],
        "serviceAccountTemplate": {
            "metadata": {"annotations": {"iam.gke.io/gcp-service-account": "pg@p.iam.gserviceaccount.com"}}
        },
    }


@pytest.mark.parametrize(
    ("sizing", "instances", "types"),
    [
        (PHASE1, 1, ("rw",)),
        (PostgresSizing(), 2, ("rw", "ro")),
        (PHASE4, 5, ("rw", "ro")),
    ],
)
def test_instances_and_poolers_per_replica_count(
    sizing: PostgresSizing, instances: int, types: tuple
) -> None:
    spec = cnpg_cluster_spec("pg", sizing, PG_IMAGE)
    assert spec["instances"] == instances
    assert "plugins" not in spec and "serviceAccountTemplate" not in spec
    assert "storageClass" not in spec["storage"]  # type: ignore[operator]
    assert tuple(t.value for t in pooler_types(sizing)) == types


def test_pooler_spec() -> None:
    spec = cnpg_pooler_spec("pg", PoolerSizing(), PoolerType.RO, BOUNCER_IMAGE)
    assert pooler_name("pg", PoolerType.RO) == "pg-pooler-ro"
    assert spec["cluster"] == {"name": "pg"}
    assert spec["instances"] == 2
    assert spec["type"] == "ro"
    assert spec["pgbouncer"] == {
        "poolMode": "transaction",
        "parameters": {
            "max_client_conn": "1000",
            "default_pool_size": "50",
            "min_pool_size": "10",
            "reserve_pool_size": "5",
            "reserve_pool_timeout": "5",
            "max_db_connections": "55",
            "ignore_startup_parameters": "extra_float_digits",
            "log_pooler_errors": "1",
            "stats_period": "60",
        },
    }
    pod = spec["template"]["spec"]  # type: ignore[index]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 998
    [container] = pod["containers"]
    assert container["name"] == "pgbouncer"
    assert container["image"] == BOUNCER_IMAGE
    assert (
        container["resources"]["requests"]
        == container["resources"]["limits"]
        == {"cpu": "500m", "memory": "256Mi"}
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"cnpg.io/poolerName": "pg-pooler-ro"}
    }


def test_pooler_parameters_are_strings_and_prepared_statements_optional() -> None:
    params = pgbouncer_parameters(PoolerSizing(max_prepared_statements=100))
    assert params["max_prepared_statements"] == "100"
    assert all(isinstance(v, str) for v in params.values())


def test_scheduled_backup_spec() -> None:
    assert scheduled_backup_spec("pg") == {
        "cluster": {"name": "pg"},
        "schedule": "0 0 3 * * *",
        "immediate": True,
        "backupOwnerReference": "self",
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_PLUGIN},
    }


@pytest.mark.parametrize(
    ("store", "credentials"),
    [
        (
            BackupStore("s3://backups/pg", BackupCredentials.AWS_IAM_ROLE),
            {"s3Credentials": {"inheritFromIAMRole": True}},
        ),
        (
            BackupStore("gs://backups/pg", BackupCredentials.GKE_WORKLOAD_IDENTITY),
            {"googleCredentials": {"gkeEnvironment": True}},
        ),
        (
            BackupStore("s3://backups/pg", BackupCredentials.SECRET, "http://minio.minio:9000", "minio-pg"),
            {
                "endpointURL": "http://minio.minio:9000",
                "s3Credentials": {
                    "accessKeyId": {"name": "minio-pg", "key": "ACCESS_KEY_ID"},
                    "secretAccessKey": {"name": "minio-pg", "key": "ACCESS_SECRET_KEY"},
                },
            },
        ),
    ],
)
def test_object_store_spec(store: BackupStore, credentials: dict) -> None:
    spec = object_store_spec(store)
    assert spec["retentionPolicy"] == "30d"
    config = spec["configuration"]
    assert config == {  # type: ignore[comparison-overlap]
        "destinationPath": store.destination_path,
        "wal": {"compression": "gzip", "maxParallel": 4},
        "data": {"compression": "gzip", "jobs": 2},
        **credentials,
    }
    resources = spec["instanceSidecarConfiguration"]["resources"]  # type: ignore[index]
    assert resources["requests"] == resources["limits"]
    assert backup_problems(store, "phasescale:backups") == []


def test_backup_problems() -> None:
    bad = BackupStore("s3://b/pg", BackupCredentials.GKE_WORKLOAD_IDENTITY, retention_days=0)
    assert [(p.path, p.expected) for p in backup_problems(bad, "x")] == [
        ("x.destinationPath", "credentials gke-workload-identity need a gs:// path"),
        ("x.retentionDays", "1 or more"),
    ]
    minio = BackupStore("gs://b", BackupCredentials.SECRET)
    assert sorted(p.path for p in backup_problems(minio, "x")) == ["x.destinationPath", "x.secretName"]
