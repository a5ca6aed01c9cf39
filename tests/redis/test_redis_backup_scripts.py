"""The Redis backup job's scripts, run for real: Debian's redis-server (7.0.15 on bookworm; the operator's
image is 8.2.2, whose RDB format version 12 a 7.0 server cannot load, so a restore goes into 7.4+ and
these tests check the scripts, not cross-version loading) on loopback, standalone and a 3x2 cluster, then rclone to a local remote, and the RDB files
loaded back into a fresh Redis. The cloud CLIs (gcloud, aws) are stand-ins that record their calls and
answer like the real ones, so the scripts' own logic (names, retention) is what is tested."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.redis import backup_plan as bp
from components.redis import plan as rp

PASSWORD = "loopback-only-password"
IMAGES = bp.Images(redis="redis", rclone="rclone", gcloud="gcloud", aws="aws")

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("redis-server", "redis-cli", "rclone")),
    reason="needs redis-server, redis-cli and rclone (scripts/install-system-tools.sh)",
)


def free_port() -> int:
    """A free port whose cluster bus port (+10000) is free too (and below 65536)."""
    for port in random.sample(range(20000, 55000), 200):
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
                return port
        except OSError:
            continue
    raise RuntimeError("no free port pair on loopback")


def cli(port: int, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], check=True, capture_output=True, text=True, input=stdin,
        env={**os.environ, "REDISCLI_AUTH": PASSWORD},
    ).stdout.strip()


def start_redis(tmp: Path, *extra: str) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    tmp.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp), "--save", "",
         "--requirepass", PASSWORD, "--masterauth", PASSWORD,
         # production keeps the 5 s default (it waits for more replicas before streaming an RDB)
         "--repl-diskless-sync-delay", "0", *extra],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if cli(port, "ping") == "PONG":
                return port, proc
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def keys_in(rdb: Path, tmp: Path) -> set[str]:
    """Load an RDB into a fresh Redis (as a restore would) and list its keys."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(rdb, tmp / "dump.rdb")
    port, proc = start_redis(tmp, "--dbfilename", "dump.rdb", "--appendonly", "no")
    try:
        return set(cli(port, "--scan").split())
    finally:
        proc.terminate()
        proc.wait()


def env_of(container: dict[str, object], **override: str) -> dict[str, str]:
    """The container's environment, with the loopback overrides (paths of the secret files)."""
    env = {str(e["name"]): str(e["value"]) for e in container["env"] if "value" in e}  # type: ignore[attr-defined]
    return {**os.environ, **env, **override}


def password_file(tmp: Path) -> str:
    """The Secret's key as the pod sees it: a file."""
    (tmp / "password").write_text(PASSWORD)
    return str(tmp / "password")


def run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", script], env=env, capture_output=True, text=True, check=True)


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.terminate()
    for p in procs:
        p.wait()


def operator_plan(mode: rp.Mode, store: bp.Store = bp.Store.S3_COMPATIBLE) -> bp.BackupPlan:
    shards, replicas = (3, 1) if mode is rp.Mode.CLUSTER else (1, 0)
    redis = rp.RedisPlan(mode=mode, shards=shards, replicas_per_shard=replicas)
    return bp.BackupPlan(redis=redis, images=IMAGES, store=store, bucket="backups",
                         endpoint_url="http://seaweedfs:8333", secret_name="redis-backup-s3")


def test_standalone_dump_is_an_rdb_that_restores_every_key(tmp_path: Path, processes: list) -> None:
    port, proc = start_redis(tmp_path / "redis")
    processes.append(proc)
    cli(port, stdin="".join(f"set key:{i} value-{i}\n" for i in range(50)))
    (dump,), _ = bp.containers(operator_plan(rp.Mode.STANDALONE))
    assert dump["env"][0] == {"name": "REDIS_HOST", "value": "redis"}
    run(bp.DUMP_SCRIPT, env_of(dump, REDIS_HOST="127.0.0.1", REDIS_PORT=str(port), RUN_DIR=str(tmp_path / "run"),
                               REDIS_PASSWORD_FILE=password_file(tmp_path)))
    (folder,) = (tmp_path / "run").iterdir()
    assert len(folder.name) == 16 and folder.name.endswith("Z")  # 20261122T071700Z
    assert [f.name for f in folder.iterdir()] == ["redis.rdb"]
    assert (folder / "redis.rdb").read_bytes()[:5] == b"REDIS"
    assert keys_in(folder / "redis.rdb", tmp_path / "restore") == {f"key:{i}" for i in range(50)}


def test_cluster_dump_takes_one_rdb_per_primary_and_together_they_hold_every_key(
    tmp_path: Path, processes: list
) -> None:
    ports = []
    for i in range(6):
        port, proc = start_redis(tmp_path / f"node{i}", "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                                 "--cluster-config-file",
                                 str(tmp_path / f"node{i}" / "nodes.conf"))
        processes.append(proc)
        ports.append(port)
    subprocess.run(
        ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports], "--cluster-replicas", "1",
         "--cluster-yes"],
        check=True, capture_output=True, env={**os.environ, "REDISCLI_AUTH": PASSWORD},
    )
    for _ in range(100):  # every node agrees: 6 nodes known, 3 of them replicas, all slots served
        infos = [cli(p, "cluster", "info") for p in ports]
        roles = [cli(p, "cluster", "nodes").count("slave") for p in ports]
        if all("cluster_state:ok" in i and "cluster_known_nodes:6" in i for i in infos) and set(roles) == {3}:
            break
        time.sleep(0.1)
    keys = {f"user:{i}" for i in range(200)}
    cli(ports[0], "-c", stdin="".join(f"set {k} x\n" for k in sorted(keys)))
    (dump,), _ = bp.containers(operator_plan(rp.Mode.CLUSTER))
    assert dump["env"][:3] == [{"name": "REDIS_HOST", "value": "redis-leader"},
                               {"name": "REDIS_PORT", "value": "6379"}, {"name": "REDIS_MODE", "value": "cluster"}]
    run(bp.DUMP_SCRIPT, env_of(dump, REDIS_HOST="127.0.0.1", REDIS_PORT=str(ports[3]),
                               RUN_DIR=str(tmp_path / "run"), REDIS_PASSWORD_FILE=password_file(tmp_path)))
    (folder,) = (tmp_path / "run").iterdir()
    masters = {n.split()[0] for n in cli(ports[0], "cluster", "nodes").splitlines() if len(n.split()) > 8}
    assert {f.name for f in folder.iterdir()} == {"nodes.txt", "primaries.txt", *(f"{m}.rdb" for m in masters)}
    restored: set[str] = set()
    for m in masters:
        part = keys_in(folder / f"{m}.rdb", tmp_path / f"restore-{m}")
        assert part and not part & restored  # each primary holds its own slots' keys
        restored |= part
    assert restored == keys


NODES = """\
07c37dfeb235213a872192d90877d0cd55635b91 10.0.1.5:6379@16379 myself,slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 0 4 connected
67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 10.0.1.6:6379@16379 master{flag} - 0 0 2 connected 5461-10922
e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 10.0.1.7:6379@16379 master - 0 0 1 connected 0-5460
292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 10.0.1.8:6379@16379 master - 0 0 3 connected 10923-16383
6ec23923021cf3ffa233f4a8b9cba1a1e4f3ff7c 10.0.1.9:6379@16379 master - 0 0 0 connected
"""


@pytest.mark.parametrize("flag", ["", ",fail?", ",fail"])
def test_cluster_dump_refuses_to_skip_a_failing_primary(tmp_path: Path, flag: str) -> None:
    """Against CLUSTER NODES as a stand-in redis-cli answers it: every master serving slots, or none."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "nodes").write_text(NODES.format(flag=flag))
    (bin_dir / "redis-cli").write_text(
        "#!/bin/sh\n"
        f'case "$*" in *"cluster nodes"*) cat {tmp_path}/nodes;; *--rdb*) echo "$*" >> {tmp_path}/dumps;; esac\n'
    )
    (bin_dir / "redis-cli").chmod(0o755)
    (dump,), _ = bp.containers(operator_plan(rp.Mode.CLUSTER))
    env = env_of(dump, PATH=f"{bin_dir}:{os.environ['PATH']}", RUN_DIR=str(tmp_path / "run"),
                 REDIS_PASSWORD_FILE=password_file(tmp_path))
    proc = subprocess.run(["/bin/sh", "-c", bp.DUMP_SCRIPT], env=env, capture_output=True, text=True)
    if flag:
        assert proc.returncode == 1 and "a primary serving slots is failing" in proc.stderr
        assert not (tmp_path / "dumps").exists()
    else:
        assert proc.returncode == 0, proc.stderr
        hosts = sorted(line.split()[1] for line in (tmp_path / "dumps").read_text().splitlines())
        assert hosts == ["10.0.1.6", "10.0.1.7", "10.0.1.8"]  # not the replica, nor the master without slots


def test_upload_copies_the_run_and_prunes_only_files_past_the_retention(tmp_path: Path) -> None:
    plan = operator_plan(rp.Mode.STANDALONE)
    _, (upload,) = bp.containers(plan)
    env = env_of(upload)
    assert env["DEST"] == "backups/rdb" and env["PRUNE_DAYS"] == "7"
    assert env["RCLONE_CONFIG_DEST_ENDPOINT"] == "http://seaweedfs:8333"
    run_dir = tmp_path / "run" / "20261122T071700Z"
    run_dir.mkdir(parents=True)
    (run_dir / "redis.rdb").write_bytes(b"REDIS0010")
    (tmp_path / "run" / "lost+found").mkdir()  # ext4 volumes have one
    (tmp_path / "run" / "lost+found" / "#12").write_bytes(b"")
    bucket = tmp_path / "bucket"
    old, recent = bucket / "rdb" / "20261114T071700Z", bucket / "rdb" / "20261116T071700Z"
    for folder, days in ((old, 8), (recent, 6)):
        folder.mkdir(parents=True)
        (folder / "redis.rdb").write_bytes(b"REDIS0010")
        stamp = time.time() - days * 86400
        os.utime(folder / "redis.rdb", (stamp, stamp))
    assert env["KEYS_DIR"] == "/var/run/secrets/phasescale/keys"
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "ACCESS_KEY_ID").write_text("dev-key")
    (keys / "ACCESS_SECRET_KEY").write_text("dev-secret")
    local = {k: v for k, v in env.items() if not k.startswith("RCLONE_CONFIG_DEST_")}
    run(bp.UPLOAD_SCRIPT, {**local, "RCLONE_CONFIG_DEST_TYPE": "local", "RUN_DIR": str(tmp_path / "run"),
                           "KEYS_DIR": str(keys),
                           "DEST": str(bucket / "rdb"), "HOME": str(tmp_path),
                           "RCLONE_CONFIG": str(tmp_path / "rclone.conf")})
    files = sorted(str(p.relative_to(bucket)) for p in bucket.rglob("*") if p.is_file())
    assert files == ["rdb/20261116T071700Z/redis.rdb", "rdb/20261122T071700Z/redis.rdb"]


def fake_cli(tmp: Path, name: str, answer: str = "", fail: str = "") -> Path:
    """A stand-in CLI on PATH that appends its arguments to calls.txt, prints ``answer`` when listing
    snapshots and fails (exit 254, as the AWS CLI does) when its arguments contain ``fail``."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / name
    never = fail or "@never@"
    exe.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {tmp}/calls.txt\n'
        f'case "$*" in *"{never}"*) exit 254;; esac\n'
        f'case "$*" in *--query*) printf "%s\\n" "{answer}";; esac\n'
    )
    exe.chmod(0o755)
    return bin_dir


def calls(tmp: Path) -> list[str]:
    return (tmp / "calls.txt").read_text().splitlines()


def elasticache_job() -> dict[str, object]:
    redis = rp.RedisPlan(engine=rp.Engine.ELASTICACHE, mode=rp.Mode.CLUSTER, shards=3, replicas_per_shard=1)
    plan = bp.BackupPlan(redis=redis, images=IMAGES, cloud_name="prod-seoul-redis", location="ap-northeast-2")
    # 20 manual snapshots a day (the per-node quota); 17:00 is the automatic snapshot's hour
    assert plan.schedule == "17 0-4,6-10,12-16,18-22 * * *"
    _, (job,) = bp.containers(plan)
    return job


def test_elasticache_job_snapshots_and_deletes_only_its_own_snapshots_past_7_days(tmp_path: Path) -> None:
    old = time.strftime("%Y%m%d%H", time.gmtime(time.time() - 8 * 86400))
    young = time.strftime("%Y%m%d%H", time.gmtime(time.time() - 6 * 86400))
    answer = f"prod-seoul-redis-hourly-{old}\tprod-seoul-redis-hourly-{young}"
    bin_dir = fake_cli(tmp_path, "aws", answer)
    hour = time.strftime("%Y%m%d%H", time.gmtime())
    run(bp.ELASTICACHE_SCRIPT, env_of(elasticache_job(), PATH=f"{bin_dir}:{os.environ['PATH']}"))
    create, describe, *deletes = calls(tmp_path)
    assert create == ("elasticache create-snapshot --replication-group-id prod-seoul-redis "
                      f"--snapshot-name prod-seoul-redis-hourly-{hour} --output text")
    assert describe == (
        "elasticache describe-snapshots --replication-group-id prod-seoul-redis --snapshot-source manual "
        "--query Snapshots[?starts_with(SnapshotName, 'prod-seoul-redis-hourly-')].SnapshotName --output text"
    )
    assert deletes == [f"elasticache delete-snapshot --snapshot-name prod-seoul-redis-hourly-{old} --output text"]


def test_elasticache_retry_in_the_same_hour_reuses_the_snapshot_and_a_real_failure_fails(tmp_path: Path) -> None:
    bin_dir = fake_cli(tmp_path, "aws", fail="create-snapshot")
    env = env_of(elasticache_job(), PATH=f"{bin_dir}:{os.environ['PATH']}")
    run(bp.ELASTICACHE_SCRIPT, env)  # this hour's snapshot exists: describe finds it, pruning goes on
    assert [c.split()[1] for c in calls(tmp_path)] == ["create-snapshot", "describe-snapshots", "describe-snapshots"]
    failing = fake_cli(tmp_path, "aws", fail="snapshot")  # no snapshot of this hour either
    with pytest.raises(subprocess.CalledProcessError):
        run(bp.ELASTICACHE_SCRIPT, {**env, "PATH": f"{failing}:{os.environ['PATH']}"})


def test_memorystore_jobs_export_the_instance_and_back_up_the_cluster_for_7_days(tmp_path: Path) -> None:
    bin_dir = fake_cli(tmp_path, "gcloud")
    for mode in (rp.Mode.REPLICATION, rp.Mode.CLUSTER):
        shards, replicas = (3, 1) if mode is rp.Mode.CLUSTER else (1, 2)
        redis = rp.RedisPlan(engine=rp.Engine.MEMORYSTORE, mode=mode, shards=shards, replicas_per_shard=replicas)
        plan = bp.BackupPlan(redis=redis, images=IMAGES, store=bp.Store.GCS, bucket="p-prod-redis-seoul",
                             cloud_name="prod-seoul-redis", project="p", location="asia-northeast3")
        _, (job,) = bp.containers(plan)
        script = job["command"][2]  # type: ignore[index]
        run(script, env_of(job, PATH=f"{bin_dir}:{os.environ['PATH']}"))
    export, backup = calls(tmp_path)
    day = time.strftime("%Y%m%d", time.gmtime())
    assert export.startswith(f"redis instances export gs://p-prod-redis-seoul/rdb/{day}T")
    assert export.endswith(".rdb prod-seoul-redis --region asia-northeast3 --project p --quiet")
    assert backup.startswith(f"redis clusters create-backup prod-seoul-redis --backup-id hourly-{day}t")
    assert backup.endswith("--ttl 7d --region asia-northeast3 --project p --quiet")
