"""PostgresCluster: one region's PostgreSQL, a primary and read replicas behind PgBouncer.

- engine ``cnpg`` (any target): a CloudNativePG ``Cluster`` (1 + read replicas instances, spread
  across zones), ``Pooler`` rw (and ro when there are replicas), WAL archiving and a daily base
  backup through the barman-cloud plugin into the cloud's object storage (GCS + workload identity,
  S3 + IRSA, or an S3-compatible endpoint with keys), PodMonitors and NetworkPolicies. With
  ``replica_of`` the Cluster is a CNPG *replica cluster*: bootstrapped from, and following, another
  region's archive (never a second primary). The operator and plugin releases must exist first
  (pass them in ``depends_on``).
- engine ``cloudsql`` / ``rds``: the managed primary and its read replicas in the cluster's VPC, and a
  :class:`~components.postgres.pgbouncer.PgBouncer` Deployment in the cluster in front of them.

The managed engines' helpers and resources are in :mod:`components.postgres.managed`, the pure CNPG
specs (Cluster, Pooler, backups, NetworkPolicies) in :mod:`components.postgres.cnpg_plan`.

Names never carry the phase: the data resources are named after the component (``{region}-pg``)
and replicas are added by number, so a phase change grows the database in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import buckets
from components.cluster.eks import EksCluster, VpcPlacement
from components.cluster.gke import workload_identity_account
from components.monitoring import exporters_plan as xp
from components.monitoring.exporters import ManagedExporter, ManagedExporterArgs
from components.postgres import cnpg_plan as cp
from components.postgres import connection as pc
from components.postgres import managed, pgbouncer_plan
from components.postgres import plan as pp
from components.postgres.managed import CloudSqlOptions, RdsSource
from components.sdk import aws, gcp

TYPE = "phasescale:components:PostgresCluster"


class Engine(StrEnum):
    CNPG = "cnpg"
    CLOUDSQL = "cloudsql"
    RDS = "rds"


@dataclass(frozen=True)
class GcsBackup:
    """A private, versioned GCS bucket; the instances' Kubernetes service account acts as a GCP one."""

    project: str
    location: str
    bucket: str


@dataclass(frozen=True)
class S3Backup:
    """A private, versioned, encrypted S3 bucket; the instances assume an IRSA role."""

    eks: EksCluster
    bucket: str


@dataclass(frozen=True)
class S3CompatibleBackup:
    """An S3-compatible endpoint (MinIO) whose keys are in ``secret_name`` (ACCESS_KEY_ID and
    ACCESS_SECRET_KEY); the bucket must exist."""

    endpoint_url: str
    bucket: str
    secret_name: str


Backup = GcsBackup | S3Backup | S3CompatibleBackup


@dataclass(frozen=True)
class ReplicaOf:
    """The primary region's cluster this one follows through its archive (``bucket``, same cloud)."""

    server_name: str
    bucket: str


@dataclass(frozen=True)
class PostgresClusterArgs:
    sizing: pp.PostgresSizing
    namespace: str
    engine: Engine = Engine.CNPG
    database: str = "app"
    owner: str = "app"
    password: pulumi.Input[str] | None = None
    """The owner's password (a secret). CNPG: none lets the operator generate ``<name>-app``."""
    client_apps: Sequence[str] = ()
    """``app.kubernetes.io/name`` of the app pods that may reach the poolers (same namespace)."""
    monitoring_namespace: str | None = None
    """Admitted to the metrics ports; with ``monitor_labels`` PodMonitors are created."""
    monitor_labels: dict[str, str] | None = None
    pgbouncer_image: str = "ghcr.io/cloudnative-pg/pgbouncer"
    protect: bool = False
    """Protect the data resources (Cluster, buckets, instances) from deletion (production)."""
    # cnpg
    postgres_image: str = "ghcr.io/cloudnative-pg/postgresql"
    storage_class: str | None = None
    operator_namespace: str = "cnpg-system"
    backup: Backup | None = None
    replica_of: ReplicaOf | None = None
    backup_retention_days: int = 30
    # managed
    cloud_name: str = "pg"
    """Physical name of managed instances and cloud resources (unique per project/account)."""
    regional_ha: bool = False
    """Managed: a synchronous standby in another zone (Cloud SQL REGIONAL, RDS Multi-AZ)."""
    cloudsql: CloudSqlOptions | None = None
    rds: VpcPlacement | None = None
    data_pool: bool = False
    """cnpg: the instances select and tolerate the tainted data node pool."""
    rds_peer_cidrs: tuple[str, ...] = ()
    """RDS primary: CIDRs of peered VPCs (other regions) admitted on 5432 besides its own VPC."""
    rds_replica_of: RdsSource | None = None
    """RDS in a second region: no primary here, a cross-region read replica of this source; writes
    go to the source through the VPC peering."""
    exporter_image: str | None = None
    """Managed, with ``monitor_labels``: a postgres_exporter per local instance (primary, replicas),
    scraped by the MonitoringStack (``pp.exporter_roles``); cnpg has the instance manager's own."""


# --- The component -----------------------------------------------------------------------------


class PostgresCluster(pulumi.ComponentResource):
    rw_host: pulumi.Output[str]
    ro_host: pulumi.Output[str]
    def __init__(self, name: str, args: PostgresClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        # Set here, not annotated on the class: Pulumi evaluates a component's class annotations,
        # which would import the AWS SDK on every target.
        self.rds_primary: aws.rds.Instance | None = None
        """RDS in the primary region: the primary instance (a second region's replica follows it)."""
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._data = pulumi.ResourceOptions(parent=self, protect=args.protect)
        if args.engine is Engine.CNPG:
            self._cnpg()
        else:
            self._managed()
        self.register_outputs({"rw": self.rw_host, "ro": self.ro_host})

    def _connection_secret(self, host: pulumi.Input[str], ro_host: pulumi.Input[str], ro_database: str) -> None:
        """``<name>-connection``: what the services read DATABASE_* from (components/postgres/connection.py)."""
        a, name = self._args, self._name
        password = pulumi.Output.secret(a.password) if a.password is not None else None
        self.connection_secret = k8s.core.v1.Secret(
            f"{name}-connection",
            metadata=self._meta(pc.secret_name(name)),
            type="Opaque",
            string_data=pc.connection_data(host, ro_host, a.database, ro_database, a.owner, password),
            opts=self._child,
        )

    def _meta(self, k8s_name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
        return {
            "name": k8s_name,
            "namespace": self._args.namespace,
            "labels": {**cp.cnpg_labels(self._name), **(labels or {})},
        }

    def _cr(self, suffix: str, kind: str, k8s_name: str, spec: Any, api: str = cp.CNPG_API,
            opts: pulumi.ResourceOptions | None = None, labels: dict[str, str] | None = None
            ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}{suffix}", api_version=api, kind=kind, metadata=self._meta(k8s_name, labels), spec=spec,
            opts=opts or self._child,
        )

    # --- CloudNativePG -------------------------------------------------------------------------

    def _cnpg(self) -> None:
        a, name = self._args, self._name
        sizing = a.sizing
        store = f"{name}-backup" if a.backup is not None else None
        annotations: pulumi.Output[dict[str, str]] | None = None
        after: list[pulumi.Resource] = []
        if a.backup is not None:
            annotations, creds, dest, after = self._backup_store(a.backup)
            stores = [(store, dest, True)]
            if a.replica_of is not None:
                origin_dest = f"{dest.split('://')[0]}://{a.replica_of.bucket}/"
                stores.append((f"{name}-origin", origin_dest, False))
            for store_name, path, keep in stores:
                assert store_name is not None
                spec = cp.object_store_spec(
                    cp.BackupStore(
                        destination_path=path,
                        credentials=creds,
                        endpoint_url=a.backup.endpoint_url if isinstance(a.backup, S3CompatibleBackup) else None,
                        secret_name=a.backup.secret_name if isinstance(a.backup, S3CompatibleBackup) else None,
                        retention_days=a.backup_retention_days,
                    )
                )
                if not keep:
                    spec.pop("retentionPolicy")  # the origin's own cluster prunes its archive
                after.append(self._cr(store_name.removeprefix(name), "ObjectStore", store_name, spec, cp.BARMAN_API))
        owner_secret = None
        if a.password is not None and a.replica_of is None:
            owner_secret = f"{name}-app-credentials"
            after.append(
                k8s.core.v1.Secret(
                    f"{name}-app-credentials",
                    metadata=self._meta(owner_secret),
                    type="kubernetes.io/basic-auth",
                    string_data={"username": a.owner, "password": pulumi.Output.secret(a.password)},
                    opts=self._child,
                )
            )

        def spec_of(sa_annotations: dict[str, str] | None) -> dict[str, object]:
            spec = cp.cnpg_cluster_spec(
                name, sizing, a.postgres_image, database=a.database, owner=a.owner, owner_secret=owner_secret,
                storage_class=a.storage_class, object_store=store, service_account_annotations=sa_annotations,
                data_pool=a.data_pool,
            )
            spec["monitoring"] = {"enablePodMonitor": False}  # deprecated in CNPG: our PodMonitor below
            if a.replica_of is not None:
                spec = cp.replica_cluster_spec(spec, f"{name}-origin", a.replica_of.server_name)
            return spec

        cluster_spec: pulumi.Input[dict[str, object]] = (
            annotations.apply(spec_of) if annotations is not None else spec_of(None)
        )
        self.cluster = self._cr(
            "", "Cluster", name, cluster_spec,
            opts=pulumi.ResourceOptions.merge(self._data, pulumi.ResourceOptions(depends_on=after)),
        )
        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=[self.cluster])
        poolers = [cp.pooler_name(name, t) for t in cp.pooler_types(sizing)]
        for kind in cp.pooler_types(sizing):
            spec = cp.cnpg_pooler_spec(name, sizing.pooler, kind, a.pgbouncer_image)
            spec["monitoring"] = {"enablePodMonitor": False}
            self._cr(f"-pooler-{kind.value}", "Pooler", cp.pooler_name(name, kind), spec, opts=on_cluster)
        if store is not None:
            self._cr("-daily", "ScheduledBackup", f"{name}-daily", cp.scheduled_backup_spec(name), opts=on_cluster)
        if a.monitor_labels is not None:
            for suffix, selector in (("-monitor", cp.instance_selector(name)), ("-pooler-monitor", cp.pooler_selector(poolers))):
                self._cr(
                    suffix, "PodMonitor", f"{name}{suffix}",
                    {"selector": selector, "podMetricsEndpoints": [{"port": "metrics", "interval": "15s"}]},
                    api="monitoring.coreos.com/v1", labels=a.monitor_labels,
                )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-pooler-netpol",
            metadata=self._meta(f"{name}-pooler"),
            spec=cp.pooler_network_policy(poolers, a.client_apps, a.monitoring_namespace),
            opts=self._child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(name),
            spec=cp.instance_network_policy(name, poolers, a.operator_namespace, a.monitoring_namespace),
            opts=self._child,
        )
        svc = f"{a.namespace}.svc"
        self.rw_host = pulumi.Output.from_input(f"{cp.pooler_name(name, cp.PoolerType.RW)}.{svc}")
        self.ro_host = pulumi.Output.from_input(f"{poolers[-1]}.{svc}")
        self._connection_secret(self.rw_host, self.ro_host, a.database)

    def _backup_store(
        self, backup: Backup
    ) -> tuple[pulumi.Output[dict[str, str]] | None, cp.BackupCredentials, str, list[pulumi.Resource]]:
        """The bucket and the identity the instances write it with: (service account annotations,
        credentials kind, destination path, resources the Cluster waits for)."""
        a, name = self._args, self._name
        origin = a.replica_of.bucket if a.replica_of is not None else None
        if isinstance(backup, S3CompatibleBackup):
            return None, cp.BackupCredentials.SECRET, f"s3://{backup.bucket}/", []
        if isinstance(backup, GcsBackup):
            # barman prunes after the retention; drop the versions it leaves behind a day later.
            pruned = {"action": {"type": "Delete"}, "condition": {"days_since_noncurrent_time": 1, "with_state": "ARCHIVED"}}
            bucket = buckets.gcs_bucket(f"{name}-backup", backup.bucket, backup.project, backup.location, [pruned],
                                        self._data, versioning=True)
            account, binding = workload_identity_account(
                f"{name}-backup", backup.project, f"{a.cloud_name}-backup"[:30],
                f"PostgreSQL {name} backups (barman-cloud)", a.namespace, name, self._child,
            )
            member = account.email.apply(lambda e: f"serviceAccount:{e}")
            grants: list[pulumi.Resource] = [
                gcp.storage.BucketIAMMember(
                    f"{name}-backup-admin", bucket=bucket.name, role="roles/storage.objectAdmin", member=member,
                    opts=self._child,
                ),
                binding,
            ]
            if origin:
                grants.append(
                    gcp.storage.BucketIAMMember(
                        f"{name}-origin-reader", bucket=origin, role="roles/storage.objectViewer", member=member,
                        opts=self._child,
                    )
                )
            annotations = account.email.apply(lambda e: {"iam.gke.io/gcp-service-account": e})
            return annotations, cp.BackupCredentials.GKE_WORKLOAD_IDENTITY, f"gs://{backup.bucket}/", grants
        _, settings = buckets.s3_bucket(
            f"{name}-backup", backup.bucket,
            [{"id": "expire-pruned-versions", "status": "Enabled", "filter": {},
              "noncurrent_version_expiration": {"noncurrent_days": 1},
              "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
            self._data, self, versioning=True,
        )
        role = backup.eks.irsa_role(f"{a.cloud_name}-backup", a.namespace, name, [])
        settings.append(
            aws.iam.RolePolicy(
                f"{name}-backup", role=role.id, policy=cp.s3_backup_policy(backup.bucket, origin), opts=self._child
            )
        )
        annotations = role.arn.apply(lambda arn: {"eks.amazonaws.com/role-arn": arn})
        return annotations, cp.BackupCredentials.AWS_IAM_ROLE, f"s3://{backup.bucket}/", settings

    # --- Managed engines -----------------------------------------------------------------------

    def _managed(self) -> None:
        """The Cloud SQL or RDS instances, then PgBouncer in the cluster in front of them."""
        a, name = self._args, self._name
        if a.engine is Engine.CLOUDSQL:
            assert a.cloudsql is not None, "checked by the postgres part's validate()"
            primary, replicas = managed.cloudsql_instances(
                name, a.cloudsql, a.sizing, cloud_name=a.cloud_name, database=a.database, owner=a.owner,
                password=a.password, regional_ha=a.regional_ha, backup_retention_days=a.backup_retention_days,
                child=self._child, data=self._data,
            )
        elif a.rds_replica_of is not None:
            assert a.rds is not None, "checked by the postgres part's validate()"
            primary = pulumi.Output.from_input(a.rds_replica_of.address)
            replicas = managed.rds_cross_region_replica(
                name, a.rds, a.rds_replica_of, a.sizing, cloud_name=a.cloud_name, regional_ha=a.regional_ha,
                child=self._child,
            )
        else:
            assert a.rds is not None, "checked by the postgres part's validate()"
            self.rds_primary, replicas = managed.rds_instances(
                name, a.rds, a.sizing, cloud_name=a.cloud_name, database=a.database, owner=a.owner,
                password=a.password, regional_ha=a.regional_ha, backup_retention_days=a.backup_retention_days,
                child=self._child, data=self._data, peer_cidrs=a.rds_peer_cidrs,
            )
            primary = self.rds_primary.address
        self._exporters(primary if a.rds_replica_of is None else None, replicas)
        self.rw_host, self.ro_host = managed.pgbouncer_in_front(
            name, primary, replicas, a.sizing.pooler, namespace=a.namespace, image=a.pgbouncer_image,
            database=a.database, owner=a.owner, password=a.password, cloud_name=a.cloud_name,
            client_apps=a.client_apps, child=self._child,
            primary_cap=a.rds_replica_of.write_cap if a.rds_replica_of is not None else None,
            primary_name=a.rds_replica_of.identifier if a.rds_replica_of is not None else None,
        )
        self._connection_secret(self.rw_host, self.rw_host, pgbouncer_plan.ro_database(a.database))

    def _exporters(self, primary: pulumi.Input[str] | None, replicas: Sequence[pulumi.Input[str]]) -> None:
        """A postgres_exporter per managed instance of this region, as the database owner: a
        least-privilege monitoring role (``pg_monitor``) needs a GRANT, which neither the Cloud SQL
        nor the RDS API can make (users made through the Cloud SQL API join ``cloudsqlsuperuser``;
        RDS has only its master user), and the program runs no SQL. The owner reads what the rules
        use: pg_stat_activity rows, pg_stat_database, pg_settings and ``pg_last_xact_replay_timestamp()``."""
        a = self._args
        if a.monitor_labels is None or a.exporter_image is None or a.password is None:
            return
        roles = pp.exporter_roles(len(replicas), local_primary=primary is not None)
        hosts = [*([primary] if primary is not None else []), *replicas]
        for role, host in zip(roles, hosts, strict=True):
            plan = xp.ExporterPlan(
                pp.exporter_name(self._name, role), xp.ExporterKind.POSTGRES, a.namespace, a.exporter_image,
                monitor_labels=a.monitor_labels, prometheus_namespace=a.monitoring_namespace or "monitoring",
            )
            # Offline plans (mocks) know no addresses: an empty host there, the instance's in a deploy.
            uri = pulumi.Output.from_input(host).apply(lambda h: xp.postgres_uri(h or "", pp.PORT, a.database))
            ManagedExporter(
                plan.name, ManagedExporterArgs(plan, {"uri": uri, "user": a.owner, "password": a.password}),
                opts=self._child,
            )
