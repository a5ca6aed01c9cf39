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

Names never carry the phase: the data resources are named after the component (``{region}-pg``)
and replicas are added by number, so a phase change grows the database in place.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import buckets
from components.cluster.eks import EksCluster, VpcPlacement, vpc_only_security_group
from components.cluster.gke import workload_identity_account
from components.postgres import plan as pp
from components.postgres.pgbouncer import PgBouncer, PgBouncerArgs

TYPE = "phasescale:components:PostgresCluster"
PORT = 5432
INSTANCE_METRICS_PORT = 9187
POOLER_METRICS_PORT = 9127
STATUS_PORT = 8000
CLOUDSQL_VERSION = "POSTGRES_17"
RDS_FAMILY = "postgres17"
RDS_ENGINE_VERSION = "17"
"""Major only: RDS picks the newest 17.x and applies minor upgrades in the maintenance window."""


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
class CloudSqlOptions:
    project: str
    region: str
    network: pulumi.Input[str]
    """The VPC network (id) the GKE cluster runs in: Cloud SQL gets a private IP there."""


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


# --- Pure helpers for the managed engines ------------------------------------------------------


def _kib(value: str) -> int:
    """``"512MB"`` / ``"4096kB"`` -> kB."""
    for unit, factor in (("kB", 1), ("MB", 1024), ("GB", 1024 * 1024)):
        if value.endswith(unit):
            return int(value.removesuffix(unit)) * factor
    return int(value)


def cloudsql_tier(sizing: pp.PostgresSizing) -> str:
    """A custom machine; Cloud SQL needs at least 3840 MB and a multiple of 256 MB."""
    memory_mb = max(3840, sizing.memory_gib * 1024)
    return f"db-custom-{sizing.cpu}-{memory_mb}"


def cloudsql_flags(sizing: pp.PostgresSizing) -> list[dict[str, str]]:
    """The sized parameters Cloud SQL lets us set (memory in kB, times in ms); it sizes
    shared_buffers and effective_cache_size from the tier itself."""
    p = pp.postgres_parameters(sizing)
    flags = {
        "max_connections": p["max_connections"],
        "work_mem": str(_kib(p["work_mem"])),
        "maintenance_work_mem": str(_kib(p["maintenance_work_mem"])),
        "random_page_cost": p["random_page_cost"],
        "max_worker_processes": p["max_worker_processes"],
        "max_parallel_workers": p["max_parallel_workers"],
        "max_parallel_workers_per_gather": p["max_parallel_workers_per_gather"],
        "log_min_duration_statement": p["log_min_duration_statement"].removesuffix("ms"),
    }
    return [{"name": k, "value": v} for k, v in flags.items()]


def rds_instance_class(sizing: pp.PostgresSizing) -> str:
    """Graviton classes: burstable for the smallest size, else m7g (4 GiB/vCPU) or r7g (8 GiB/vCPU)."""
    if sizing.cpu <= 2 and sizing.memory_gib <= 4:
        return "db.t4g.medium"
    vcpu = max(2, sizing.cpu)
    family = "m7g" if sizing.memory_gib <= 4 * vcpu else "r7g"
    size = {2: "large", 4: "xlarge"}.get(vcpu, f"{vcpu // 4}xlarge")
    return f"db.{family}.{size}"


RDS_STATIC = frozenset({"max_connections", "shared_buffers", "max_worker_processes"})


def rds_parameters(sizing: pp.PostgresSizing) -> list[dict[str, str]]:
    """The sized parameters in RDS units (8 kB pages for buffers, kB, MB, ms); TLS enforced."""
    p = pp.postgres_parameters(sizing)
    values = {
        "max_connections": p["max_connections"],
        "shared_buffers": str(_kib(p["shared_buffers"]) // 8),
        "effective_cache_size": str(_kib(p["effective_cache_size"]) // 8),
        "work_mem": str(_kib(p["work_mem"])),
        "maintenance_work_mem": str(_kib(p["maintenance_work_mem"])),
        "max_wal_size": str(_kib(p["max_wal_size"]) // 1024),
        "random_page_cost": p["random_page_cost"],
        "max_worker_processes": p["max_worker_processes"],
        "max_parallel_workers": p["max_parallel_workers"],
        "max_parallel_workers_per_gather": p["max_parallel_workers_per_gather"],
        "log_min_duration_statement": p["log_min_duration_statement"].removesuffix("ms"),
        "password_encryption": p["password_encryption"],
        "rds.force_ssl": "1",
    }
    return [
        {"name": k, "value": v, "apply_method": "pending-reboot" if k in RDS_STATIC else "immediate"}
        for k, v in values.items()
    ]


def cnpg_labels(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/component": "database",
            "app.kubernetes.io/part-of": "phasescale", "app.kubernetes.io/managed-by": "pulumi"}


def instance_selector(name: str) -> dict[str, object]:
    return {"matchLabels": {"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}}


def pooler_selector(poolers: Sequence[str]) -> dict[str, object]:
    return {"matchExpressions": [{"key": "cnpg.io/poolerName", "operator": "In", "values": list(poolers)}]}


def _ns_peer(namespace: str) -> dict[str, object]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}


def _ports(*ports: int) -> list[dict[str, object]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def pooler_network_policy(
    poolers: Sequence[str], client_apps: Sequence[str], monitoring_namespace: str | None
) -> dict[str, object]:
    """Only the app namespace's DB-using services reach the poolers (plus Prometheus on metrics)."""
    rules: list[dict[str, object]] = []
    if client_apps:
        peers = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": a}}} for a in sorted(client_apps)]
        rules.append({"from": peers, "ports": _ports(PORT)})
    if monitoring_namespace:
        rules.append({"from": [_ns_peer(monitoring_namespace)], "ports": _ports(POOLER_METRICS_PORT)})
    return {"podSelector": pooler_selector(poolers), "policyTypes": ["Ingress"], "ingress": rules}


def instance_network_policy(
    name: str, poolers: Sequence[str], operator_namespace: str, monitoring_namespace: str | None
) -> dict[str, object]:
    """Only the poolers, the other instances (replication) and the operator reach the instances."""
    rules: list[dict[str, object]] = [
        {"from": [{"podSelector": pooler_selector(poolers)}], "ports": _ports(PORT)},
        {"from": [{"podSelector": instance_selector(name)}], "ports": _ports(PORT, STATUS_PORT)},
        {"from": [_ns_peer(operator_namespace)], "ports": _ports(PORT, STATUS_PORT)},
    ]
    if monitoring_namespace:
        rules.append({"from": [_ns_peer(monitoring_namespace)], "ports": _ports(INSTANCE_METRICS_PORT)})
    return {"podSelector": instance_selector(name), "policyTypes": ["Ingress"], "ingress": rules}


def replica_cluster_spec(spec: dict[str, object], origin_store: str, server_name: str) -> dict[str, object]:
    """Turn a Cluster spec into a CNPG replica cluster that restores from, then follows, the
    primary region's archive (``origin_store`` ObjectStore, the primary's ``server_name``)."""
    return {
        **spec,
        "bootstrap": {"recovery": {"source": "origin"}},
        "replica": {"enabled": True, "source": "origin"},
        "externalClusters": [
            {
                "name": "origin",
                "plugin": {
                    "name": pp.BARMAN_PLUGIN,
                    "parameters": {"barmanObjectName": origin_store, "serverName": server_name},
                },
            }
        ],
    }


def s3_backup_policy(bucket: str, origin_bucket: str | None) -> str:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
    ]
    if origin_bucket:
        statements += [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
             "Resource": f"arn:aws:s3:::{origin_bucket}"},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{origin_bucket}/*"},
        ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


# --- The component -----------------------------------------------------------------------------


class PostgresCluster(pulumi.ComponentResource):
    rw_host: pulumi.Output[str]
    ro_host: pulumi.Output[str]

    def __init__(self, name: str, args: PostgresClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._name, self._args = name, args
        self._child = pulumi.ResourceOptions(parent=self)
        self._data = pulumi.ResourceOptions(parent=self, protect=args.protect)
        if args.engine is Engine.CNPG:
            self._cnpg()
        else:
            if args.engine is Engine.CLOUDSQL:
                assert args.cloudsql is not None, "checked by the postgres part's validate()"
                primary, replicas = self._cloudsql(args.cloudsql)
            else:
                assert args.rds is not None, "checked by the postgres part's validate()"
                primary, replicas = self._rds(args.rds)
            self._pgbouncer(primary, replicas)
        self.register_outputs({"rw": self.rw_host, "ro": self.ro_host})

    def _meta(self, k8s_name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
        return {
            "name": k8s_name,
            "namespace": self._args.namespace,
            "labels": {**cnpg_labels(self._name), **(labels or {})},
        }

    def _cr(self, suffix: str, kind: str, k8s_name: str, spec: Any, api: str = pp.CNPG_API,
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
                spec = pp.object_store_spec(
                    pp.BackupStore(
                        destination_path=path,
                        credentials=creds,
                        endpoint_url=a.backup.endpoint_url if isinstance(a.backup, S3CompatibleBackup) else None,
                        secret_name=a.backup.secret_name if isinstance(a.backup, S3CompatibleBackup) else None,
                        retention_days=a.backup_retention_days,
                    )
                )
                if not keep:
                    spec.pop("retentionPolicy")  # the origin's own cluster prunes its archive
                after.append(self._cr(store_name.removeprefix(name), "ObjectStore", store_name, spec, pp.BARMAN_API))
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
            spec = pp.cnpg_cluster_spec(
                name, sizing, a.postgres_image, database=a.database, owner=a.owner, owner_secret=owner_secret,
                storage_class=a.storage_class, object_store=store, service_account_annotations=sa_annotations,
            )
            spec["monitoring"] = {"enablePodMonitor": False}  # deprecated in CNPG: our PodMonitor below
            if a.replica_of is not None:
                spec = replica_cluster_spec(spec, f"{name}-origin", a.replica_of.server_name)
            return spec

        cluster_spec: pulumi.Input[dict[str, object]] = (
            annotations.apply(spec_of) if annotations is not None else spec_of(None)
        )
        self.cluster = self._cr(
            "", "Cluster", name, cluster_spec,
            opts=pulumi.ResourceOptions.merge(self._data, pulumi.ResourceOptions(depends_on=after)),
        )
        on_cluster = pulumi.ResourceOptions(parent=self, depends_on=[self.cluster])
        poolers = [pp.pooler_name(name, t) for t in pp.pooler_types(sizing)]
        for kind in pp.pooler_types(sizing):
            spec = pp.cnpg_pooler_spec(name, sizing.pooler, kind, a.pgbouncer_image)
            spec["monitoring"] = {"enablePodMonitor": False}
            self._cr(f"-pooler-{kind.value}", "Pooler", pp.pooler_name(name, kind), spec, opts=on_cluster)
        if store is not None:
            self._cr("-daily", "ScheduledBackup", f"{name}-daily", pp.scheduled_backup_spec(name), opts=on_cluster)
        if a.monitor_labels is not None:
            for suffix, selector in (("-monitor", instance_selector(name)), ("-pooler-monitor", pooler_selector(poolers))):
                self._cr(
                    suffix, "PodMonitor", f"{name}{suffix}",
                    {"selector": selector, "podMetricsEndpoints": [{"port": "metrics", "interval": "15s"}]},
                    api="monitoring.coreos.com/v1", labels=a.monitor_labels,
                )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-pooler-netpol",
            metadata=self._meta(f"{name}-pooler"),
            spec=pooler_network_policy(poolers, a.client_apps, a.monitoring_namespace),
            opts=self._child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=self._meta(name),
            spec=instance_network_policy(name, poolers, a.operator_namespace, a.monitoring_namespace),
            opts=self._child,
        )
        svc = f"{a.namespace}.svc"
        self.rw_host = pulumi.Output.from_input(f"{pp.pooler_name(name, pp.PoolerType.RW)}.{svc}")
        self.ro_host = pulumi.Output.from_input(f"{poolers[-1]}.{svc}")

    def _backup_store(
        self, backup: Backup
    ) -> tuple[pulumi.Output[dict[str, str]] | None, pp.BackupCredentials, str, list[pulumi.Resource]]:
        """The bucket and the identity the instances write it with: (service account annotations,
        credentials kind, destination path, resources the Cluster waits for)."""
        a, name = self._args, self._name
        origin = a.replica_of.bucket if a.replica_of is not None else None
        if isinstance(backup, S3CompatibleBackup):
            return None, pp.BackupCredentials.SECRET, f"s3://{backup.bucket}/", []
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
            return annotations, pp.BackupCredentials.GKE_WORKLOAD_IDENTITY, f"gs://{backup.bucket}/", grants
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
                f"{name}-backup", role=role.id, policy=s3_backup_policy(backup.bucket, origin), opts=self._child
            )
        )
        annotations = role.arn.apply(lambda arn: {"eks.amazonaws.com/role-arn": arn})
        return annotations, pp.BackupCredentials.AWS_IAM_ROLE, f"s3://{backup.bucket}/", settings

    # --- Managed engines -----------------------------------------------------------------------

    def _cloudsql(self, o: CloudSqlOptions) -> tuple[pulumi.Output[str], list[pulumi.Output[str]]]:
        a, name = self._args, self._name
        psa = gcp.compute.GlobalAddress(
            f"{name}-psa", name=f"{a.cloud_name}-psa", project=o.project, purpose="VPC_PEERING",
            address_type="INTERNAL", prefix_length=20, network=o.network, opts=self._child,
        )
        peering = gcp.servicenetworking.Connection(
            f"{name}-psa", network=o.network, service="servicenetworking.googleapis.com",
            reserved_peering_ranges=[psa.name], opts=self._child,
        )

        def settings(primary: bool) -> dict[str, Any]:
            out: dict[str, Any] = {
                "tier": cloudsql_tier(a.sizing),
                "edition": "ENTERPRISE",  # custom tiers; PostgreSQL 16+ would default to Enterprise Plus
                "availability_type": "REGIONAL" if a.regional_ha and primary else "ZONAL",
                "disk_type": "PD_SSD",
                "disk_size": a.sizing.storage_gib,
                "disk_autoresize": True,
                "deletion_protection_enabled": True,
                "ip_configuration": {"ipv4_enabled": False, "private_network": o.network,
                                     "ssl_mode": "ENCRYPTED_ONLY"},
                "database_flags": cloudsql_flags(a.sizing),
                "insights_config": {"query_insights_enabled": True},
                "maintenance_window": {"day": 7, "hour": 18},
                "user_labels": {"phasescale-part": "postgres"},
            }
            if primary:
                out["backup_configuration"] = {
                    "enabled": True,
                    "start_time": "18:00",
                    "point_in_time_recovery_enabled": True,
                    "transaction_log_retention_days": 7,
                    "backup_retention_settings": {"retained_backups": a.backup_retention_days,
                                                  "retention_unit": "COUNT"},
                }
            return out

        after_peering = pulumi.ResourceOptions.merge(self._data, pulumi.ResourceOptions(depends_on=[peering]))
        primary = gcp.sql.DatabaseInstance(
            name, name=a.cloud_name, project=o.project, region=o.region, database_version=CLOUDSQL_VERSION,
            deletion_protection=True, settings=settings(True), opts=after_peering,
        )
        replicas = [
            gcp.sql.DatabaseInstance(
                f"{name}-replica-{i}", name=f"{a.cloud_name}-replica-{i}", project=o.project, region=o.region,
                database_version=CLOUDSQL_VERSION, master_instance_name=primary.name, deletion_protection=True,
                settings=settings(False), opts=after_peering,
            )
            for i in range(1, a.sizing.read_replicas + 1)
        ]
        gcp.sql.Database(f"{name}-db", name=a.database, project=o.project, instance=primary.name, opts=self._data)
        gcp.sql.User(
            f"{name}-owner", name=a.owner, project=o.project, instance=primary.name,
            password=pulumi.Output.secret(a.password or ""), opts=self._child,
        )
        return primary.private_ip_address, [r.private_ip_address for r in replicas]

    def _rds(self, o: VpcPlacement) -> tuple[pulumi.Output[str], list[pulumi.Output[str]]]:
        a, name = self._args, self._name
        subnets = aws.rds.SubnetGroup(
            f"{name}-subnets", name=a.cloud_name, description=f"{a.cloud_name}: private subnets of the EKS VPC",
            subnet_ids=list(o.subnet_ids), opts=self._child,
        )
        group = vpc_only_security_group(
            f"{name}-sg", f"{a.cloud_name}: PostgreSQL from the VPC only", o.vpc_id, o.vpc_cidr, PORT,
            "PostgreSQL clients in the VPC", self._child, physical_name=a.cloud_name,
        )
        params = aws.rds.ParameterGroup(
            f"{name}-params", name=f"{a.cloud_name}-{RDS_FAMILY}", family=RDS_FAMILY,
            description=f"{a.cloud_name}: parameters sized to the instance",
            parameters=rds_parameters(a.sizing), opts=self._child,
        )
        common: dict[str, Any] = {
            "instance_class": rds_instance_class(a.sizing),
            "storage_encrypted": True,
            "vpc_security_group_ids": [group.id],
            "parameter_group_name": params.name,
            "publicly_accessible": False,
            "deletion_protection": True,
            "performance_insights_enabled": True,
            "performance_insights_retention_period": 7,
            "auto_minor_version_upgrade": True,
            "copy_tags_to_snapshot": True,
        }
        primary = aws.rds.Instance(
            name,
            identifier=a.cloud_name,
            engine="postgres",
            engine_version=RDS_ENGINE_VERSION,
            allocated_storage=a.sizing.storage_gib,
            max_allocated_storage=2 * a.sizing.storage_gib,
            storage_type="gp3",
            multi_az=a.regional_ha,
            db_name=a.database,
            username=a.owner,
            password=pulumi.Output.secret(a.password or ""),
            db_subnet_group_name=subnets.name,
            backup_retention_period=a.backup_retention_days,
            backup_window="18:00-19:00",
            maintenance_window="sun:19:30-sun:20:30",
            enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{a.cloud_name}-final",
            **common,
            opts=self._data,
        )
        replicas = [
            aws.rds.Instance(
                f"{name}-replica-{i}",
                identifier=f"{a.cloud_name}-replica-{i}",
                replicate_source_db=primary.identifier,
                skip_final_snapshot=True,
                **common,
                opts=self._data,
            )
            for i in range(1, a.sizing.read_replicas + 1)
        ]
        return primary.address, [r.address for r in replicas]

    def _pgbouncer(self, primary: pulumi.Output[str], replicas: list[pulumi.Output[str]]) -> None:
        a, name = self._args, self._name
        pooler = a.sizing.pooler

        def render(hosts: list[str | None]) -> str:
            # Offline plans (mocks) know no addresses: name the instance instead.
            named = [h or f"{a.cloud_name}{'' if i == 0 else f'-replica-{i}'}.address" for i, h in enumerate(hosts)]
            return pp.pgbouncer_ini(a.database, pp.Endpoint(named[0]), [pp.Endpoint(h) for h in named[1:]], pooler)

        ini = pulumi.Output.all(primary, *replicas).apply(render)
        userlist = pulumi.Output.secret(a.password or "").apply(lambda pw: pp.userlist_line(a.owner, pw) + "\n")
        bouncer = PgBouncer(
            f"{name}-pgbouncer",
            PgBouncerArgs(
                namespace=a.namespace, image=a.pgbouncer_image, ini=ini, userlist=userlist,
                replicas=pooler.instances, client_apps=tuple(a.client_apps),
            ),
            opts=self._child,
        )
        self.rw_host = pulumi.Output.from_input(bouncer.host)
        self.ro_host = self.rw_host.apply(lambda h: f"{h} (database {pp.ro_database(a.database)})")

