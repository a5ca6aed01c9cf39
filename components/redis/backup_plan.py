"""Pure planning for RedisBackup: an RDB snapshot of every shard, every hour, off the node, kept 7 days.

One Kubernetes CronJob per region (``redis-backup`` in the app namespace), whatever the engine; only its
containers and the identity they run as differ:

- ``operator``: ``redis-cli --rdb`` streams an RDB from each primary (every master of CLUSTER NODES in
  cluster mode) onto a per-run volume; rclone then copies the run's folder to the region's bucket. On
  GCS and S3 the job may only create objects and the bucket's lifecycle deletes them after 7 days; on an
  S3-compatible endpoint (target existing) rclone itself deletes files older than 7 days.
- ``memorystore`` basic/HA: the Memorystore export API writes the instance's RDB into the bucket
  (``gcloud redis instances export``); lifecycle as above.
- ``memorystore`` cluster: an on-demand backup with a 7-day TTL (``gcloud redis clusters create-backup``),
  except in the hour of the daily automated backup (the API rejects a backup while another runs).
- ``elasticache``: a manual snapshot ``<group>-hourly-<UTC hour>``; the job deletes its own hourly
  snapshots older than 7 days (manual snapshots never expire). ElastiCache allows 20 manual snapshots
  per node in any 24 hours, so every sixth hour is skipped, starting with the hour of the daily automatic
  snapshot: 20 manual snapshots a day, at most two hours apart.

The shell scripts are constants driven by environment variables, so tests run them as they are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from enum import StrEnum

from components import kube
from components.redis import plan as rp

NAME = "redis-backup"
"""Kubernetes name of the CronJob, its ServiceAccount and its NetworkPolicy."""
KEEP_DAYS = rp.BACKUP_DAYS
MINUTE = 17
"""Minute past each hour the job starts (clear of the top of the hour, when other jobs pile up)."""
ELASTICACHE_SKIPPED_HOURS = tuple(sorted((int(rp.ELASTICACHE_SNAPSHOT_WINDOW[:2]) + h) % 24 for h in (0, 6, 12, 18)))
"""ElastiCache: at most 20 manual snapshots per node in any 24 hours (AWS ElastiCache backup constraints)."""
FOLDER = "rdb"
"""Object prefix of the RDB files in the bucket."""
RUN_DIR = "/backup"
TMP_DIR = "/tmp"
SECRETS_DIR = "/var/run/secrets/phasescale"
"""Secrets are mounted as files (not environment variables) and read by the scripts."""


class Method(StrEnum):
    RDB_COPY = "rdb-copy"
    MEMORYSTORE_EXPORT = "memorystore-export"
    MEMORYSTORE_BACKUP = "memorystore-backup"
    ELASTICACHE_SNAPSHOT = "elasticache-snapshot"


class Store(StrEnum):
    """Where RDB files go (rdb-copy and memorystore-export)."""

    GCS = "gcs"
    S3 = "s3"
    S3_COMPATIBLE = "s3-compatible"


@dataclass(frozen=True)
class Images:
    redis: str
    rclone: str
    gcloud: str
    aws: str


@dataclass(frozen=True)
class BackupPlan:
    """Everything that decides the backup objects of one region's Redis."""

    redis: rp.RedisPlan
    images: Images
    store: Store | None = None
    """RDB-file methods only; ``None`` with engine operator: no off-node backups (development)."""
    bucket: str | None = None
    endpoint_url: str | None = None
    """S3-compatible store: its URL; the keys are in ``secret_name``."""
    secret_name: str | None = None
    cloud_name: str = "redis"
    """Managed engines: the instance, cluster or replication group id."""
    project: str | None = None
    location: str | None = None
    """Cloud region of the managed Redis (Memorystore) or of the bucket (S3)."""

    @property
    def method(self) -> Method:
        engine, mode = self.redis.engine, self.redis.mode
        if engine is rp.Engine.OPERATOR:
            return Method.RDB_COPY
        if engine is rp.Engine.ELASTICACHE:
            return Method.ELASTICACHE_SNAPSHOT
        return Method.MEMORYSTORE_BACKUP if mode is rp.Mode.CLUSTER else Method.MEMORYSTORE_EXPORT

    @property
    def enabled(self) -> bool:
        return self.method is not Method.RDB_COPY or self.store is not None

    @property
    def namespace(self) -> str:
        return self.redis.namespace

    @property
    def skipped_hours(self) -> tuple[int, ...]:
        """UTC hours without a run: a managed service's own backup runs then, or its quota needs them."""
        if self.method is Method.ELASTICACHE_SNAPSHOT:
            return ELASTICACHE_SKIPPED_HOURS
        if self.method is Method.MEMORYSTORE_BACKUP:
            return (rp.MEMORYSTORE_BACKUP_HOUR,)
        return ()

    @property
    def schedule(self) -> str:
        hours = [h for h in range(24) if h not in self.skipped_hours]
        return f"{MINUTE} {_ranges(hours) if self.skipped_hours else '*'} * * *"

    @property
    def dump_gib(self) -> int:
        """The run volume: every primary's dataset (an RDB is at most about its maxmemory) plus 1 GiB."""
        return math.ceil(self.redis.shards * self.redis.maxmemory_mb / 1024) + 1


def _ranges(hours: list[int]) -> str:
    """``[0..16, 18..23]`` -> ``0-16,18-23``."""
    out: list[str] = []
    start = prev = hours[0]
    for h in [*hours[1:], -1]:
        if h != prev + 1:
            out.append(str(start) if start == prev else f"{start}-{prev}")
            start = h
        prev = h
    return ",".join(out)


# --- Scripts -------------------------------------------------------------------------------------

DUMP_SCRIPT = """\
set -eu
REDISCLI_AUTH=$(cat "$REDIS_PASSWORD_FILE")
export REDISCLI_AUTH
run="$RUN_DIR/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run"
if [ "$REDIS_MODE" = cluster ]; then
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" cluster nodes > "$run/nodes.txt"
  if awk '$3 ~ /master/ && $3 ~ /fail/ && NF >= 9 { bad = 1 } END { exit !bad }' "$run/nodes.txt"; then
    echo "a primary serving slots is failing; the job's retry comes after the failover" >&2
    exit 1
  fi
  awk '$3 ~ /master/ && NF >= 9 { split($2, a, "@"); print $1, a[1] }' "$run/nodes.txt" > "$run/primaries.txt"
  [ -s "$run/primaries.txt" ] || { echo "no primary serving slots in CLUSTER NODES" >&2; exit 1; }
  while read -r id addr; do
    redis-cli -h "${addr%:*}" -p "${addr##*:}" --rdb "$run/$id.rdb" < /dev/null
  done < "$run/primaries.txt"
else
  redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --rdb "$run/redis.rdb" < /dev/null
fi
ls -l "$run"
"""
"""Operator: one RDB per primary into a folder named by the UTC time; in cluster mode one per master that
serves slots (a node without slots is skipped), named by node id beside ``nodes.txt`` (which slots each
node served). A failing primary that still serves slots fails the run rather than leave a shard out."""

UPLOAD_SCRIPT = """\
set -eu
if [ -n "${KEYS_DIR:-}" ]; then
  RCLONE_CONFIG_DEST_ACCESS_KEY_ID=$(cat "$KEYS_DIR/ACCESS_KEY_ID")
  RCLONE_CONFIG_DEST_SECRET_ACCESS_KEY=$(cat "$KEYS_DIR/ACCESS_SECRET_KEY")
  export RCLONE_CONFIG_DEST_ACCESS_KEY_ID RCLONE_CONFIG_DEST_SECRET_ACCESS_KEY
fi
# the run's folder only: a fresh volume may also hold lost+found, which only root can read
for run in "$RUN_DIR"/*Z; do
  rclone copy --no-check-dest --retries 1 --stats-one-line -v "$run" "dest:$DEST/${run##*/}"
done
if [ "${PRUNE_DAYS:-0}" -gt 0 ]; then
  rclone delete --min-age "${PRUNE_DAYS}d" -v "dest:$DEST"
fi
"""
"""Operator: copy the run's folder without reading the destination (the job may only create objects);
on an S3-compatible store also delete files older than the retention."""

MEMORYSTORE_EXPORT_SCRIPT = """\
set -eu
gcloud redis instances export "gs://$BUCKET/$FOLDER/$(date -u +%Y%m%dT%H%M%SZ).rdb" "$INSTANCE" \\
  --region "$REGION" --project "$PROJECT" --quiet
"""

MEMORYSTORE_BACKUP_SCRIPT = """\
set -eu
gcloud redis clusters create-backup "$CLUSTER" --backup-id "hourly-$(date -u +%Y%m%dt%H%M)" \\
  --ttl "${KEEP_DAYS}d" --region "$REGION" --project "$PROJECT" --quiet
"""

ELASTICACHE_SCRIPT = """\
set -eu
prefix="$GROUP-hourly-"
name="$prefix$(date -u +%Y%m%d%H)"
# a retry in the same hour finds the snapshot taken already instead of spending quota on another
aws elasticache create-snapshot --replication-group-id "$GROUP" --snapshot-name "$name" --output text > /dev/null \\
  || aws elasticache describe-snapshots --snapshot-name "$name" --output text > /dev/null
cutoff=$(date -u -d "@$(( $(date -u +%s) - KEEP_DAYS * 86400 ))" +%Y%m%d%H)
for name in $(aws elasticache describe-snapshots --replication-group-id "$GROUP" --snapshot-source manual \\
    --query "Snapshots[?starts_with(SnapshotName, '$prefix')].SnapshotName" --output text); do
  stamp=${name#"$prefix"}
  if [ "$stamp" -lt "$cutoff" ]; then
    aws elasticache delete-snapshot --snapshot-name "$name" --output text > /dev/null
    echo "deleted $name"
  fi
done
"""
"""ElastiCache: take this hour's snapshot, then delete this job's snapshots older than the retention
(the stamp in the name is compared as a number: same width, most significant first)."""


# --- Kubernetes objects ----------------------------------------------------------------------------


def labels() -> dict[str, str]:
    return kube.labels(NAME, "redis-backup")


def _env(values: dict[str, str]) -> list[dict[str, object]]:
    return [{"name": k, "value": v} for k, v in values.items()]


def _container(name: str, image: str, script: str, env: list[dict[str, object]],
               mounts: list[dict[str, object]], memory_mib: int) -> dict[str, object]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["/bin/sh", "-c", script],
        "env": env,
        "resources": kube.resources(100, memory_mib, 1000),
        "securityContext": kube.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": TMP_DIR}, *mounts],
    }


def rclone_env(plan: BackupPlan) -> list[dict[str, object]]:
    """The ``dest`` remote, configured by environment (no config file): workload identity on GCS, IRSA
    on S3 (the SDK's web-identity chain), static keys from a Secret on an S3-compatible store."""
    assert plan.store is not None and plan.bucket is not None
    env = {"DEST": f"{plan.bucket}/{FOLDER}", "RUN_DIR": RUN_DIR, "HOME": TMP_DIR,
           "RCLONE_CONFIG": f"{TMP_DIR}/rclone.conf"}
    if plan.store is Store.GCS:
        # no_check_bucket: rclone would list the bucket before each upload (objectCreator cannot)
        env.update(RCLONE_CONFIG_DEST_TYPE="google cloud storage", RCLONE_CONFIG_DEST_ENV_AUTH="true",
                   RCLONE_CONFIG_DEST_BUCKET_POLICY_ONLY="true", RCLONE_CONFIG_DEST_NO_CHECK_BUCKET="true")
        return _env(env)
    env.update(RCLONE_CONFIG_DEST_TYPE="s3", RCLONE_CONFIG_DEST_NO_CHECK_BUCKET="true")
    if plan.store is Store.S3:
        assert plan.location is not None
        # no_head: rclone would read each object back after the upload (PutObject only cannot)
        env.update(RCLONE_CONFIG_DEST_PROVIDER="AWS", RCLONE_CONFIG_DEST_ENV_AUTH="true",
                   RCLONE_CONFIG_DEST_REGION=plan.location, RCLONE_CONFIG_DEST_NO_HEAD="true")
        return _env(env)
    assert plan.endpoint_url is not None
    env.update(RCLONE_CONFIG_DEST_PROVIDER="Other", RCLONE_CONFIG_DEST_ENDPOINT=plan.endpoint_url,
               RCLONE_CONFIG_DEST_FORCE_PATH_STYLE="true", PRUNE_DAYS=str(KEEP_DAYS), KEYS_DIR=f"{SECRETS_DIR}/keys")
    return _env(env)


def _secret_volume(name: str, secret: str, keys: tuple[str, ...]) -> dict[str, object]:
    return {"name": name, "secret": {"secretName": secret, "defaultMode": 0o440,
                                     "items": [{"key": k, "path": k} for k in keys]}}


def _secret_mount(name: str) -> dict[str, object]:
    return {"name": name, "mountPath": f"{SECRETS_DIR}/{name}", "readOnly": True}


def containers(plan: BackupPlan) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(init containers, containers) of the job's pod."""
    r = plan.redis
    if plan.method is Method.RDB_COPY:
        run: dict[str, object] = {"name": "run", "mountPath": RUN_DIR}
        dump_env = _env({"REDIS_HOST": r.endpoint, "REDIS_PORT": str(rp.REDIS_PORT), "REDIS_MODE": r.mode.value,
                         "RUN_DIR": RUN_DIR, "HOME": TMP_DIR, "REDIS_PASSWORD_FILE": f"{SECRETS_DIR}/auth/password"})
        dump = _container("dump", plan.images.redis, DUMP_SCRIPT, dump_env, [run, _secret_mount("auth")], 128)
        dump["securityContext"] = kube.container_security_context(rp.REDIS_UID)
        keys = [_secret_mount("keys")] if plan.store is Store.S3_COMPATIBLE else []
        upload = _container("upload", plan.images.rclone, UPLOAD_SCRIPT, rclone_env(plan), [run, *keys], 256)
        return [dump], [upload]
    common = {"HOME": TMP_DIR, "KEEP_DAYS": str(KEEP_DAYS)}
    if plan.method is Method.ELASTICACHE_SNAPSHOT:
        env = _env({**common, "GROUP": plan.cloud_name, "AWS_REGION": plan.location or "",
                    "AWS_PAGER": ""})
        return [], [_container("snapshot", plan.images.aws, ELASTICACHE_SCRIPT, env, [], 256)]
    gcloud = {**common, "CLOUDSDK_CONFIG": f"{TMP_DIR}/gcloud", "PROJECT": plan.project or "",
              "REGION": plan.location or ""}
    if plan.method is Method.MEMORYSTORE_BACKUP:
        env = _env({**gcloud, "CLUSTER": plan.cloud_name})
        return [], [_container("backup", plan.images.gcloud, MEMORYSTORE_BACKUP_SCRIPT, env, [], 256)]
    env = _env({**gcloud, "INSTANCE": plan.cloud_name, "BUCKET": plan.bucket or "", "FOLDER": FOLDER})
    return [], [_container("export", plan.images.gcloud, MEMORYSTORE_EXPORT_SCRIPT, env, [], 256)]


def _run_volume(plan: BackupPlan) -> dict[str, object]:
    """A per-run PersistentVolumeClaim, deleted with the pod: a phase-4 cluster's RDBs (tens of GiB)
    must not fill the node's ephemeral disk."""
    spec: dict[str, object] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{plan.dump_gib}Gi"}},
    }
    if plan.redis.storage_class:
        spec["storageClassName"] = plan.redis.storage_class
    return {"name": "run", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": labels()}, "spec": spec}}}


def cronjob_spec(plan: BackupPlan) -> dict[str, object]:
    init, main = containers(plan)
    volumes: list[dict[str, object]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if plan.method is Method.RDB_COPY:
        volumes += [_run_volume(plan), _secret_volume("auth", plan.redis.secret_name, ("password",))]
        if plan.store is Store.S3_COMPATIBLE:
            assert plan.secret_name is not None
            volumes.append(_secret_volume("keys", plan.secret_name, ("ACCESS_KEY_ID", "ACCESS_SECRET_KEY")))
    pod: dict[str, object] = {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "restartPolicy": "Never",
        "securityContext": kube.pod_security_context(rp.REDIS_UID if init else kube.NONROOT_UID),
        "containers": main,
        "volumes": volumes,
    }
    if init:
        pod["initContainers"] = init
    return {
        "schedule": plan.schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 900,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": labels()},
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": 50 * 60,
                "ttlSecondsAfterFinished": 24 * 3600,
                "template": {"metadata": {"labels": labels()}, "spec": pod},
            },
        },
    }


def network_policy_spec() -> dict[str, object]:
    """The job's pods accept no connections (they only call out: Redis, the cloud's APIs)."""
    return {"podSelector": {"matchLabels": kube.selector(NAME)}, "policyTypes": ["Ingress"], "ingress": []}


# --- Cloud permissions ---------------------------------------------------------------------------------


def s3_writer_policy(bucket: str) -> str:
    """Create-only: the job cannot read, overwrite-protect or delete backups; lifecycle expires them."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/{FOLDER}/*"}],
    })


def s3_lifecycle_rules() -> list[dict[str, object]]:
    return [{
        "id": f"expire-rdb-after-{KEEP_DAYS}-days",
        "status": "Enabled",
        "filter": {"prefix": f"{FOLDER}/"},
        "expiration": {"days": KEEP_DAYS},
        "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
    }]


def gcs_lifecycle_rules() -> list[dict[str, object]]:
    return [{"action": {"type": "Delete"}, "condition": {"age": KEEP_DAYS, "matches_prefixes": [f"{FOLDER}/"]}}]


def elasticache_policy(group: str) -> str:
    """Snapshots of one replication group, named ``<group>-hourly-*``, and nothing else."""
    snapshots = f"arn:aws:elasticache:*:*:snapshot:{group}-hourly-*"
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["elasticache:CreateSnapshot"],
             "Resource": [f"arn:aws:elasticache:*:*:replicationgroup:{group}", f"arn:aws:elasticache:*:*:cluster:{group}-*",
                          snapshots]},
            {"Effect": "Allow", "Action": ["elasticache:DeleteSnapshot"], "Resource": [snapshots]},
            {"Effect": "Allow", "Action": ["elasticache:DescribeSnapshots"], "Resource": "*"},
        ],
    })
