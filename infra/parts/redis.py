"""The redis part: the mode and sizes from the catalog, the engine from ``phasescale:redis``.

engine ``operator`` (default, every target) installs the OT redis-operator chart once per region and
the custom resources after it; ``memorystore`` (gke) and ``elasticache`` (eks) are managed services in
the cluster's network. Persistence: an RDB snapshot an hour on the node (``save 3600 1`` on the data
volume; Memorystore RDB persistence ONE_HOUR; ElastiCache daily snapshots). Backups off the node: the
RedisBackup job, every hour, kept 7 days, to the bucket <prefix>-<region> (GCS or S3; on target existing
the S3-compatible ``redis.backupEndpointUrl``), or as Memorystore backups or ElastiCache snapshots.
With monitoring on, a managed cache gets a redis_exporter (``exports_managed``), except Memorystore
cluster mode (IAM auth).
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import pulumi

from components.cluster.eks import VpcPlacement
from components.cluster.gke import workload_identity_account
from components.helm import release
from components.monitoring import exporters_plan as xp
from components.problems import Problem
from components.redis import backup_plan as bp
from components.redis import connection as rconn
from components.redis import operator as ro
from components.redis import plan as rp
from components.redis.backup import RedisBackup, RedisBackupArgs
from components.redis.cluster import MemorystoreOptions, RedisCluster, RedisClusterArgs
from components.scheduling import PodGroup, pod_group
from components.sdk import gcp
from components.versions import IMAGES
from infra.config import Target
from infra.parts import (
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    RegionContext,
    backup_endpoint_problems,
    exporter_pods,
)
from infra.settings import Settings
from infra.targets import data_pool

SIZES_PATH = "phasescale:overrides.redis"
ENGINE_PATH = "phasescale:redis.engine"
PASSWORD_KEY = "redisPassword"
CONFIG_PATH = "phasescale:redis"


def plan(settings: Settings) -> rp.RedisPlan:
    """The Redis of one region, as decided by the catalog row and the stack's redis config."""
    sizes = settings.sizes.redis
    cfg = settings.stack.redis
    return rp.RedisPlan(
        name="redis",
        namespace=settings.stack.namespace,
        mode=rp.Mode(sizes.mode),
        engine=rp.Engine(cfg.engine.value),
        maxmemory_mb=sizes.maxmemory_mb,
        maxmemory_policy=sizes.maxmemory_policy,
        memory_mib=sizes.memory_mib,
        cpu_m=sizes.cpu_millicores,
        storage_gib=sizes.storage_gib,
        storage_class=cfg.storage_class,
        shards=sizes.shards,
        replicas_per_shard=sizes.replicas_per_shard,
        sentinels=sizes.sentinels,
        appendonly=cfg.appendonly,
        image=IMAGES["redis"].ref,
        sentinel_image=IMAGES["redis-sentinel"].ref,
        exporter_image=IMAGES["redis-exporter"].ref,
        monitoring_namespace=MONITORING_NAMESPACE if settings.stack.parts.monitoring else None,
        data_pool=data_pool(settings) is not None,
    )


def _pod(spec: dict[str, Any], role: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pod the operator makes: Redis (or Sentinel) and its exporter; placement of the role or spec."""
    where = role if role is not None else spec
    return {
        "containers": [{"resources": spec["kubernetesConfig"]["resources"]}, {"resources": spec["redisExporter"]["resources"]}],
        "nodeSelector": where.get("nodeSelector"),
        "tolerations": where.get("tolerations"),
        "topologySpreadConstraints": where.get("topologySpreadConstraints"),
    }


def exports_managed(p: rp.RedisPlan, monitoring: bool) -> bool:
    """A managed cache gets a redis_exporter (components/redis/cluster.py) with monitoring on, except
    Memorystore cluster mode (IAM auth, which redis_exporter cannot do)."""
    iam = p.engine is rp.Engine.MEMORYSTORE and p.mode is rp.Mode.CLUSTER
    return monitoring and p.engine is not rp.Engine.OPERATOR and not iam


def pods(settings: Settings) -> list[PodGroup]:
    """The operator's pods (the same in every region); a managed engine's redis_exporter."""
    p = plan(settings)
    if p.engine is not rp.Engine.OPERATOR:
        if not exports_managed(p, settings.stack.parts.monitoring):
            return []
        return exporter_pods(p.namespace, [f"{p.name}-exporter"], xp.ExporterKind.REDIS, SIZES_PATH)
    spec: dict[str, Any] = ro.data_spec(p)
    base = f"{p.namespace}/{p.kind}/{p.name}"
    if p.mode is rp.Mode.CLUSTER:
        return [
            pod_group(f"{base}/{role}", _pod(spec, spec[key]), spec[key]["replicas"], spec[key]["replicas"], SIZES_PATH)
            for role, key in (("leader", "redisLeader"), ("follower", "redisFollower"))
        ]
    n = spec.get("clusterSize", 1)
    out = [pod_group(base, _pod(spec), n, n, SIZES_PATH)]
    if p.mode is rp.Mode.REPLICATION:
        sentinel: dict[str, Any] = ro.sentinel_spec(p)
        k = sentinel["clusterSize"]
        out.append(pod_group(f"{p.namespace}/RedisSentinel/{p.sentinel_name}", _pod(sentinel), k, k, SIZES_PATH))
    return out


def validate(settings: Settings) -> list[Problem]:
    problems = rp.validate(
        plan(settings),
        settings.stack.cluster.target.value,
        settings.secrets.get(PASSWORD_KEY),
        SIZES_PATH,
        ENGINE_PATH,
    )
    return problems + backup_endpoint_problems(
        settings, f"{CONFIG_PATH}.backupEndpointUrl", settings.stack.redis.backup_endpoint_url,
        "the hourly RDB backups need an S3-compatible endpoint (none: only the RDB on the node's volume)",
    )


def bucket_name(settings: Settings, stack: str, region: str) -> str:
    prefix = settings.stack.redis.backup_bucket_prefix
    default = f"{settings.stack.cluster.gcp_project or 'phasescale'}-{stack}-redis"
    return f"{prefix or default}-{region}"


def backup_plan(settings: Settings, redis: rp.RedisPlan, stack: str, region: str, location: str,
                cloud_name: str) -> bp.BackupPlan:
    """Where and how one region's Redis is backed up every hour (see components/redis_backup_plan)."""
    cfg, target = settings.stack.redis, settings.stack.cluster.target
    store = {Target.GKE: bp.Store.GCS, Target.EKS: bp.Store.S3}.get(target)
    if target is Target.EXISTING and cfg.backup_endpoint_url:
        store = bp.Store.S3_COMPATIBLE
    return bp.BackupPlan(
        redis=redis,
        images=bp.Images(redis=IMAGES["redis"].ref, rclone=IMAGES["rclone"].ref,
                         gcloud=IMAGES["google-cloud-cli"].ref, aws=IMAGES["aws-cli"].ref),
        store=store,
        bucket=bucket_name(settings, stack, region),
        endpoint_url=cfg.backup_endpoint_url,
        secret_name=cfg.backup_secret,
        cloud_name=cloud_name,
        project=settings.stack.cluster.gcp_project,
        location=location,
    )


def _managed_opts(ctx: RegionContext) -> pulumi.ResourceOptions:
    """A managed Redis: its cloud resources with the region's cloud provider, its connection Secret
    with the cluster's Kubernetes provider, after the app namespace."""
    providers: list[pulumi.ProviderResource] = [ctx.cluster.provider]
    if ctx.cluster.aws_provider is not None:
        providers.append(ctx.cluster.aws_provider)
    return pulumi.ResourceOptions(providers=providers, depends_on=[ctx.namespace])


def client_identity(ctx: RegionContext, service: str) -> pulumi.Output[dict[str, str]] | None:
    """Memorystore cluster (IAM auth): the Google identity a service with ``cache`` acts as through
    workload identity, allowed to connect (``roles/redis.dbConnectionUser`` on the project). The app
    gets an OAuth access token for it from the GKE metadata server (Application Default Credentials,
    scope cloud-platform) and sends it as the AUTH password, refreshing it before its hour runs out.
    None for every other engine and mode (they use the password in ``redis-connection``)."""
    p = plan(ctx.settings)
    project = ctx.settings.stack.cluster.gcp_project
    if not rconn.needs_identity(p) or project is None:
        return None
    name = f"{ctx.key}-{service}-redis"
    account_id = f"{ctx.key}-{service}"  # 6-30 characters, unique in the project
    if len(account_id) < 6:
        account_id = f"{account_id}-redis"
    if len(account_id) > 30:
        account_id = f"{account_id[:21]}-{hashlib.sha256(account_id.encode()).hexdigest()[:8]}"
    opts = pulumi.ResourceOptions(depends_on=[ctx.namespace])
    account, _ = workload_identity_account(
        name, project, account_id, f"{service} in {ctx.key}: Memorystore cluster client (IAM auth)",
        ctx.app_namespace, service, opts,
    )
    gcp.projects.IAMMember(
        f"{name}-connect", project=project, role=rconn.IAM_ROLE,
        member=account.email.apply(lambda e: f"serviceAccount:{e}"), opts=opts,
    )
    return account.email.apply(lambda e: {"iam.gke.io/gcp-service-account": e})


def build(ctx: RegionContext) -> dict[str, Any]:
    p = plan(ctx.settings)
    name = f"{ctx.key}-redis"
    password = ctx.settings.secrets.get(PASSWORD_KEY)
    args = RedisClusterArgs(
        plan=p,
        cloud_name=f"{ctx.cluster.cluster_name}-redis"[:40],
        password=pulumi.Output.secret(password) if password else None,
        monitor_labels=MONITOR_LABELS if ctx.settings.stack.parts.monitoring else None,
        protect=ctx.protect,
        exporter_image=IMAGES["redis-exporter"].ref if exports_managed(p, ctx.settings.stack.parts.monitoring) else None,
    )
    if p.engine is rp.Engine.OPERATOR:
        operator = release(
            f"{ctx.key}-redis-operator",
            "redis-operator",
            ro.OPERATOR_NAMESPACE,
            ro.operator_values(p.namespace),
            ctx.k8s_opts(),
        )
        component = RedisCluster(name, args, opts=ctx.k8s_opts(operator))
    elif p.engine is rp.Engine.MEMORYSTORE:
        gke = ctx.cluster.gke
        project = ctx.settings.stack.cluster.gcp_project
        assert gke is not None and project is not None  # validate: memorystore needs target gke
        args = dataclasses.replace(args, memorystore=MemorystoreOptions(
            project=project, region=ctx.cluster.location, network=gke.network.id, subnetwork=gke.subnet.id,
        ))
        component = RedisCluster(name, args, opts=_managed_opts(ctx))
    else:
        eks = ctx.cluster.eks
        assert eks is not None  # validate: elasticache needs target eks
        args = dataclasses.replace(args, elasticache=VpcPlacement(
            vpc_id=eks.vpc.id,
            vpc_cidr=ctx.settings.stack.regions[ctx.key].vpc_cidr,
            subnet_ids=eks.private_subnet_ids,
        ))
        component = RedisCluster(name, args, opts=_managed_opts(ctx))
    ctx.built["redis"] = component
    backup = backup_plan(ctx.settings, p, pulumi.get_stack(), ctx.key, ctx.cluster.location, args.cloud_name)
    if backup.enabled:
        providers: list[pulumi.ProviderResource] = [ctx.cluster.provider]
        if ctx.cluster.aws_provider is not None:
            providers.append(ctx.cluster.aws_provider)
        RedisBackup(
            f"{name}-backup",
            RedisBackupArgs(plan=backup, export_identity=component.export_identity, eks=ctx.cluster.eks,
                            protect=ctx.protect),
            opts=pulumi.ResourceOptions(providers=providers, depends_on=[ctx.namespace, component]),
        )
    return {
        "engine": p.engine.value,
        "mode": p.mode.value,
        "maxmemory": f"{p.maxmemory_mb}mb {p.maxmemory_policy}",
        "shards": p.shards,
        "replicasPerShard": p.replicas_per_shard,
        "endpoint": p.endpoint if p.engine is rp.Engine.OPERATOR else component.endpoint,
        "backups": f"{backup.method.value} {backup.schedule} UTC, kept {bp.KEEP_DAYS} days" if backup.enabled else "none",
    }
