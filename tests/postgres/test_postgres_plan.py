"""Pure planning of PostgresCluster: server parameters and the connection budget."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.postgres.plan import (
    CNPG_FIXED_PARAMETERS,
    CNPG_MANAGED_PARAMETERS,
    PoolerSizing,
    PostgresSizing,
    ServiceDbUse,
    cnpg_parameters,
    connection_budget,
    postgres_parameters,
)

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
