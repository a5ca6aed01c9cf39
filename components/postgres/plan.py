"""Pure planning for PostgresCluster: sizing, server parameters and the connection budget.

No Pulumi imports: every function returns plain data (strings, dicts with the APIs' camelCase
keys, ``list[Problem]``), so the component and the tests share one source of truth. The CNPG
custom-resource specs are in :mod:`components.postgres.cnpg_plan`, ``pgbouncer.ini`` for the managed
path in :mod:`components.postgres.pgbouncer_plan`.

Connection budget (seed rule "about 10 connections per app instance; the sum must stay under 80% of
``max_connections``"), made precise for a pooled setup:

* Client side. PgBouncer's ``max_client_conn`` is a limit *per PgBouncer process*. Every pod of a
  service opens ``pool_size`` connections to the pooler, so the services need
  ``sum(max_replicas x pool_size) <= pooler instances x max_client_conn`` (the Service spreads
  connections over the pooler pods). Reads and writes are counted together, against one pooler.
* Server side. Each PgBouncer process opens at most ``default_pool_size + reserve_pool_size``
  server connections per database: we render ``max_db_connections`` to exactly that, so the bound
  holds however many users share the database. Across the deployment:
  ``instances x databases x (default_pool_size + reserve_pool_size) < 0.8 x max_connections``.
  The read-only pooler has the same size and talks to the replicas, which share the primary's
  ``max_connections``; since the ``-ro`` Service may send all of it to one replica, the same
  inequality covers it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from components.problems import Problem

PORT = 5432

DEFAULT_POOL_SIZE_PER_INSTANCE = 10
"""Seed: about 10 connections per app instance."""

SERVER_SHARE_PERCENT = 80
"""Seed: poolers' server connections stay under 80% of ``max_connections``."""

CNPG_MANAGED_PARAMETERS = frozenset({"wal_level", "max_wal_senders", "hot_standby"})
"""Left to CNPG: it runs ``wal_level logical`` (its publications need it; the webhook guards
changes), sizes WAL senders itself and blocks ``hot_standby``. Kept for managed/self-run servers."""

# fmt: off
CNPG_FIXED_PARAMETERS = frozenset(
    {
        "allow_system_table_mods", "archive_mode", "bonjour", "bonjour_name", "cluster_name",
        "config_file", "data_directory", "data_sync_retry", "event_source", "external_pid_file",
        "hba_file", "hot_standby", "ident_file", "jit_provider", "listen_addresses",
        "logging_collector", "port", "primary_conninfo", "primary_slot_name", "recovery_target",
        "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn",
        "recovery_target_name", "recovery_target_time", "recovery_target_timeline",
        "recovery_target_xid", "restore_command", "shared_preload_libraries", "temp_tablespaces",
        "unix_socket_directories", "unix_socket_group", "unix_socket_permissions",
        "archive_cleanup_command", "archive_command", "log_destination", "log_directory",
        "log_file_mode", "log_filename", "log_rotation_age", "log_rotation_size",
        "log_truncate_on_rotation", "promote_trigger_file", "recovery_end_command",
        "recovery_min_apply_delay", "restart_after_crash", "ssl", "ssl_ca_file", "ssl_cert_file",
        "ssl_crl_file", "ssl_dh_params_file", "ssl_key_file", "ssl_passphrase_command",
        "ssl_passphrase_command_supports_reload", "ssl_prefer_server_ciphers", "stats_temp_directory",
        "synchronous_standby_names", "synchronized_standby_slots", "syslog_facility", "syslog_ident",
        "syslog_sequence_numbers", "syslog_split_messages",
    }
)
# fmt: on
"""Parameters the CNPG webhook rejects in ``spec.postgresql.parameters``
(``FixedConfigurationParameters`` in cloudnative-pg ``pkg/postgres/configuration.go``)."""


class PoolMode(StrEnum):
    SESSION = "session"
    TRANSACTION = "transaction"
    STATEMENT = "statement"


@dataclass(frozen=True)
class PoolerSizing:
    """One PgBouncer deployment. Defaults are the seeds' figures (002)."""

    instances: int = 2
    pool_mode: PoolMode = PoolMode.TRANSACTION
    max_client_conn: int = 1000
    """Per PgBouncer process."""
    default_pool_size: int = 50
    """Server connections per (database, user) pair, per process."""
    min_pool_size: int = 10
    reserve_pool_size: int = 5
    reserve_pool_timeout_s: int = 5
    max_prepared_statements: int = 0
    """Protocol-level prepared statements in transaction mode; needs PgBouncer >= 1.21; 0 = off."""

    @property
    def server_connections_per_instance(self) -> int:
        """Per database; rendered as ``max_db_connections`` so it is a hard limit."""
        return self.default_pool_size + self.reserve_pool_size


@dataclass(frozen=True)
class PostgresSizing:
    """Size of one PostgreSQL deployment (primary + replicas, same size each). Defaults: phase 2."""

    cpu: int = 2
    """vCPU per instance."""
    memory_gib: int = 8
    storage_gib: int = 100
    read_replicas: int = 1
    pooler: PoolerSizing = field(default_factory=PoolerSizing)
    max_connections: int | None = None
    """None derives it from memory: 25 per GiB, at least 100, at most 5000."""

    @property
    def resolved_max_connections(self) -> int:
        if self.max_connections is not None:
            return self.max_connections
        return min(5000, max(100, 25 * self.memory_gib))


@dataclass(frozen=True)
class ServiceDbUse:
    """How one service uses the database: each of its pods opens ``pool_size`` connections."""

    max_replicas: int
    pool_size: int = DEFAULT_POOL_SIZE_PER_INSTANCE


# --- PostgreSQL parameters ---------------------------------------------------------------------


def postgres_parameters(sizing: PostgresSizing) -> dict[str, str]:
    """Server parameters sized to one instance (pgtune's web profile, SSD storage), as strings.

    For a self-run or managed primary; :func:`cnpg_parameters` drops what CNPG manages.
    """
    mem_mb = sizing.memory_gib * 1024
    max_conn = sizing.resolved_max_connections
    shared_mb = mem_mb // 4
    work_mem_kb = max(4096, (mem_mb - shared_mb) * 1024 // (3 * max_conn))
    max_wal_mb = min(8192, max(1024, sizing.storage_gib * 1024 // 10))
    return {
        "max_connections": str(max_conn),
        "shared_buffers": f"{shared_mb}MB",
        "effective_cache_size": f"{mem_mb * 3 // 4}MB",
        "work_mem": f"{work_mem_kb}kB",
        "maintenance_work_mem": f"{min(2048, mem_mb // 16)}MB",
        "wal_buffers": "16MB",
        "min_wal_size": f"{max_wal_mb // 4}MB",
        "max_wal_size": f"{max_wal_mb}MB",
        "checkpoint_completion_target": "0.9",
        "random_page_cost": "1.1",
        "effective_io_concurrency": "200",
        "default_statistics_target": "100",
        "max_worker_processes": str(max(8, sizing.cpu)),
        "max_parallel_workers": str(sizing.cpu),
        "max_parallel_workers_per_gather": str(sizing.cpu // 2),
        "max_parallel_maintenance_workers": str(sizing.cpu // 2),
        # Replication (002): wal_level replica, max_wal_senders 3, wal_keep_size 128MB. One sender
        # per replica plus two for rebuilding one (pg_basebackup -X stream uses two), at least 3.
        "wal_level": "replica",
        "max_wal_senders": str(max(3, sizing.read_replicas + 2)),
        "wal_keep_size": "128MB",
        "hot_standby": "on",
        # RPO < 1 minute: switch WAL segments at least every minute so archiving never lags more.
        "archive_timeout": "60s",
        "password_encryption": "scram-sha-256",
        # Seeds' query-time critical threshold (500 ms): log every statement slower than that.
        "log_min_duration_statement": "500ms",
    }


def cnpg_parameters(sizing: PostgresSizing) -> dict[str, str]:
    """:func:`postgres_parameters` without what CNPG manages or refuses."""
    skip = CNPG_MANAGED_PARAMETERS | CNPG_FIXED_PARAMETERS
    return {k: v for k, v in postgres_parameters(sizing).items() if k not in skip}


# --- Connection budget -------------------------------------------------------------------------


def _limit_text(value: float) -> str:
    return f"{value:g}"


def connection_budget(
    services: Mapping[str, ServiceDbUse],
    pooler: PoolerSizing,
    max_connections: int,
    path_prefix: str,
    *,
    services_path: str = "phasescale:services",
    databases: int = 1,
) -> list[Problem]:
    """Problems with the connection budget (see the module docstring for the rule).

    ``path_prefix`` is the config path of the postgres sizing (``phasescale:overrides.postgres``);
    ``services_path`` the one of the services map. Never raises.
    """
    problems: list[Problem] = []
    if pooler.min_pool_size > pooler.default_pool_size:
        problems.append(
            Problem(
                f"{path_prefix}.minPoolSize",
                pooler.min_pool_size,
                f"must not be above defaultPoolSize {pooler.default_pool_size}",
            )
        )
    for name, use in sorted(services.items()):
        if use.pool_size > pooler.max_client_conn:
            problems.append(
                Problem(
                    f"{services_path}.{name}.database.poolSize",
                    use.pool_size,
                    f"one pod cannot open more than max_client_conn {pooler.max_client_conn}",
                )
            )

    used = [(name, use) for name, use in sorted(services.items()) if use.max_replicas > 0]
    clients = sum(use.max_replicas * use.pool_size for _, use in used)
    client_limit = pooler.instances * pooler.max_client_conn
    if clients > client_limit:
        terms = " + ".join(f"{u.max_replicas} x {u.pool_size} ({n})" for n, u in used)
        problems.append(
            Problem(
                f"{path_prefix}.maxClientConn",
                pooler.max_client_conn,
                f"services at max replicas open {terms} = {clients} client connections "
                f"> {pooler.instances} pooler instances x max_client_conn {pooler.max_client_conn} "
                f"= {client_limit}; raise maxClientConn or poolerInstances, or lower services' "
                "poolSize or max replicas",
            )
        )

    per_instance = pooler.server_connections_per_instance
    server = pooler.instances * databases * per_instance
    # server < 0.8 x max_connections, in integers: 100 x server < 80 x max_connections.
    if 100 * server >= SERVER_SHARE_PERCENT * max_connections:
        limit = max_connections * SERVER_SHARE_PERCENT / 100
        dbs = f" x {databases} databases" if databases != 1 else ""
        op = ">" if server > limit else ">="
        problems.append(
            Problem(
                f"{path_prefix}.defaultPoolSize",
                pooler.default_pool_size,
                f"{pooler.instances} pooler instances{dbs} x ({pooler.default_pool_size} + "
                f"{pooler.reserve_pool_size}) server connections = {server} {op} "
                f"{SERVER_SHARE_PERCENT}% of max_connections {max_connections} = {_limit_text(limit)}; "
                "must stay under: lower defaultPoolSize, reservePoolSize or poolerInstances, "
                "or raise maxConnections",
            )
        )
    return problems


def exporter_roles(read_replicas: int, local_primary: bool = True) -> list[str]:
    """Managed engines: the instances of one region, each scraped by its own postgres_exporter
    (``<cluster>-<role>-exporter``). One per instance, not one per cluster, because the database
    rules are per server (``alert_rules._postgres``: connections and max_connections by ``pod``, and
    ``pg_replication_lag_seconds``, which postgres_exporter reports on a standby only). A second
    region's RDS has no local primary, only its cross-region replica ``replica-1``."""
    if not local_primary:
        return ["replica-1"]
    return ["primary", *(f"replica-{i}" for i in range(1, read_replicas + 1))]


def exporter_name(cluster: str, role: str) -> str:
    return f"{cluster}-{role}-exporter"
