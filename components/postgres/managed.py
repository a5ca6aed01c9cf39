"""The managed engines of PostgresCluster: Cloud SQL (gke) and RDS (eks).

Pure helpers that translate :class:`~components.postgres.plan.PostgresSizing` into each cloud's
tier, flags and parameter group, and the functions that register, under the PostgresCluster
component (``child`` / ``data`` options), the primary and its read replicas in the cluster's VPC and
the :class:`~components.postgres.pgbouncer.PgBouncer` Deployment in front of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.cluster.eks import VpcPlacement, vpc_only_security_group
from components.postgres import pgbouncer_plan as bp
from components.postgres import plan as pp
from components.postgres.pgbouncer import PgBouncer, PgBouncerArgs
from components.sdk import aws, gcp

CLOUDSQL_VERSION = "POSTGRES_17"
RDS_FAMILY = "postgres17"
RDS_ENGINE_VERSION = "17"
"""Major only: RDS picks the newest 17.x and applies minor upgrades in the maintenance window."""


@dataclass(frozen=True)
class RdsSource:
    """The primary region's RDS primary, for a cross-region read replica in another region."""

    arn: pulumi.Input[str]
    """``replicate_source_db`` must be the source's ARN when it is in another region."""
    address: pulumi.Input[str]
    """Where the replica region's PgBouncer sends writes (through the VPC peering)."""
    write_cap: int
    """Server connections per PgBouncer instance to the source (its budget is shared by the regions)."""
    identifier: str
    """The source's DB instance identifier (names it in offline plans, where addresses are unknown)."""


@dataclass(frozen=True)
class CloudSqlOptions:
    project: str
    region: str
    network: pulumi.Input[str]
    """The VPC network (id) the GKE cluster runs in: Cloud SQL gets a private IP there."""


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


# --- Resources under the PostgresCluster component ---------------------------------------------


def cloudsql_instances(
    name: str,
    o: CloudSqlOptions,
    sizing: pp.PostgresSizing,
    *,
    cloud_name: str,
    database: str,
    owner: str,
    password: pulumi.Input[str] | None,
    regional_ha: bool,
    backup_retention_days: int,
    child: pulumi.ResourceOptions,
    data: pulumi.ResourceOptions,
) -> tuple[pulumi.Output[str], list[pulumi.Output[str]]]:
    """The Cloud SQL primary and its read replicas on private IPs in ``o.network``; their addresses."""
    psa = gcp.compute.GlobalAddress(
        f"{name}-psa", name=f"{cloud_name}-psa", project=o.project, purpose="VPC_PEERING",
        address_type="INTERNAL", prefix_length=20, network=o.network, opts=child,
    )
    peering = gcp.servicenetworking.Connection(
        f"{name}-psa", network=o.network, service="servicenetworking.googleapis.com",
        reserved_peering_ranges=[psa.name], opts=child,
    )

    def settings(primary: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "tier": cloudsql_tier(sizing),
            "edition": "ENTERPRISE",  # custom tiers; PostgreSQL 16+ would default to Enterprise Plus
            "availability_type": "REGIONAL" if regional_ha and primary else "ZONAL",
            "disk_type": "PD_SSD",
            "disk_size": sizing.storage_gib,
            "disk_autoresize": True,
            # Replicas are rebuilt from the primary: protecting them would block every move down.
            "deletion_protection_enabled": primary,
            "ip_configuration": {"ipv4_enabled": False, "private_network": o.network,
                                 "ssl_mode": "ENCRYPTED_ONLY"},
            "database_flags": cloudsql_flags(sizing),
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
                "backup_retention_settings": {"retained_backups": backup_retention_days,
                                              "retention_unit": "COUNT"},
            }
        return out

    after_peering = pulumi.ResourceOptions.merge(data, pulumi.ResourceOptions(depends_on=[peering]))
    primary = gcp.sql.DatabaseInstance(
        name, name=cloud_name, project=o.project, region=o.region, database_version=CLOUDSQL_VERSION,
        deletion_protection=True, settings=settings(True), opts=after_peering,
    )
    # Read replicas hold no data of their own: neither Pulumi-protected nor deletion-protected, so a
    # phase move down removes them (the primary keeps both).
    replica_opts = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[peering]))
    replicas = [
        gcp.sql.DatabaseInstance(
            f"{name}-replica-{i}", name=f"{cloud_name}-replica-{i}", project=o.project, region=o.region,
            database_version=CLOUDSQL_VERSION, master_instance_name=primary.name, deletion_protection=False,
            settings=settings(False), opts=replica_opts,
        )
        for i in range(1, sizing.read_replicas + 1)
    ]
    gcp.sql.Database(f"{name}-db", name=database, project=o.project, instance=primary.name, opts=data)
    gcp.sql.User(
        f"{name}-owner", name=owner, project=o.project, instance=primary.name,
        password=pulumi.Output.secret(password or ""), opts=child,
    )
    return primary.private_ip_address, [r.private_ip_address for r in replicas]


def rds_instances(
    name: str,
    o: VpcPlacement,
    sizing: pp.PostgresSizing,
    *,
    cloud_name: str,
    database: str,
    owner: str,
    password: pulumi.Input[str] | None,
    regional_ha: bool,
    backup_retention_days: int,
    child: pulumi.ResourceOptions,
    data: pulumi.ResourceOptions,
    peer_cidrs: Sequence[str] = (),
) -> tuple[aws.rds.Instance, list[pulumi.Output[str]]]:
    """The RDS primary and its read replicas in the EKS VPC's private subnets: the primary and the
    replicas' addresses. ``peer_cidrs``: peered VPCs (other regions) whose clients may connect too."""
    subnets = aws.rds.SubnetGroup(
        f"{name}-subnets", name=cloud_name, description=f"{cloud_name}: private subnets of the EKS VPC",
        subnet_ids=list(o.subnet_ids), opts=child,
    )
    group = _rds_security_group(name, cloud_name, o, peer_cidrs, child)
    params = _rds_parameter_group(name, cloud_name, sizing, child)
    common: dict[str, Any] = {
        "instance_class": rds_instance_class(sizing),
        "storage_encrypted": True,
        "vpc_security_group_ids": [group.id],
        "parameter_group_name": params.name,
        "publicly_accessible": False,
        "performance_insights_enabled": True,
        "performance_insights_retention_period": 7,
        "auto_minor_version_upgrade": True,
        "copy_tags_to_snapshot": True,
        # A phase move (instance class, storage growth) is a reviewed change: apply it now, not in the
        # next maintenance window (the provider's default, apply_immediately=false). Instance class
        # changes restart the instance (a Multi-AZ failover from phase 3). Source: Pulumi aws.rds.Instance
        # docs, "applyImmediately"; AWS RDS User Guide, "Modifying an Amazon RDS DB instance".
        "apply_immediately": True,
    }
    primary = aws.rds.Instance(
        name,
        identifier=cloud_name,
        engine="postgres",
        engine_version=RDS_ENGINE_VERSION,
        allocated_storage=sizing.storage_gib,
        max_allocated_storage=2 * sizing.storage_gib,
        storage_type="gp3",
        multi_az=regional_ha,
        db_name=database,
        username=owner,
        password=pulumi.Output.secret(password or ""),
        db_subnet_group_name=subnets.name,
        backup_retention_period=backup_retention_days,
        backup_window="18:00-19:00",
        maintenance_window="sun:19:30-sun:20:30",
        enabled_cloudwatch_logs_exports=["postgresql", "upgrade"],
        skip_final_snapshot=False,
        final_snapshot_identifier=f"{cloud_name}-final",
        deletion_protection=True,
        **common,
        opts=data,
    )
    replicas = [
        aws.rds.Instance(
            f"{name}-replica-{i}",
            identifier=f"{cloud_name}-replica-{i}",
            replicate_source_db=primary.identifier,
            skip_final_snapshot=True,
            deletion_protection=False,  # rebuildable from the primary; protected, it blocks a move down
            **common,
            opts=child,
        )
        for i in range(1, sizing.read_replicas + 1)
    ]
    return primary, [r.address for r in replicas]


def _rds_security_group(
    name: str, cloud_name: str, o: VpcPlacement, peer_cidrs: Sequence[str], child: pulumi.ResourceOptions
) -> aws.ec2.SecurityGroup:
    """PostgreSQL from the VPC only, plus one rule per peered VPC (in-line, like the first: in-line
    rules and separate SecurityGroupRule resources must not be mixed, aws.ec2.SecurityGroup docs).
    Adding or removing a peer updates the group in place."""
    if not peer_cidrs:
        return vpc_only_security_group(
            f"{name}-sg", f"{cloud_name}: PostgreSQL from the VPC only", o.vpc_id, o.vpc_cidr, pp.PORT,
            "PostgreSQL clients in the VPC", child, physical_name=cloud_name,
        )
    rules = [(o.vpc_cidr, "PostgreSQL clients in the VPC")]
    rules += [(cidr, f"PostgreSQL clients in the peered VPC {cidr}") for cidr in peer_cidrs]
    return aws.ec2.SecurityGroup(
        f"{name}-sg", description=f"{cloud_name}: PostgreSQL from the VPC only", vpc_id=o.vpc_id,
        ingress=[{"protocol": "tcp", "from_port": pp.PORT, "to_port": pp.PORT, "cidr_blocks": [cidr],
                  "description": text} for cidr, text in rules],
        name=cloud_name, opts=child,
    )


def _rds_parameter_group(
    name: str, cloud_name: str, sizing: pp.PostgresSizing, child: pulumi.ResourceOptions
) -> aws.rds.ParameterGroup:
    return aws.rds.ParameterGroup(
        f"{name}-params", name=f"{cloud_name}-{RDS_FAMILY}", family=RDS_FAMILY,
        description=f"{cloud_name}: parameters sized to the instance",
        parameters=rds_parameters(sizing), opts=child,
    )


def rds_cross_region_replica(
    name: str,
    o: VpcPlacement,
    source: RdsSource,
    sizing: pp.PostgresSizing,
    *,
    cloud_name: str,
    regional_ha: bool,
    child: pulumi.ResourceOptions,
) -> list[pulumi.Output[str]]:
    """A read replica of another region's RDS primary in this region's EKS VPC; its address.

    RDS User Guide "Creating a read replica in a different AWS Region" and the API's
    CreateDBInstanceReadReplica: ``replicate_source_db`` is the source's ARN; an encrypted replica in
    another region must name a KMS key of that region (``KmsKeyId``: keys are regional) and a DB
    subnet group there; without ``DBParameterGroupName`` a cross-region replica gets the engine's
    default group, so it gets its own, sized like the primary's. It is not protected and
    has no deletion protection: it holds no data of its own (the primary has everything), and moving
    below the multi-region phase deletes it; deletion protection on it would block that move.
    """
    key = aws.kms.Key(
        f"{name}-replica-key", description=f"{cloud_name}: storage of the cross-region read replica",
        enable_key_rotation=True, deletion_window_in_days=30, opts=child,
    )
    subnets = aws.rds.SubnetGroup(
        f"{name}-subnets", name=cloud_name, description=f"{cloud_name}: private subnets of the EKS VPC",
        subnet_ids=list(o.subnet_ids), opts=child,
    )
    group = _rds_security_group(name, cloud_name, o, (), child)
    params = _rds_parameter_group(name, cloud_name, sizing, child)
    replica = aws.rds.Instance(
        f"{name}-replica-1",
        identifier=f"{cloud_name}-replica-1",
        replicate_source_db=source.arn,
        kms_key_id=key.arn,
        storage_encrypted=True,
        db_subnet_group_name=subnets.name,
        vpc_security_group_ids=[group.id],
        parameter_group_name=params.name,
        instance_class=rds_instance_class(sizing),
        # A replica's storage autoscaling is its own setting: grow like the primary, or it fills up first.
        max_allocated_storage=2 * sizing.storage_gib,
        multi_az=regional_ha,
        publicly_accessible=False,
        deletion_protection=False,
        skip_final_snapshot=True,
        performance_insights_enabled=True,
        performance_insights_retention_period=7,
        auto_minor_version_upgrade=True,
        copy_tags_to_snapshot=True,
        opts=child,
    )
    return [replica.address]


def pgbouncer_in_front(
    name: str,
    primary: pulumi.Output[str],
    replicas: list[pulumi.Output[str]],
    pooler: pp.PoolerSizing,
    *,
    namespace: str,
    image: str,
    database: str,
    owner: str,
    password: pulumi.Input[str] | None,
    cloud_name: str,
    client_apps: Sequence[str],
    child: pulumi.ResourceOptions,
    primary_cap: int | None = None,
    primary_name: str | None = None,
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """PgBouncer in the cluster in front of the managed instances; its (rw, ro) hosts. ``primary_cap``:
    server connections per instance to a primary in another region (see bp.remote_write_cap)."""

    def render(hosts: list[str | None]) -> str:
        # Offline plans (mocks) know no addresses: name the instance instead.
        named = [h or f"{cloud_name}{'' if i == 0 else f'-replica-{i}'}.address" for i, h in enumerate(hosts)]
        if primary_name and not hosts[0]:
            named[0] = f"{primary_name}.address"
        return bp.pgbouncer_ini(database, bp.Endpoint(named[0]), [bp.Endpoint(h) for h in named[1:]], pooler,
                                primary_cap=primary_cap)

    ini = pulumi.Output.all(primary, *replicas).apply(render)
    userlist = pulumi.Output.secret(password or "").apply(lambda pw: bp.userlist_line(owner, pw) + "\n")
    bouncer = PgBouncer(
        f"{name}-pgbouncer",
        PgBouncerArgs(
            namespace=namespace, image=image, ini=ini, userlist=userlist,
            replicas=pooler.instances, client_apps=tuple(client_apps),
        ),
        opts=child,
    )
    rw_host = pulumi.Output.from_input(bouncer.host)
    return rw_host, rw_host.apply(lambda h: f"{h} (database {bp.ro_database(database)})")
