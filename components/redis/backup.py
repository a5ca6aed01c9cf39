"""RedisBackup: one region's hourly Redis backups, kept 7 days, off the node (see redis_backup_plan).

Children: the CronJob ``redis-backup``, its ServiceAccount and NetworkPolicy, and by method:

- rdb-copy to GCS, memorystore-export: a private bucket (protected in production) whose lifecycle
  deletes RDB files after 7 days; a Google service account the job's Kubernetes service account acts
  as (workload identity). rdb-copy: it may only create objects. memorystore-export: it may only export
  (a custom role) and Memorystore's own identity may read the bucket's metadata and create objects.
- memorystore-backup: a Google service account with a custom role to take on-demand backups. The
  bucket of memorystore-export stays (unused), so the move from instance to cluster deletes nothing.
- rdb-copy to S3: a private bucket (lifecycle 7 days) and an IRSA role that may only put objects.
- elasticache-snapshot: an IRSA role for this group's ``-hourly-`` snapshots only.
- rdb-copy to an S3-compatible store: no cloud resources; the keys are in an existing Secret.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import buckets, kube
from components.cluster.eks import EksCluster
from components.cluster.gke import workload_identity_account
from components.redis import backup_plan as bp
from components.sdk import aws, gcp

TYPE = "phasescale:components:RedisBackup"

GCP_PERMISSIONS = {
    bp.Method.MEMORYSTORE_EXPORT: ["redis.instances.export", "redis.instances.get", "redis.operations.get"],
    bp.Method.MEMORYSTORE_BACKUP: ["redis.clusters.backup", "redis.clusters.get", "redis.operations.get"],
}
"""What the job's Google identity may do on Memorystore (a custom role: the predefined ones are admin)."""


@dataclass(frozen=True)
class RedisBackupArgs:
    plan: bp.BackupPlan
    export_identity: pulumi.Input[str] | None = None
    """memorystore-export: the instance's ``persistence_iam_identity`` (``serviceAccount:...``)."""
    eks: EksCluster | None = None
    """S3 and ElastiCache: the cluster whose OIDC provider the job's IAM role trusts."""
    protect: bool = False
    """Protect the bucket from deletion (production)."""


class RedisBackup(pulumi.ComponentResource):
    def __init__(self, name: str, args: RedisBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        self._child = pulumi.ResourceOptions(parent=self)
        annotations, grants = self._identity(name, args)

        def meta(extra: pulumi.Input[dict[str, str]] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": bp.NAME, "namespace": plan.namespace, "labels": bp.labels()}
            if extra is not None:
                out["annotations"] = extra
            return out

        account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(annotations), automount_service_account_token=False, opts=self._child
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(), spec=bp.network_policy_spec(), opts=self._child
        )
        self.cronjob = k8s.batch.v1.CronJob(
            name,
            metadata=meta(kube.checkov_skips(
                kube.CHECKOV_DIGEST_SKIP,
                ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
            )),
            spec=bp.cronjob_spec(plan),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account, *grants]),
        )
        self.register_outputs({"schedule": plan.schedule, "method": plan.method.value})

    def _identity(
        self, name: str, args: RedisBackupArgs
    ) -> tuple[pulumi.Input[dict[str, str]] | None, list[pulumi.Resource]]:
        """The ServiceAccount's annotations and the cloud resources the job needs before its first run."""
        plan = args.plan
        if plan.method is bp.Method.RDB_COPY and plan.store is bp.Store.S3_COMPATIBLE:
            return None, []
        if plan.method is bp.Method.ELASTICACHE_SNAPSHOT or plan.store is bp.Store.S3:
            return self._aws(name, args)
        return self._gcp(name, args)

    def _gcp(self, name: str, args: RedisBackupArgs) -> tuple[pulumi.Input[dict[str, str]], list[pulumi.Resource]]:
        plan = args.plan
        assert plan.project is not None and plan.location is not None
        account, binding = workload_identity_account(
            name, plan.project, f"{plan.cloud_name}-backup"[:30].rstrip("-"), f"Redis {name} hourly backups",
            plan.namespace, bp.NAME, self._child,
        )
        member = account.email.apply(lambda e: f"serviceAccount:{e}")
        grants: list[pulumi.Resource] = [binding]
        if plan.method in GCP_PERMISSIONS:
            role = gcp.projects.IAMCustomRole(
                name,
                project=plan.project,
                role_id=f"{plan.cloud_name}_backup".replace("-", "_"),
                title=f"Redis {plan.cloud_name} hourly backup",
                permissions=GCP_PERMISSIONS[plan.method],
                opts=self._child,
            )
            grants.append(gcp.projects.IAMMember(
                f"{name}-role", project=plan.project, role=role.name, member=member, opts=self._child
            ))
        if plan.store is bp.Store.GCS:
            # Also with memorystore-backup (unused then): a move to cluster mode must not delete the bucket.
            assert plan.bucket is not None
            bucket = buckets.gcs_bucket(
                name, plan.bucket, plan.project, plan.location, bp.gcs_lifecycle_rules(),
                pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            if plan.method is bp.Method.RDB_COPY:
                writers = {"writer": (member, "roles/storage.objectCreator")}
            elif plan.method is bp.Method.MEMORYSTORE_EXPORT:
                assert args.export_identity is not None, "memorystore-export needs the instance's export identity"
                writers = {
                    "writer": (args.export_identity, "roles/storage.objectCreator"),
                    "export-bucket": (args.export_identity, "roles/storage.legacyBucketReader"),  # checked first
                }
            else:
                writers = {}
            for suffix, (who, role_name) in writers.items():
                grants.append(gcp.storage.BucketIAMMember(
                    f"{name}-{suffix}", bucket=bucket.name, role=role_name, member=who, opts=self._child
                ))
        return account.email.apply(lambda e: {"iam.gke.io/gcp-service-account": e}), grants

    def _aws(self, name: str, args: RedisBackupArgs) -> tuple[pulumi.Input[dict[str, str]], list[pulumi.Resource]]:
        plan = args.plan
        assert args.eks is not None, "S3 and ElastiCache backups need the EKS cluster (IRSA)"
        grants: list[pulumi.Resource] = []
        if plan.method is bp.Method.ELASTICACHE_SNAPSHOT:
            policy = bp.elasticache_policy(plan.cloud_name)
        else:
            assert plan.bucket is not None
            _, grants = buckets.s3_bucket(
                name, plan.bucket, bp.s3_lifecycle_rules(), pulumi.ResourceOptions(parent=self, protect=args.protect),
                self,
            )
            policy = bp.s3_writer_policy(plan.bucket)
        role = args.eks.irsa_role(f"{plan.cloud_name}-backup", plan.namespace, bp.NAME, [])
        grants.append(aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=self._child))
        return role.arn.apply(lambda arn: {"eks.amazonaws.com/role-arn": arn}), grants
