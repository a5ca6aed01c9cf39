"""Pure planning of PgBouncer for the managed path: pgbouncer.ini, the auth file, SCRAM verifiers."""

from __future__ import annotations

import configparser
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.postgres.pgbouncer_plan import (
    Endpoint,
    SslMode,
    pgbouncer_ini,
    scram_sha256_secret,
    userlist_line,
)
from components.postgres.plan import PoolerSizing

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
