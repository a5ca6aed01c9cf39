"""Pure: how a service reaches one region's PostgreSQL, as Secret keys and the env vars that read them.

Every engine gets one connection Secret per region, ``<cluster>-connection`` in the app namespace,
created by :class:`~components.postgres.cluster.PostgresCluster`. It points at the poolers, never at
an instance: CNPG's ``<cluster>-pooler-rw`` / ``-pooler-ro`` Services, or the in-cluster PgBouncer in
front of Cloud SQL / RDS (one Service; reads go to the database ``<db>_ro``). The password is in the
same Secret when the plan knows it (``phasescale:dbPassword``); otherwise, on CNPG only, it is read
from the operator's own ``<cluster>-app`` Secret, which CloudNativePG generates for an ``initdb``
bootstrap without ``bootstrap.initdb.secret`` and never for a replica cluster (cloudnative-pg
``docs/src/applications.md`` "Secrets"; ``api/v1/cluster_funcs.go`` ShouldCreateApplicationSecret).
"""

from __future__ import annotations

from typing import Any

from components.postgres.plan import PORT

HOST, PORT_KEY, DBNAME, USERNAME, PASSWORD, RO_HOST, RO_DBNAME = (
    "host", "port", "dbname", "username", "password", "ro-host", "ro-dbname",
)
ENV_KEYS = (
    ("DATABASE_HOST", HOST),
    ("DATABASE_PORT", PORT_KEY),
    ("DATABASE_NAME", DBNAME),
    ("DATABASE_USER", USERNAME),
    ("DATABASE_PASSWORD", PASSWORD),
    ("DATABASE_RO_HOST", RO_HOST),
    ("DATABASE_RO_NAME", RO_DBNAME),
)
"""Env var -> key of the connection Secret (the password's Secret may differ, see ``env``)."""

SecretEnv = tuple[str, str, str]
"""``(env var, Secret name, key)``: one ``valueFrom.secretKeyRef``."""


def secret_name(cluster: str) -> str:
    return f"{cluster}-connection"


def operator_app_secret(cluster: str) -> str:
    """The Secret CNPG generates for the database owner of an initdb-bootstrapped cluster."""
    return f"{cluster}-app"


def connection_data(
    host: Any, ro_host: Any, database: str, ro_database: str, owner: str, password: Any | None
) -> dict[str, Any]:
    """The connection Secret's ``stringData`` (the password only when the plan holds it). Hosts and the
    password may be values the engine resolves later (Pulumi outputs); only the password is secret."""
    data = {
        HOST: host, PORT_KEY: str(PORT), DBNAME: database, USERNAME: owner, RO_HOST: ro_host, RO_DBNAME: ro_database,
    }
    if password is not None:
        data[PASSWORD] = password
    return data


def env(cluster: str, plan_has_password: bool) -> tuple[SecretEnv, ...]:
    """The env of a service that declares ``database``, every value a ``secretKeyRef``."""
    own = secret_name(cluster)
    out = []
    for var, key in ENV_KEYS:
        secret = own if key != PASSWORD or plan_has_password else operator_app_secret(cluster)
        out.append((var, secret, key))
    return tuple(out)
