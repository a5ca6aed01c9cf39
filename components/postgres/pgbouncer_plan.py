"""Pure planning of PgBouncer for the managed path (Cloud SQL / RDS + PgBouncer in the cluster).

``pgbouncer.ini`` (``<database>`` to the primary, ``<database>_ro`` to the replicas), the auth file's
lines and SCRAM verifiers. No Pulumi imports: plain strings, shared by the component and the tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from components.postgres.plan import SERVER_SHARE_PERCENT, PoolerSizing


class SslMode(StrEnum):
    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 5432


# --- PgBouncer for the managed path (Cloud SQL / RDS + PgBouncer in the cluster) ---------------


def ro_database(database: str) -> str:
    """The read-only entry's name in ``[databases]``: clients pick the replicas by database name."""
    return f"{database}_ro"


def remote_write_cap(pooler: PoolerSizing, max_connections: int, regions: int) -> int:
    """Server connections to the primary per PgBouncer instance of each *other* region (RDS in several
    regions: every region's poolers write to the one primary). The primary region keeps its full
    ``pool + reserve`` per instance; the others share what is left of 80% of ``max_connections``
    (the budget rule of components/postgres/plan.connection_budget). 0 or less: no room."""
    budget = (SERVER_SHARE_PERCENT * max_connections - 1) // 100
    local = pooler.instances * pooler.server_connections_per_instance
    others = pooler.instances * max(1, regions - 1)
    return (budget - local) // others


def _db_line(name: str, hosts: Sequence[str], port: int, dbname: str, cap: int, extra: str = "") -> str:
    return f"{name} = host={','.join(hosts)} port={port} dbname={dbname} max_db_connections={cap}{extra}"


def pgbouncer_ini(
    database: str,
    primary: Endpoint,
    replicas: Sequence[Endpoint],
    pooler: PoolerSizing,
    *,
    listen_addr: str = "0.0.0.0",
    listen_port: int = 6432,
    auth_file: str = "/etc/pgbouncer/userlist.txt",
    server_tls_sslmode: SslMode = SslMode.REQUIRE,
    server_tls_ca_file: str | None = None,
    admin_users: Sequence[str] = ("pgbouncer_admin",),
    stats_users: Sequence[str] = ("pgbouncer_stats",),
    primary_cap: int | None = None,
    unix_socket_dir: str = "",
    logfile: str = "",
    pidfile: str = "",
) -> str:
    """A complete ``pgbouncer.ini``: ``<database>`` goes to the primary, ``<database>_ro`` to the
    replicas (round robin over their hosts; to the primary, forced read-only, when there are none).

    Replicas must share one port (PgBouncer takes one port per entry); managed clouds use 5432.
    ``server_tls_sslmode`` is ``require`` for the clouds; verify-ca/verify-full need the CA file.
    ``primary_cap``: ``max_db_connections`` of the primary's entry when it is in another region
    (:func:`remote_write_cap`); default ``pool + reserve``.
    """
    if len({r.port for r in replicas}) > 1:
        raise ValueError(f"replicas must share one port, got {sorted({r.port for r in replicas})}")
    if server_tls_sslmode in (SslMode.VERIFY_CA, SslMode.VERIFY_FULL) and not server_tls_ca_file:
        raise ValueError(f"server_tls_sslmode {server_tls_sslmode} needs server_tls_ca_file")
    cap = pooler.server_connections_per_instance
    rw = _db_line(database, [primary.host], primary.port, database, primary_cap or cap)
    if replicas:
        ro = _db_line(ro_database(database), [r.host for r in replicas], replicas[0].port, database, cap)
    else:
        ro = _db_line(
            ro_database(database),
            [primary.host],
            primary.port,
            database,
            cap,
            " connect_query='SET default_transaction_read_only = on'",
        )
    settings: list[tuple[str, object]] = [
        ("listen_addr", listen_addr),
        ("listen_port", listen_port),
        ("unix_socket_dir", unix_socket_dir),
        ("auth_type", "scram-sha-256"),
        ("auth_file", auth_file),
        ("admin_users", ", ".join(admin_users)),
        ("stats_users", ", ".join(stats_users)),
        ("pool_mode", pooler.pool_mode.value),
        ("max_client_conn", pooler.max_client_conn),
        ("default_pool_size", pooler.default_pool_size),
        ("min_pool_size", pooler.min_pool_size),
        ("reserve_pool_size", pooler.reserve_pool_size),
        ("reserve_pool_timeout", pooler.reserve_pool_timeout_s),
        # Run only in session mode (transaction-mode clients may not rely on session state).
        ("server_reset_query", "DISCARD ALL"),
        ("server_reset_query_always", 0),
        ("ignore_startup_parameters", "extra_float_digits"),
        ("server_tls_sslmode", server_tls_sslmode.value),
        ("server_check_query", "select 1"),
        ("query_wait_timeout", 120),
        ("server_lifetime", 3600),
        ("server_idle_timeout", 600),
        ("log_connections", 1),
        ("log_disconnections", 1),
        ("log_pooler_errors", 1),
        ("stats_period", 60),
        ("logfile", logfile),
        ("pidfile", pidfile),
    ]
    if server_tls_ca_file:
        settings.append(("server_tls_ca_file", server_tls_ca_file))
    if pooler.max_prepared_statements:
        settings.append(("max_prepared_statements", pooler.max_prepared_statements))
    lines = ["[databases]", rw, ro, "", "[pgbouncer]"]
    lines += [f"{key} = {value}" for key, value in settings]
    return "\n".join(lines) + "\n"


def userlist_line(user: str, secret: str) -> str:
    """One ``auth_file`` line. ``secret``: a SCRAM verifier (``SCRAM-SHA-256$...``) or a password.

    A verifier lets PgBouncer log in to the server only if it is the very one the server stores
    (same salt); with managed clouds, which salt passwords themselves, give the password.
    """
    return f'"{user.replace(chr(34), chr(34) * 2)}" "{secret.replace(chr(34), chr(34) * 2)}"'


def scram_sha256_secret(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password`` (RFC 5802 / 7677), to set with
    ``ALTER ROLE ... PASSWORD '<verifier>'`` and to put in PgBouncer's auth file. ASCII passwords
    (SASLprep is the identity for them)."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
