"""Pure planning for PostgresCluster: sizing, the connection budget, PgBouncer and CNPG specs.

No Pulumi imports: every function returns plain data (strings, dicts with the APIs' camelCase
keys, ``list[Problem]``), so the component and the tests share one source of truth.

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

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from components.problems import Problem

CNPG_API = "postgresql.cnpg.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"

DEFAULT_POOL_SIZE_PER_INSTANCE = 10
"""Seed: about 10 connections per app instance."""

SERVER_SHARE_PERCENT = 80
"""Seed: poolers' server connections stay under 80% of ``max_connections``."""

PGBOUNCER_UID, PGBOUNCER_GID = 998, 996
"""The user and group of the ``cloudnative-pg/pgbouncer`` image (CNPG runs the pooler as these)."""

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


class SslMode(StrEnum):
    DISABLE = "disable"
    ALLOW = "allow"
    PREFER = "prefer"
    REQUIRE = "require"
    VERIFY_CA = "verify-ca"
    VERIFY_FULL = "verify-full"


class PoolerType(StrEnum):
    RW = "rw"
    RO = "ro"


class BackupCredentials(StrEnum):
    AWS_IAM_ROLE = "aws-iam-role"
    """IRSA / EKS Pod Identity on the cluster's service account."""
    GKE_WORKLOAD_IDENTITY = "gke-workload-identity"
    SECRET = "secret"
    """Access keys in a Secret (MinIO): keys ``ACCESS_KEY_ID`` and ``ACCESS_SECRET_KEY``."""


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


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int = 5432


@dataclass(frozen=True)
class BackupStore:
    """Where barman-cloud keeps base backups and WAL. ``destination_path``: s3:// or gs://."""

    destination_path: str
    credentials: BackupCredentials
    endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO); None for AWS S3 and GCS."""
    secret_name: str | None = None
    """For ``BackupCredentials.SECRET``."""
    retention_days: int = 30


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


# --- PgBouncer for the managed path (Cloud SQL / RDS + PgBouncer in the cluster) ---------------


def ro_database(database: str) -> str:
    """The read-only entry's name in ``[databases]``: clients pick the replicas by database name."""
    return f"{database}_ro"


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
    unix_socket_dir: str = "",
    logfile: str = "",
    pidfile: str = "",
) -> str:
    """A complete ``pgbouncer.ini``: ``<database>`` goes to the primary, ``<database>_ro`` to the
    replicas (round robin over their hosts; to the primary, forced read-only, when there are none).

    Replicas must share one port (PgBouncer takes one port per entry); managed clouds use 5432.
    ``server_tls_sslmode`` is ``require`` for the clouds; verify-ca/verify-full need the CA file.
    """
    if len({r.port for r in replicas}) > 1:
        raise ValueError(f"replicas must share one port, got {sorted({r.port for r in replicas})}")
    if server_tls_sslmode in (SslMode.VERIFY_CA, SslMode.VERIFY_FULL) and not server_tls_ca_file:
        raise ValueError(f"server_tls_sslmode {server_tls_sslmode} needs server_tls_ca_file")
    cap = pooler.server_connections_per_instance
    rw = _db_line(database, [primary.host], primary.port, database, cap)
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


# --- CloudNativePG -----------------------------------------------------------------------------


def _guaranteed(cpu: str, memory: str) -> dict[str, dict[str, str]]:
    """Requests = limits: Guaranteed QoS, never evicted first, no CPU throttling surprises."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def _spread(match_labels: Mapping[str, str]) -> list[dict[str, object]]:
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(match_labels)},
        }
    ]


def cnpg_cluster_spec(
    name: str,
    sizing: PostgresSizing,
    image: str,
    *,
    database: str = "app",
    owner: str = "app",
    owner_secret: str | None = None,
    storage_class: str | None = None,
    object_store: str | None = None,
    service_account_annotations: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """``spec`` of a ``postgresql.cnpg.io/v1`` Cluster: 1 primary + ``read_replicas`` standbys.

    ``object_store`` names the barman-cloud ObjectStore (None: no WAL archive, no backups).
    ``service_account_annotations`` carry IRSA / workload identity for the backup sidecar.
    """
    storage: dict[str, object] = {"size": f"{sizing.storage_gib}Gi", "resizeInUseVolumes": True}
    if storage_class:
        storage["storageClass"] = storage_class
    initdb: dict[str, object] = {"database": database, "owner": owner, "dataChecksums": True}
    if owner_secret:
        initdb["secret"] = {"name": owner_secret}
    spec: dict[str, object] = {
        "instances": 1 + sizing.read_replicas,
        "imageName": image,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "enablePDB": True,
        "storage": storage,
        "resources": _guaranteed(str(sizing.cpu), f"{sizing.memory_gib}Gi"),
        "postgresql": {"parameters": cnpg_parameters(sizing)},
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "preferred",
        },
        "topologySpreadConstraints": _spread({"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}),
        "monitoring": {"enablePodMonitor": True},
        "bootstrap": {"initdb": initdb},
    }
    if object_store:
        spec["plugins"] = [
            {"name": BARMAN_PLUGIN, "isWALArchiver": True, "parameters": {"barmanObjectName": object_store}}
        ]
    if service_account_annotations:
        spec["serviceAccountTemplate"] = {"metadata": {"annotations": dict(service_account_annotations)}}
    return spec


def pooler_types(sizing: PostgresSizing) -> tuple[PoolerType, ...]:
    """A read-write pooler always; a read-only one when there are replicas to read from."""
    return (PoolerType.RW, PoolerType.RO) if sizing.read_replicas > 0 else (PoolerType.RW,)


def pooler_name(cluster: str, pooler_type: PoolerType) -> str:
    return f"{cluster}-pooler-{pooler_type.value}"


def pgbouncer_parameters(pooler: PoolerSizing) -> dict[str, str]:
    """``spec.pgbouncer.parameters`` of a CNPG Pooler (all on the webhook's allowed list)."""
    params = {
        "max_client_conn": str(pooler.max_client_conn),
        "default_pool_size": str(pooler.default_pool_size),
        "min_pool_size": str(pooler.min_pool_size),
        "reserve_pool_size": str(pooler.reserve_pool_size),
        "reserve_pool_timeout": str(pooler.reserve_pool_timeout_s),
        "max_db_connections": str(pooler.server_connections_per_instance),
        "ignore_startup_parameters": "extra_float_digits",
        "log_pooler_errors": "1",
        "stats_period": "60",
    }
    if pooler.max_prepared_statements:
        params["max_prepared_statements"] = str(pooler.max_prepared_statements)
    return params


def cnpg_pooler_spec(
    cluster: str,
    pooler: PoolerSizing,
    pooler_type: PoolerType,
    image: str,
    *,
    cpu_m: int = 500,
    memory_mib: int = 256,
) -> dict[str, object]:
    """``spec`` of a CNPG Pooler: PgBouncer pods (one process each; it is single-threaded, so half
    a CPU goes a long way) spread across zones, hardened, Guaranteed QoS."""
    name = pooler_name(cluster, pooler_type)
    return {
        "cluster": {"name": cluster},
        "instances": pooler.instances,
        "type": pooler_type.value,
        "pgbouncer": {"poolMode": pooler.pool_mode.value, "parameters": pgbouncer_parameters(pooler)},
        "monitoring": {"enablePodMonitor": True},
        "deploymentStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {
                "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "phasescale"}
            },
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": PGBOUNCER_UID,
                    "runAsGroup": PGBOUNCER_GID,
                    "fsGroup": PGBOUNCER_GID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": _spread({"cnpg.io/poolerName": name}),
                "containers": [
                    {
                        "name": "pgbouncer",
                        "image": image,
                        "resources": _guaranteed(f"{cpu_m}m", f"{memory_mib}Mi"),
                        "securityContext": {
                            "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "privileged": False,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                    }
                ],
            },
        },
    }


def scheduled_backup_spec(cluster: str, schedule: str = "0 0 3 * * *") -> dict[str, object]:
    """Daily base backup through the barman-cloud plugin (CNPG cron has a seconds field: 03:00)."""
    return {
        "cluster": {"name": cluster},
        "schedule": schedule,
        "immediate": True,
        "backupOwnerReference": "self",
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_PLUGIN},
    }


def object_store_spec(
    store: BackupStore, *, sidecar_cpu_m: int = 250, sidecar_memory_mib: int = 256
) -> dict[str, object]:
    """``spec`` of a ``barmancloud.cnpg.io/v1`` ObjectStore: base backups + WAL, kept 30 days."""
    config: dict[str, object] = {
        "destinationPath": store.destination_path,
        "wal": {"compression": "gzip", "maxParallel": 4},
        "data": {"compression": "gzip", "jobs": 2},
    }
    if store.endpoint_url:
        config["endpointURL"] = store.endpoint_url
    if store.credentials is BackupCredentials.AWS_IAM_ROLE:
        config["s3Credentials"] = {"inheritFromIAMRole": True}
    elif store.credentials is BackupCredentials.GKE_WORKLOAD_IDENTITY:
        config["googleCredentials"] = {"gkeEnvironment": True}
    else:
        secret = store.secret_name or ""
        config["s3Credentials"] = {
            "accessKeyId": {"name": secret, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": secret, "key": "ACCESS_SECRET_KEY"},
        }
    return {
        "retentionPolicy": f"{store.retention_days}d",
        "configuration": config,
        "instanceSidecarConfiguration": {
            "resources": _guaranteed(f"{sidecar_cpu_m}m", f"{sidecar_memory_mib}Mi"),
        },
    }


def backup_problems(store: BackupStore, path: str) -> list[Problem]:
    """Destination scheme versus credentials; the secret a MinIO store needs."""
    problems: list[Problem] = []
    scheme = store.destination_path.split("://", 1)[0] if "://" in store.destination_path else ""
    wanted = "gs" if store.credentials is BackupCredentials.GKE_WORKLOAD_IDENTITY else "s3"
    if scheme != wanted:
        problems.append(
            Problem(
                f"{path}.destinationPath",
                store.destination_path,
                f"credentials {store.credentials.value} need a {wanted}:// path",
            )
        )
    if store.credentials is BackupCredentials.SECRET and not store.secret_name:
        problems.append(Problem(f"{path}.secretName", None, "credentials secret need a Secret name"))
    if store.retention_days < 1:
        problems.append(Problem(f"{path}.retentionDays", store.retention_days, "1 or more"))
    return problems
