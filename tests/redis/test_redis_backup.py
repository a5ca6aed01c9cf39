"""RedisBackup: one hourly CronJob per region, the identity it runs as and where the RDB goes, per
engine and target, from real stack files (prod, prod-aws) and temporary ones; the config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.redis import backup_plan as bp
from infra import plan as planner
from infra.diff import diff, render
from infra.settings import ConfigError
from tests import planning
from tests.planning import plan_of

COMPONENT = "phasescale:components:RedisBackup"
CRONJOB = "kubernetes:batch/v1:CronJob"
BUCKET_GCS, BUCKET_S3 = "gcp:storage/bucket:Bucket", "aws:s3/bucket:Bucket"


def write_stack(tmp_path: Path, target: str, phase: int, redis: dict[str, Any] | None = None,
                environment: str = "production") -> Path:
    return planning.write_stack(
        tmp_path, target, phase, environment,
        parts={"postgres": False, "cdn": False, "milvus": False, "gpu": False, "monitoring": False},
        redis=redis or {}, services={"api": {"image": "reg/api:1"}},
    )


def children(plan: planner.Plan) -> list[tuple[str, str]]:
    parent = f"{COMPONENT}::seoul-redis-backup"
    return sorted((r.type, r.name) for r in plan.records if r.parent == parent)


def pod_of(plan: planner.Plan) -> dict[str, Any]:
    job = plan.named(CRONJOB, "seoul-redis-backup").inputs
    assert job["metadata"]["name"] == "redis-backup"
    return job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_gke_operator_copies_each_rdb_to_a_protected_bucket_it_may_only_write(tmp_path: Path) -> None:
    plan = planner.run("t", 3, root=write_stack(tmp_path, "gke", 3))
    assert children(plan) == [
        ("gcp:serviceaccount/account:Account", "seoul-redis-backup"),
        ("gcp:serviceaccount/iAMMember:IAMMember", "seoul-redis-backup-wi"),
        ("gcp:storage/bucket:Bucket", "seoul-redis-backup"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-redis-backup-writer"),
        (CRONJOB, "seoul-redis-backup"),
        ("kubernetes:core/v1:ServiceAccount", "seoul-redis-backup-sa"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-backup-netpol"),
    ]
    bucket = plan.named(BUCKET_GCS, "seoul-redis-backup")
    assert bucket.protect is True
    assert bucket.inputs["name"] == "proj-t-redis-seoul"
    assert bucket.inputs["lifecycleRules"] == [
        {"action": {"type": "Delete"}, "condition": {"age": 7, "matchesPrefixes": ["rdb/"]}}
    ]
    assert (bucket.inputs["uniformBucketLevelAccess"], bucket.inputs["publicAccessPrevention"]) == (True, "enforced")
    writer = plan.named("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-redis-backup-writer").inputs
    assert (writer["role"], writer["member"]) == (
        "roles/storage.objectCreator", "serviceAccount:seoul-redis-backup@mock.iam.gserviceaccount.com")
    wi = plan.named("gcp:serviceaccount/iAMMember:IAMMember", "seoul-redis-backup-wi").inputs
    assert wi["member"] == "serviceAccount:proj.svc.id.goog[phasescale/redis-backup]"
    sa = plan.named("kubernetes:core/v1:ServiceAccount", "seoul-redis-backup-sa").inputs
    assert sa["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "seoul-redis-backup@mock.iam.gserviceaccount.com"}
    pod = pod_of(plan)
    (dump,), (upload,) = pod["initContainers"], pod["containers"]
    assert dump["image"] == "quay.io/opstree/redis:v8.2.2" and dump["command"][2] == bp.DUMP_SCRIPT
    assert env_of(dump)["REDIS_HOST"] == "redis-leader" and env_of(dump)["REDIS_MODE"] == "cluster"
    assert env_of(dump)["REDIS_PASSWORD_FILE"] == "/var/run/secrets/phasescale/auth/password"
    auth = next(v for v in pod["volumes"] if v["name"] == "auth")
    assert auth["secret"] == {"secretName": "redis-auth", "defaultMode": 0o440, "items": [{"key": "password", "path": "password"}]}
    up = env_of(upload)
    assert upload["command"][2] == bp.UPLOAD_SCRIPT
    assert (up["DEST"], up["RCLONE_CONFIG_DEST_TYPE"], up["RCLONE_CONFIG_DEST_ENV_AUTH"]) == (
        "proj-t-redis-seoul/rdb", "google cloud storage", "true")
    assert "PRUNE_DAYS" not in up  # the lifecycle deletes; the job cannot
    run = next(v for v in pod["volumes"] if v["name"] == "run")
    # three primaries of 8 GiB each, on a claim that lives as long as the pod
    assert run["ephemeral"]["volumeClaimTemplate"]["spec"]["resources"] == {"requests": {"storage": "25Gi"}}


def test_eks_operator_puts_objects_only_under_rdb_in_a_kms_encrypted_bucket(tmp_path: Path) -> None:
    plan = planner.run("t", 2, root=write_stack(tmp_path, "eks", 2))
    bucket = plan.named(BUCKET_S3, "seoul-redis-backup")
    assert bucket.protect is True and bucket.inputs["bucket"] == "phasescale-t-redis-seoul"
    lifecycle = plan.named("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
                           "seoul-redis-backup-lifecycle").inputs["rules"]
    assert lifecycle == [{"id": "expire-rdb-after-7-days", "status": "Enabled", "filter": {"prefix": "rdb/"},
                          "expiration": {"days": 7}, "abortIncompleteMultipartUpload": {"daysAfterInitiation": 1}}]
    sse = plan.named("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
                     "seoul-redis-backup-sse").inputs
    assert sse["rules"][0]["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms"}
    policy = json.loads(plan.named("aws:iam/rolePolicy:RolePolicy", "seoul-redis-backup").inputs["policy"])
    assert policy["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::phasescale-t-redis-seoul/rdb/*"}]
    trust = plan.named("aws:iam/role:Role", "t-seoul-redis-backup").inputs
    assert "system:serviceaccount:phasescale:redis-backup" in trust["assumeRolePolicy"]
    (dump,), (upload,) = pod_of(plan)["initContainers"], pod_of(plan)["containers"]
    assert env_of(dump)["REDIS_HOST"] == "redis-master"  # replication: the primary behind Sentinel
    up = env_of(upload)
    assert (up["RCLONE_CONFIG_DEST_PROVIDER"], up["RCLONE_CONFIG_DEST_ENV_AUTH"], up["RCLONE_CONFIG_DEST_REGION"]) == (
        "AWS", "true", "ap-northeast-2")


def test_existing_target_copies_to_the_s3_compatible_endpoint_and_prunes_there(tmp_path: Path) -> None:
    redis = {"backupEndpointUrl": "http://minio.storage.svc:9000", "backupBucketPrefix": "team-redis"}
    plan = planner.run("t", 1, root=write_stack(tmp_path, "existing", 1, redis))
    assert children(plan) == [
        (CRONJOB, "seoul-redis-backup"),
        ("kubernetes:core/v1:ServiceAccount", "seoul-redis-backup-sa"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-backup-netpol"),
    ]
    pod = pod_of(plan)
    up = env_of(pod["containers"][0])
    assert up["DEST"] == "team-redis-seoul/rdb" and up["PRUNE_DAYS"] == "7"
    assert up["RCLONE_CONFIG_DEST_ENDPOINT"] == "http://minio.storage.svc:9000"
    keys = next(v for v in pod["volumes"] if v["name"] == "keys")["secret"]
    assert keys["secretName"] == "redis-backup-s3"
    assert [i["key"] for i in keys["items"]] == ["ACCESS_KEY_ID", "ACCESS_SECRET_KEY"]
    development = planner.run("t", 1, root=write_stack(tmp_path, "existing", 1, environment="development"))
    assert not development.of_type(COMPONENT)  # development may run without off-node backups


def test_memorystore_instance_exports_into_a_bucket_its_own_identity_may_write() -> None:
    plan = plan_of("prod", 2)
    role = plan.named("gcp:projects/iAMCustomRole:IAMCustomRole", "seoul-redis-backup").inputs
    assert role["roleId"] == "prod_seoul_redis_backup"
    assert role["permissions"] == ["redis.instances.export", "redis.instances.get", "redis.operations.get"]
    writer = plan.named("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-redis-backup-writer").inputs
    assert writer["member"] == "serviceAccount:service-000000000000@cloud-redis.iam.gserviceaccount.com"
    (job,) = pod_of(plan)["containers"]
    assert job["image"].startswith("gcr.io/google.com/cloudsdktool/google-cloud-cli:")
    assert job["command"][2] == bp.MEMORYSTORE_EXPORT_SCRIPT
    assert {k: env_of(job)[k] for k in ("INSTANCE", "BUCKET", "REGION", "PROJECT")} == {
        "INSTANCE": "prod-seoul-redis", "BUCKET": "phasescale-prod-prod-redis-seoul",
        "REGION": "asia-northeast3", "PROJECT": "phasescale-prod"}
    assert plan.named(CRONJOB, "seoul-redis-backup").inputs["spec"]["schedule"] == "17 * * * *"


def test_memorystore_cluster_takes_on_demand_backups_with_a_ttl_and_keeps_the_export_bucket() -> None:
    plan = plan_of("prod", 3)
    bucket = plan.named(BUCKET_GCS, "seoul-redis-backup")  # phase 2's exports: kept, protected, no writer
    assert bucket.protect is True and bucket.inputs["name"] == "phasescale-prod-prod-redis-seoul"
    assert not [r for r in plan.of_type("gcp:storage/bucketIAMMember:BucketIAMMember") if "redis-backup" in r.name]
    changes = render(diff(plan_of("prod", 2), plan), 2, 3)
    assert [line for line in changes.splitlines() if "redis-backup" in line and line.startswith("STATEFUL")] == []
    role = plan.named("gcp:projects/iAMCustomRole:IAMCustomRole", "seoul-redis-backup").inputs
    assert role["permissions"] == ["redis.clusters.backup", "redis.clusters.get", "redis.operations.get"]
    (job,) = pod_of(plan)["containers"]
    assert job["command"][2] == bp.MEMORYSTORE_BACKUP_SCRIPT and env_of(job)["KEEP_DAYS"] == "7"
    # not in the hour of the daily automated backup (03:00), which would reject it
    assert plan.named(CRONJOB, "seoul-redis-backup").inputs["spec"]["schedule"] == "17 0-2,4-23 * * *"


def test_elasticache_snapshots_hourly_except_in_the_daily_snapshot_window() -> None:
    plan = plan_of("prod-aws")
    job = plan.named(CRONJOB, "seoul-redis-backup").inputs["spec"]
    assert job["schedule"] == "17 0-4,6-10,12-16,18-22 * * *" and job["timeZone"] == "Etc/UTC"
    (container,) = job["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("amazon/aws-cli:")
    assert env_of(container)["GROUP"] == "prod-aws-seoul-redis"
    policy = json.loads(plan.named("aws:iam/rolePolicy:RolePolicy", "seoul-redis-backup").inputs["policy"])
    create, delete, describe = policy["Statement"]
    assert create["Action"] == ["elasticache:CreateSnapshot"]
    assert describe == {"Effect": "Allow", "Action": ["elasticache:DescribeSnapshots"], "Resource": "*"}
    assert delete == {"Effect": "Allow", "Action": ["elasticache:DeleteSnapshot"],
                      "Resource": ["arn:aws:elasticache:*:*:snapshot:prod-aws-seoul-redis-hourly-*"]}
    assert not any(r.name == "seoul-redis-backup" for r in plan.of_type(BUCKET_S3))  # snapshots stay in ElastiCache


def test_the_job_is_hardened_and_runs_one_at_a_time() -> None:
    spec = plan_of("prod", 2).named(CRONJOB, "seoul-redis-backup").inputs["spec"]
    assert (spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == ("Forbid", 900)
    job = spec["jobTemplate"]["spec"]
    assert (job["backoffLimit"], job["activeDeadlineSeconds"], job["ttlSecondsAfterFinished"]) == (2, 3000, 86400)
    pod = job["template"]["spec"]
    assert (pod["restartPolicy"], pod["automountServiceAccountToken"], pod["serviceAccountName"]) == (
        "Never", False, "redis-backup")
    for c in pod["containers"]:
        ctx = c["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True and ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["runAsNonRoot"] is True and ctx["allowPrivilegeEscalation"] is False
    netpol = plan_of("prod", 2).named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-backup-netpol")
    assert netpol.inputs["spec"]["ingress"] == [] and netpol.inputs["spec"]["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize(
    ("target", "redis", "environment", "message"),
    [
        ("gke", {"backupEndpointUrl": "http://minio:9000"}, "production",
         "phasescale:redis.backupEndpointUrl: got 'http://minio:9000'; only for cluster.target existing; "
         "gke backs up to its own object storage"),
        ("existing", {}, "production",
         "phasescale:redis.backupEndpointUrl: got None; required on target existing in production: the hourly "
         "RDB backups need an S3-compatible endpoint (none: only the RDB on the node's volume)"),
    ],
)
def test_backup_config_errors(tmp_path: Path, target: str, redis: dict[str, Any], environment: str,
                              message: str) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", 1, root=write_stack(tmp_path, target, 1, redis, environment))
    assert message in str(err.value)
