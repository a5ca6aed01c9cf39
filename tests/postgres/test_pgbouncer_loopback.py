"""The rendered pgbouncer.ini really works: PostgreSQL 15 primary + streaming replica on loopback,
PgBouncer in front with our config and auth file, driven with ``psql``.

Needs the Debian packages postgresql-15 (server + client) and pgbouncer. Runs as the ``postgres``
user when the tests run as root (initdb and pgbouncer refuse root).
"""

from __future__ import annotations

import base64
import os
import pwd
import select
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.postgres.pgbouncer_plan import (
    Endpoint,
    SslMode,
    pgbouncer_ini,
    ro_database,
    scram_sha256_secret,
    userlist_line,
)
from components.postgres.plan import PoolerSizing, PostgresSizing, postgres_parameters

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SETUP_HINT = (
    "run the project's setup first (Debian: apt-get install -y postgresql-15 postgresql-client-15 pgbouncer)"
)
DB, APP_USER, APP_PASSWORD = "appdb", "app", "app-pw-1"
ADMIN_USER, ADMIN_PASSWORD = "pgbouncer_admin", "admin-pw-1"
REPL_USER, REPL_PASSWORD = "replicator", "repl-pw-1"
# One server connection per pool: two clients sharing it proves transaction pooling.
POOLER = PoolerSizing(
    instances=1, max_client_conn=20, default_pool_size=1, min_pool_size=0, reserve_pool_size=0
)


def _binary(path: Path | str) -> str:
    found = shutil.which(str(path))
    if not found:
        pytest.fail(f"{path} not found: {SETUP_HINT}")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Loopback:
    root: Path
    primary_port: int
    replica_port: int
    bouncer_port: int
    bouncer_log: Path
    as_server_user: list[str]

    def run(self, cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.as_server_user, *cmd], capture_output=True, text=True, timeout=30, env=env
        )
        if done.returncode != 0:
            raise AssertionError(f"{cmd[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done

    def admin_sql(self, port: int, sql: str, db: str = "postgres") -> str:
        """Superuser over the Unix socket (local trust), straight to a server."""
        return psql(f"host={self.root} port={port} dbname={db} user=postgres", sql)

    def via_bouncer(self, db: str, sql: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        dsn = f"host=127.0.0.1 port={self.bouncer_port} dbname={db} user={APP_USER} password={APP_PASSWORD} sslmode=disable"
        return psql_run(dsn, sql, check=check)


def psql_run(
    dsn: str, sql: str, check: bool = True, timeout_s: float = 10
) -> subprocess.CompletedProcess[str]:
    cmd = ["psql", dsn, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    if check and done.returncode != 0:
        raise AssertionError(f"psql failed ({done.returncode}): {done.stderr}")
    return done


def psql(dsn: str, sql: str) -> str:
    return psql_run(dsn, sql).stdout.strip()


@pytest.fixture(scope="module")
def loopback() -> Iterator[Loopback]:
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        _binary(PG_BIN / tool)
    _binary("psql")
    pgbouncer = _binary(shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")

    as_root = os.geteuid() == 0
    prefix: list[str] = []
    if as_root:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(f"no 'postgres' user to run the servers as: {SETUP_HINT}")
        prefix = [_binary("runuser"), "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="phasescale-pg-"))
    if as_root:
        os.chown(root, server_user.pw_uid, server_user.pw_gid)
    lb = Loopback(root, _free_port(), _free_port(), _free_port(), root / "pgbouncer.log", prefix)
    started: list[Path] = []
    bouncer: subprocess.Popen[bytes] | None = None
    try:
        # Primary: scram-sha-256 on TCP, trust on the private socket directory for setup only.
        pwfile = root / "pw"
        pwfile.write_text("unused-superuser-pw\n")
        if as_root:
            os.chown(pwfile, server_user.pw_uid, server_user.pw_gid)
        primary, replica = root / "primary", root / "replica"
        lb.run(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(primary),
                "-U",
                "postgres",
                "--no-sync",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}",
            ]
        )
        params = postgres_parameters(PostgresSizing(cpu=1, memory_gib=1, storage_gib=10, read_replicas=1))
        params |= {"listen_addresses": "'127.0.0.1'", "unix_socket_directories": f"'{root}'", "fsync": "off"}
        with (primary / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in params.items())
        with (primary / "pg_hba.conf").open("a") as hba:
            hba.write(f"host replication {REPL_USER} 127.0.0.1/32 scram-sha-256\n")
        lb.run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(primary),
                "-o",
                f"-p {lb.primary_port}",
                "-l",
                str(root / "primary.log"),
                "-w",
                "-t",
                "20",
                "start",
            ]
        )
        started.append(primary)
        lb.admin_sql(lb.primary_port, f"CREATE ROLE {REPL_USER} LOGIN REPLICATION PASSWORD '{REPL_PASSWORD}'")
        app_secret = scram_sha256_secret(APP_PASSWORD)
        lb.admin_sql(lb.primary_port, f"CREATE ROLE {APP_USER} LOGIN PASSWORD '{app_secret}'")
        lb.admin_sql(lb.primary_port, f"CREATE DATABASE {DB} OWNER {APP_USER}")
        lb.admin_sql(lb.primary_port, "CREATE TABLE items (id int PRIMARY KEY, note text)", db=DB)
        lb.admin_sql(lb.primary_port, f"ALTER TABLE items OWNER TO {APP_USER}", db=DB)

        # Streaming replica over the replication role (scram-sha-256), recovery config by -R.
        lb.run(
            [
                str(PG_BIN / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(lb.primary_port),
                "-U",
                REPL_USER,
                "-D",
                str(replica),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
                "--no-sync",
            ],
            env={**os.environ, "PGPASSWORD": REPL_PASSWORD},
        )
        lb.run(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(replica),
                "-o",
                f"-p {lb.replica_port}",
                "-l",
                str(root / "replica.log"),
                "-w",
                "-t",
                "20",
                "start",
            ]
        )
        started.append(replica)

        # PgBouncer with the rendered config; the app user's verifier is the one the server stores.
        ini = pgbouncer_ini(
            DB,
            Endpoint("127.0.0.1", lb.primary_port),
            [Endpoint("127.0.0.1", lb.replica_port)],
            POOLER,
            listen_addr="127.0.0.1",
            listen_port=lb.bouncer_port,
            auth_file=str(root / "userlist.txt"),
            server_tls_sslmode=SslMode.DISABLE,
            admin_users=(ADMIN_USER,),
            stats_users=(ADMIN_USER,),
            pidfile=str(root / "pgbouncer.pid"),
        )
        (root / "pgbouncer.ini").write_text(ini)
        (root / "userlist.txt").write_text(
            userlist_line(APP_USER, app_secret) + "\n" + userlist_line(ADMIN_USER, ADMIN_PASSWORD) + "\n"
        )
        if as_root:
            for name in ("pgbouncer.ini", "userlist.txt"):
                os.chown(root / name, server_user.pw_uid, server_user.pw_gid)
        user_flag = ["-u", "postgres"] if as_root else []
        with lb.bouncer_log.open("wb") as log:
            bouncer = subprocess.Popen(
                [pgbouncer, *user_flag, str(root / "pgbouncer.ini")], stdout=log, stderr=log
            )
        try:
            _wait_port(lb.bouncer_port)
        except TimeoutError:
            pytest.fail(f"pgbouncer did not start:\n{lb.bouncer_log.read_text()}")
        yield lb
    finally:
        if bouncer is not None:
            bouncer.terminate()
            try:
                bouncer.wait(timeout=5)
            except subprocess.TimeoutExpired:
                bouncer.kill()
                bouncer.wait(timeout=5)
        for datadir in reversed(started):
            subprocess.run(
                [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=30,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


def _wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_rw_entry_writes_on_the_primary_and_the_replica_receives_them(loopback: Loopback) -> None:
    out = loopback.via_bouncer(DB, "SELECT pg_is_in_recovery(), inet_server_port()").stdout.strip()
    assert out == f"f|{loopback.primary_port}"
    loopback.via_bouncer(DB, "INSERT INTO items VALUES (1, 'written through the pooler')")
    assert _wait_for(
        lambda: (
            loopback.admin_sql(loopback.replica_port, "SELECT note FROM items WHERE id = 1", db=DB)
            == "written through the pooler"
        )
    ), "the insert never reached the replica"


def test_ro_entry_reads_on_the_replica(loopback: Loopback) -> None:
    out = loopback.via_bouncer(
        ro_database(DB), "SELECT pg_is_in_recovery(), inet_server_port()"
    ).stdout.strip()
    assert out == f"t|{loopback.replica_port}"
    loopback.via_bouncer(DB, "INSERT INTO items VALUES (2, 'read me back')")
    assert _wait_for(
        lambda: (
            loopback.via_bouncer(ro_database(DB), "SELECT note FROM items WHERE id = 2").stdout.strip()
            == "read me back"
        )
    )


def test_write_through_ro_entry_fails(loopback: Loopback) -> None:
    done = loopback.via_bouncer(ro_database(DB), "INSERT INTO items VALUES (3, 'nope')", check=False)
    assert done.returncode != 0
    assert "read-only transaction" in done.stderr


def _read_line(proc: subprocess.Popen[str], timeout_s: float = 5.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        raise AssertionError("psql session gave no answer")
    return proc.stdout.readline().strip()


def test_transaction_pooling_shares_one_server_connection(loopback: Loopback) -> None:
    """Pool size 1: a client that stays connected between transactions holds no server connection,
    so a second client gets the same backend at once (session pooling would make it wait)."""
    dsn = (
        f"host=127.0.0.1 port={loopback.bouncer_port} dbname={DB} user={APP_USER} "
        f"password={APP_PASSWORD} sslmode=disable"
    )
    session = subprocess.Popen(
        ["psql", dsn, "-X", "-q", "-A", "-t"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert session.stdin is not None
        session.stdin.write("SELECT pg_backend_pid();\n")
        session.stdin.flush()
        first = _read_line(session)
        # The first client is still connected; in session mode this one would wait for it.
        other = psql_run(dsn, "SELECT pg_backend_pid()", timeout_s=5)
        assert other.stdout.strip() == first
        session.stdin.write("SELECT pg_backend_pid();\n")
        session.stdin.flush()
        assert _read_line(session) == first
        servers = loopback.admin_sql(
            loopback.primary_port, f"SELECT count(*) FROM pg_stat_activity WHERE usename = '{APP_USER}'"
        )
        assert int(servers) <= POOLER.server_connections_per_instance
    finally:
        session.terminate()
        session.wait(timeout=5)


def test_admin_console_reports_the_rendered_pool_settings(loopback: Loopback) -> None:
    dsn = (
        f"host=127.0.0.1 port={loopback.bouncer_port} dbname=pgbouncer user={ADMIN_USER} "
        f"password={ADMIN_PASSWORD} sslmode=disable"
    )
    config = dict(
        line.split("|")[:2] for line in psql(dsn, "SHOW CONFIG").splitlines() if line.count("|") >= 2
    )
    assert config["pool_mode"] == "transaction"
    assert config["auth_type"] == "scram-sha-256"
    assert config["max_client_conn"] == str(POOLER.max_client_conn)
    assert config["ignore_startup_parameters"] == "extra_float_digits"


def test_scram_secret_is_the_one_postgres_computes(loopback: Loopback) -> None:
    loopback.admin_sql(loopback.primary_port, "CREATE ROLE scram_probe LOGIN PASSWORD 'probe-pw-9'")
    stored = loopback.admin_sql(
        loopback.primary_port, "SELECT rolpassword FROM pg_authid WHERE rolname = 'scram_probe'"
    )
    iterations, salt_b64 = stored.split("$")[1].split(":")
    assert scram_sha256_secret("probe-pw-9", base64.b64decode(salt_b64), int(iterations)) == stored
    assert scram_sha256_secret("other-pw", base64.b64decode(salt_b64), int(iterations)) != stored
