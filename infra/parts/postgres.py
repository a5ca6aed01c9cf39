"""The postgres part: sizes from the catalog, the engine from ``phasescale:postgres``.

engine ``cnpg`` (default, every target) installs, per region, the CloudNativePG operator and its
barman-cloud plugin (cert-manager, which the plugin needs, is a cluster add-on), then a :class:`PostgresCluster` whose WAL and daily base
backups go to the region's bucket (GCS on gke, S3 on eks, ``backupEndpointUrl`` on existing). In a
multi-region phase the first region holds the primary; every other region runs a CNPG replica
cluster that restores from and follows the primary's archive, never a second primary.

``cloudsql`` (gke) and ``rds`` (eks) are managed: the primary and read replicas in the cluster's VPC
with PgBouncer in the cluster in front. ``rds`` in a multi-region phase: every other region gets a
cross-region read replica of the primary (its own KMS key, subnet, security and parameter groups),
its VPC peered with the primary region's (routes both ways, the primary's security group admits its
CIDR), and its own PgBouncer: reads to the local replica, writes to the primary through the peering.
``cloudsql`` serves one region only (validate refuses it with several: each GKE cluster has its own
VPC network, so the second region would have no path).

Every region writes a connection Secret ``<region>-pg-connection`` that services with ``database``
read (components/postgres/connection.py). With monitoring on, each managed instance of a region gets
a postgres_exporter (``pp.exporter_roles``); CNPG's instances export their own metrics.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from components.cluster.eks import VpcPlacement
from components.cluster.peering import PeeringSide, VpcPeering, VpcPeeringArgs
from components.helm import release
from components.monitoring import exporters_plan as xp
from components.postgres import cnpg_plan as cp
from components.postgres import pgbouncer_plan as bouncer_plan
from components.postgres import plan as pp
from components.postgres.cluster import (
    Backup,
    Engine,
    GcsBackup,
    PostgresCluster,
    PostgresClusterArgs,
    ReplicaOf,
    S3Backup,
    S3CompatibleBackup,
)
from components.postgres.managed import CloudSqlOptions, RdsSource
from components.postgres.pgbouncer import PgBouncerArgs
from components.postgres.pgbouncer import deployment_spec as pgbouncer_spec
from components.problems import Problem
from components.scheduling import PodGroup, pod_group
from components.versions import IMAGES
from infra import workers
from infra.config import PostgresEngine, Runtime, Target
from infra.parts import (
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    RegionContext,
    backup_endpoint_problems,
    exporter_pods,
)
from infra.services import replica_bounds
from infra.settings import Settings
from infra.targets import RegionCluster, data_pool

SIZES_PATH = "phasescale:overrides.postgres"
CONFIG_PATH = "phasescale:postgres"
PASSWORD_KEY = "dbPassword"
OPERATOR_NAMESPACE = "cnpg-system"
ENGINE_TARGET = {PostgresEngine.CLOUDSQL: Target.GKE, PostgresEngine.RDS: Target.EKS}


def sizing(settings: Settings) -> pp.PostgresSizing:
    s = settings.sizes.postgres
    return pp.PostgresSizing(
        cpu=s.cpu,
        memory_gib=s.memory_gib,
        storage_gib=s.storage_gib,
        read_replicas=s.read_replicas,
        max_connections=s.max_connections,
        pooler=pp.PoolerSizing(
            instances=s.pooler_instances,
            max_client_conn=s.max_client_conn,
            default_pool_size=s.default_pool_size,
            min_pool_size=s.min_pool_size,
            reserve_pool_size=s.reserve_pool_size,
        ),
    )


def db_services(settings: Settings) -> dict[str, pp.ServiceDbUse]:
    """Every service that sets ``database``, and every worker that does at a phase it runs: its max
    replicas at this phase and its pool size."""
    out = {
        name: pp.ServiceDbUse(max_replicas=replica_bounds(settings, svc)[1], pool_size=svc.database.pool_size)
        for name, svc in settings.stack.services.items()
        if svc.database is not None
    }
    for name, w in settings.stack.workers.items():
        if w.database is not None and workers.runs(settings, w):
            out[name] = pp.ServiceDbUse(max_replicas=workers.bounds(settings, w)[1], pool_size=w.database.pool_size)
    return out


def validate(settings: Settings) -> list[Problem]:
    cfg = settings.stack.postgres
    target = settings.stack.cluster.target
    problems: list[Problem] = []
    wanted = ENGINE_TARGET.get(cfg.engine)
    if wanted is not None and target is not wanted:
        problems.append(
            Problem(f"{CONFIG_PATH}.engine", cfg.engine.value,
                    f"{cfg.engine.value} needs cluster.target {wanted.value}; use cnpg on {target.value}")
        )
    if wanted is not None and not settings.secrets.get(PASSWORD_KEY):
        problems.append(
            Problem(f"phasescale:{PASSWORD_KEY}", None,
                    f"required for engine {cfg.engine.value}: pulumi config set --secret phasescale:{PASSWORD_KEY}")
        )
    problems += backup_endpoint_problems(
        settings, f"{CONFIG_PATH}.backupEndpointUrl", cfg.backup_endpoint_url,
        "WAL archive and base backups need an S3-compatible endpoint",
    )
    no_archive = cfg.engine is PostgresEngine.CNPG and target is Target.EXISTING and not cfg.backup_endpoint_url
    if no_archive and len(settings.active_regions) > 1:
        problems.append(
            Problem(f"{CONFIG_PATH}.backupEndpointUrl", None,
                    "required with several regions: the other regions follow the primary's archive")
        )
    problems += _region_problems(settings)
    problems += pp.connection_budget(db_services(settings), sizing(settings).pooler,
                                     settings.sizes.postgres.max_connections, SIZES_PATH)
    return problems


def _has_backups(settings: Settings) -> bool:
    """Whether the instances run the barman-cloud sidecar (see ``_backup``)."""
    return settings.stack.cluster.target is not Target.EXISTING or bool(settings.stack.postgres.backup_endpoint_url)


def pods(settings: Settings, key: str, primary: bool) -> list[PodGroup]:
    """The pods of region ``key``: CNPG instances (with the barman-cloud sidecar the plugin injects
    when backups are on) and poolers; managed engines, the region's PgBouncer and, with monitoring,
    a postgres_exporter per local instance."""
    s, ns, name = sizing(settings), settings.stack.namespace, f"{key}-pg"
    engine = settings.stack.postgres.engine
    if engine is not PostgresEngine.CNPG:
        # PgBouncer in every region: a second region's reads its local RDS replica and writes the primary.
        args = PgBouncerArgs(namespace=ns, image=IMAGES["pgbouncer"].ref, ini="", userlist="", replicas=s.pooler.instances)
        spec: dict[str, Any] = pgbouncer_spec(f"{name}-pgbouncer", args, "", "")
        out = [pod_group(f"{ns}/Deployment/{name}-pgbouncer", spec["template"]["spec"],
                         spec["replicas"], spec["replicas"], SIZES_PATH)]
        if settings.stack.parts.monitoring:
            roles = pp.exporter_roles(s.read_replicas, local_primary=primary)
            out += exporter_pods(ns, [pp.exporter_name(name, r) for r in roles], xp.ExporterKind.POSTGRES,
                                 SIZES_PATH)
        return out
    cluster: dict[str, Any] = cp.cnpg_cluster_spec(
        name, s, IMAGES["postgres"].ref, data_pool=data_pool(settings) is not None
    )
    affinity = cluster["affinity"]
    containers = [{"resources": cluster["resources"]}]
    if _has_backups(settings):
        store: dict[str, Any] = cp.object_store_spec(cp.BackupStore("s3://-", cp.BackupCredentials.AWS_IAM_ROLE))
        containers.append(store["instanceSidecarConfiguration"])
    required = affinity["podAntiAffinityType"] == "required"
    instance_pod = {
        "containers": containers,
        "nodeSelector": affinity.get("nodeSelector"),
        "tolerations": affinity.get("tolerations"),
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": affinity["topologyKey"]}]}} if required else None,
    }
    out = [pod_group(f"{ns}/Cluster/{name}", instance_pod, cluster["instances"], cluster["instances"], SIZES_PATH)]
    for kind in cp.pooler_types(s):
        pooler: dict[str, Any] = cp.cnpg_pooler_spec(name, s.pooler, kind, IMAGES["pgbouncer"].ref)
        n = pooler["instances"]
        out.append(pod_group(f"{ns}/Pooler/{cp.pooler_name(name, kind)}", pooler["template"]["spec"], n, n, SIZES_PATH))
    return out


def write_cap(settings: Settings) -> int:
    """RDS in several regions: each other region's PgBouncer instances share what the primary
    region's poolers leave of the primary's connection budget."""
    return bouncer_plan.remote_write_cap(
        sizing(settings).pooler, settings.sizes.postgres.max_connections, len(settings.active_regions)
    )


def _region_problems(settings: Settings) -> list[Problem]:
    """What a second region needs to reach the primary's data."""
    cfg, regions = settings.stack.postgres, settings.active_regions
    if len(regions) < 2:
        return []
    problems = []
    if cfg.engine is PostgresEngine.CNPG and not settings.secrets.get(PASSWORD_KEY):
        problems.append(Problem(
            f"phasescale:{PASSWORD_KEY}", None,
            "required with several regions on cnpg: a replica cluster gets no <cluster>-app Secret from "
            f"the operator, so its services log in with this password: pulumi config set --secret phasescale:{PASSWORD_KEY}",
        ))
    if cfg.engine is PostgresEngine.CLOUDSQL:
        problems.append(Problem(
            f"{CONFIG_PATH}.engine", cfg.engine.value,
            "cloudsql serves one region here: the second region's cluster has its own VPC network and no "
            "replica; use cnpg (a replica cluster per region) or list one region (or set "
            "phasescale:overrides.regions.multiRegion false)",
        ))
    if cfg.engine is PostgresEngine.RDS and write_cap(settings) < max(1, settings.sizes.postgres.min_pool_size):
        pooler = sizing(settings).pooler
        problems.append(Problem(
            f"{SIZES_PATH}.maxConnections", settings.sizes.postgres.max_connections,
            f"too small for {len(regions)} regions writing to one RDS primary: the primary region's "
            f"{pooler.instances} poolers x {pooler.server_connections_per_instance} leave "
            f"{write_cap(settings)} per pooler instance of the other regions (need at least minPoolSize "
            f"{settings.sizes.postgres.min_pool_size}); raise maxConnections or lower defaultPoolSize",
        ))
    # Overlapping VPC ranges (which VPC peering refuses) are refused for every multi-region stack by
    # infra/config_checks.py.
    return problems


def bucket_name(settings: Settings, stack: str, region: str) -> str:
    cfg = settings.stack.postgres
    prefix = cfg.backup_bucket_prefix or f"{settings.stack.cluster.gcp_project or 'phasescale'}-{stack}-pg"
    return f"{prefix}-{region}"


def _backup(ctx: RegionContext, bucket: str) -> Backup | None:
    cfg = ctx.settings.stack.postgres
    if ctx.cluster.gke is not None:
        project = ctx.settings.stack.cluster.gcp_project
        assert project is not None  # checked by StackConfig
        return GcsBackup(project=project, location=ctx.cluster.location, bucket=bucket)
    if ctx.cluster.eks is not None:
        return S3Backup(eks=ctx.cluster.eks, bucket=bucket)
    if cfg.backup_endpoint_url:
        return S3CompatibleBackup(endpoint_url=cfg.backup_endpoint_url, bucket=bucket, secret_name=cfg.backup_secret)
    return None


def _operators(ctx: RegionContext, backups: bool) -> list[pulumi.Resource]:
    """The CNPG operator and, for backups, the barman-cloud plugin (same namespace)."""
    monitoring = ctx.settings.stack.parts.monitoring
    values: dict[str, Any] = {
        "replicaCount": 2,
        "config": {"clusterWide": True},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "monitoring": {"podMonitorEnabled": monitoring,
                       "podMonitorAdditionalLabels": MONITOR_LABELS if monitoring else {}},
    }
    operator = release(f"{ctx.key}-cnpg", "cloudnative-pg", OPERATOR_NAMESPACE, values, ctx.k8s_opts())
    if not backups:
        return [operator]
    # cert-manager (the plugin's TLS) is one of the cluster add-ons (infra/charts.needs_cert_manager), which
    # ctx.k8s_opts() already waits for.
    plugin = release(f"{ctx.key}-barman-cloud", "plugin-barman-cloud", OPERATOR_NAMESPACE, {}, ctx.k8s_opts(operator))
    return [operator, plugin]


def _peer_with_primary(ctx: RegionContext) -> RdsSource:
    """RDS in a second region: peer its VPC with the primary region's (routes both ways; the primary's
    security group admits this VPC's CIDR, see ``rds_peer_cidrs``) and follow the primary's instance."""
    first = ctx.primary_region
    assert first is not None and ctx.cluster.eks is not None and ctx.cluster.aws_provider is not None
    source = first.built["postgres"]
    assert isinstance(source, PostgresCluster) and source.rds_primary is not None
    seoul, here = first.cluster, ctx.cluster
    assert seoul.eks is not None and seoul.aws_provider is not None
    regions = ctx.settings.stack.regions

    def side(rc: RegionCluster) -> PeeringSide:
        assert rc.eks is not None and rc.aws_provider is not None
        return PeeringSide(key=rc.key, region=rc.location, vpc_id=rc.eks.vpc.id, cidr=regions[rc.key].vpc_cidr,
                           route_table_ids=rc.eks.private_route_table_ids, provider=rc.aws_provider)

    VpcPeering(f"{here.key}-peering-{seoul.key}", VpcPeeringArgs(requester=side(here), accepter=side(seoul)))
    return RdsSource(arn=source.rds_primary.arn, address=source.rds_primary.address,
                     write_cap=write_cap(ctx.settings), identifier=f"{seoul.cluster_name}-pg")


def build(ctx: RegionContext) -> dict[str, Any]:
    settings = ctx.settings
    cfg = settings.stack.postgres
    size = settings.sizes.postgres
    engine = Engine(cfg.engine.value)
    primary_key = settings.active_regions[0]
    if engine is Engine.CLOUDSQL and not ctx.primary:
        return {"engine": engine.value, "servedFrom": primary_key}  # refused by validate()
    stack = pulumi.get_stack()
    name = f"{ctx.key}-pg"
    password = settings.secrets.get(PASSWORD_KEY)
    monitoring = settings.stack.parts.monitoring
    args = PostgresClusterArgs(
        sizing=sizing(settings),
        namespace=ctx.app_namespace,
        engine=engine,
        database=cfg.database,
        owner=cfg.owner,
        password=pulumi.Output.secret(password) if password else None,
        client_apps=tuple(
            n for n, svc in settings.stack.services.items()
            if svc.database is not None and svc.runtime is Runtime.KUBERNETES
        ) + tuple(n for n, w in settings.stack.workers.items() if w.database is not None and workers.runs(settings, w)),
        monitoring_namespace=MONITORING_NAMESPACE if monitoring else None,
        monitor_labels=MONITOR_LABELS if monitoring else None,
        pgbouncer_image=IMAGES["pgbouncer"].ref,
        protect=ctx.protect,
        postgres_image=IMAGES["postgres"].ref,
        storage_class=cfg.storage_class,
        operator_namespace=OPERATOR_NAMESPACE,
        backup_retention_days=size.backup_retention_days,
        cloud_name=f"{ctx.cluster.cluster_name}-pg",
        regional_ha=size.regional_ha,
        data_pool=data_pool(settings) is not None,
        exporter_image=IMAGES["postgres-exporter"].ref if monitoring else None,
    )
    providers: list[pulumi.ProviderResource] = [ctx.cluster.provider]
    if ctx.cluster.aws_provider is not None:
        providers.append(ctx.cluster.aws_provider)
    deps: list[pulumi.Resource] = []
    if engine is Engine.CNPG:
        backup = _backup(ctx, bucket_name(settings, stack, ctx.key))
        replica_of = None
        if not ctx.primary:
            replica_of = ReplicaOf(server_name=f"{primary_key}-pg", bucket=bucket_name(settings, stack, primary_key))
        args = dataclasses.replace(args, backup=backup, replica_of=replica_of)
        deps = _operators(ctx, backup is not None)
    elif engine is Engine.CLOUDSQL:
        gke, project = ctx.cluster.gke, settings.stack.cluster.gcp_project
        assert gke is not None and project is not None  # validate: cloudsql needs target gke
        args = dataclasses.replace(args, cloudsql=CloudSqlOptions(project, ctx.cluster.location, gke.network.id))
    else:
        eks = ctx.cluster.eks
        assert eks is not None  # validate: rds needs target eks
        args = dataclasses.replace(args, rds=VpcPlacement(
            vpc_id=eks.vpc.id, vpc_cidr=settings.stack.regions[ctx.key].vpc_cidr, subnet_ids=eks.private_subnet_ids,
        ))
        if ctx.primary:
            others = [settings.stack.regions[k].vpc_cidr for k in settings.active_regions[1:]]
            args = dataclasses.replace(args, rds_peer_cidrs=tuple(others))
        else:
            args = dataclasses.replace(args, rds_replica_of=_peer_with_primary(ctx))
    opts = pulumi.ResourceOptions(providers=providers, depends_on=[ctx.namespace, *ctx.crd_dependencies, *deps])
    cluster = PostgresCluster(name, args, opts=opts)
    ctx.built["postgres"] = cluster
    return {
        "engine": engine.value,
        "role": "primary" if ctx.primary else f"replica of {primary_key}",
        "instances": 1 if args.rds_replica_of is not None else 1 + size.read_replicas,
        "poolerInstances": size.pooler_instances,
        "rw": cluster.rw_host,
        "ro": cluster.ro_host,
    }
