"""Pure planning for RedisCluster: validation and the specs of every engine, as plain dicts.

Three modes, one per growth stage: ``standalone`` (one node), ``replication`` (a primary, replicas and
Sentinels that fail over), ``cluster`` (hash slots over >= 3 shards, a replica each). Three engines:
``operator`` (OT-CONTAINER-KIT redis-operator custom resources, any cluster), ``memorystore`` (GKE)
and ``elasticache`` (EKS). A mode change changes the data resource's kind (or tier), so it is never
done in place: the diff names it as a stateful replacement and production stacks refuse it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

from components import kube
from components.problems import Problem

API = "redis.redis.opstreelabs.in/v1beta2"
OPERATOR_NAMESPACE = "redis-operator"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
BUS_PORT = 16379
EXPORTER_PORT = 9121
EXPORTER_PORT_NAME = "redis-exporter"
"""The port name the operator gives the exporter container (internal/controller/common/constants.go)."""
REDIS_UID = 1000
"""The opstree redis image runs as 1000 and owns /data, /node-conf and /etc/redis (Dockerfile)."""
HEADROOM_PERCENT = 25
"""Share of the node's memory kept above maxmemory: fork copy-on-write (RDB, AOF rewrite),
replication and client buffers, fragmentation."""
STORAGE_FACTOR = 3
"""Data volume per node >= 3x maxmemory: the RDB, the AOF and the rewrite's temporary copy."""
SENTINEL_MASTER = "mymaster"
ELASTICACHE_ENGINE = "valkey"
ELASTICACHE_ENGINE_VERSION = "8.0"
ELASTICACHE_FAMILY = "valkey8"
MEMORYSTORE_VERSION = "REDIS_7_2"
BACKUP_DAYS = 7
MEMORYSTORE_BACKUP_HOUR = 3
"""UTC; the daily automated backup of a Memorystore cluster (the hourly backup job skips this hour)."""
ELASTICACHE_SNAPSHOT_WINDOW = "17:00-18:00"
"""UTC; the daily automatic snapshot (the hourly backup job skips this hour)."""
ELASTICACHE_TOKEN = re.compile(r"[A-Za-z0-9!&#$^<>-]{16,128}")

# Usable memory per node type (GiB). ElastiCache keeps reserved-memory-percent (25%) itself, so a
# node fits when 75% of its memory holds maxmemory; Memorystore cluster node types by capacity.
ELASTICACHE_NODES = (
    ("cache.t4g.small", 1.37),
    ("cache.t4g.medium", 3.09),
    ("cache.r7g.large", 13.07),
    ("cache.r7g.xlarge", 26.32),
    ("cache.r7g.2xlarge", 52.82),
    ("cache.r7g.4xlarge", 105.81),
)
MEMORYSTORE_CLUSTER_NODES = (
    ("REDIS_SHARED_CORE_NANO", 1.4),
    ("REDIS_STANDARD_SMALL", 6.5),
    ("REDIS_HIGHMEM_MEDIUM", 13.0),
    ("REDIS_HIGHMEM_XLARGE", 58.0),
)


class Mode(StrEnum):
    STANDALONE = "standalone"
    REPLICATION = "replication"
    CLUSTER = "cluster"


class Engine(StrEnum):
    OPERATOR = "operator"
    MEMORYSTORE = "memorystore"
    ELASTICACHE = "elasticache"


KIND = {Mode.STANDALONE: "Redis", Mode.REPLICATION: "RedisReplication", Mode.CLUSTER: "RedisCluster"}
"""The data custom resource of each mode: the kind, not the name, tells the mode."""


@dataclass(frozen=True)
class RedisPlan:
    """Everything that decides the objects of one region's Redis."""

    name: str = "redis"
    """Kubernetes name of the data resource (the operator derives its Services from it)."""
    namespace: str = "phasescale"
    mode: Mode = Mode.STANDALONE
    engine: Engine = Engine.OPERATOR
    maxmemory_mb: int = 512
    maxmemory_policy: str = "allkeys-lru"
    memory_mib: int = 768
    cpu_m: int = 500
    storage_gib: int = 5
    storage_class: str | None = None
    shards: int = 1
    replicas_per_shard: int = 0
    sentinels: int = 0
    appendonly: bool = True
    image: str = "quay.io/opstree/redis:v7.0.15"
    sentinel_image: str = "quay.io/opstree/redis-sentinel:v7.0.15"
    exporter_image: str = "quay.io/opstree/redis-exporter:v1.44.0"
    monitoring_namespace: str | None = None
    """Namespace of Prometheus; ``None``: no scrape access and no PodMonitor."""

    @property
    def kind(self) -> str:
        return KIND[self.mode]

    @property
    def sentinel_name(self) -> str:
        return f"{self.name}-sentinel"

    @property
    def config_name(self) -> str:
        return f"{self.name}-config"

    @property
    def secret_name(self) -> str:
        return f"{self.name}-auth"

    @property
    def endpoint(self) -> str:
        """The Service clients write to (operator), by mode."""
        return {
            Mode.STANDALONE: self.name,
            Mode.REPLICATION: f"{self.name}-master",
            Mode.CLUSTER: f"{self.name}-leader",
        }[self.mode]

    @property
    def nodes(self) -> int:
        return self.shards * (1 + self.replicas_per_shard)


# --- Validation -----------------------------------------------------------------------------------


def validate(
    plan: RedisPlan, target: str, password: str | None, sizes_path: str, engine_path: str
) -> list[Problem]:
    """Every problem of one Redis plan. ``target`` is the cluster target (existing, gke, eks);
    ``sizes_path`` the config path of the catalog sizes (``phasescale:overrides.redis``)."""
    problems: list[Problem] = []
    allowed = {"operator": ("existing", "gke", "eks"), "memorystore": ("gke",), "elasticache": ("eks",)}
    if target not in allowed[plan.engine.value]:
        valid = ", ".join(e for e, targets in allowed.items() if target in targets)
        problems.append(
            Problem(
                engine_path,
                plan.engine.value,
                f"{plan.engine.value} needs cluster.target {' or '.join(allowed[plan.engine.value])} "
                f"(got {target}); valid on {target}: {valid}",
            )
        )
    limit = plan.memory_mib * (100 - HEADROOM_PERCENT) // 100
    if plan.maxmemory_mb > limit:
        problems.append(
            Problem(
                f"{sizes_path}.maxmemoryMb",
                plan.maxmemory_mb,
                f"at most {limit} ({100 - HEADROOM_PERCENT}% of memoryMib {plan.memory_mib}): "
                f"{HEADROOM_PERCENT}% headroom for fork (RDB/AOF rewrite) and replication buffers; "
                f"raise memoryMib to {math.ceil(plan.maxmemory_mb * 100 / (100 - HEADROOM_PERCENT))} or more",
            )
        )
    if plan.engine is Engine.OPERATOR and plan.storage_gib * 1024 < STORAGE_FACTOR * plan.maxmemory_mb:
        need = math.ceil(STORAGE_FACTOR * plan.maxmemory_mb / 1024)
        problems.append(
            Problem(
                f"{sizes_path}.storageGib",
                plan.storage_gib,
                f"at least {need} ({STORAGE_FACTOR}x maxmemoryMb {plan.maxmemory_mb}: RDB, AOF and rewrite)",
            )
        )
    problems += _mode_problems(plan, sizes_path)
    if plan.engine is Engine.ELASTICACHE and elasticache_node_type(plan.maxmemory_mb) is None:
        problems.append(
            Problem(
                f"{sizes_path}.maxmemoryMb",
                plan.maxmemory_mb,
                f"too big for one ElastiCache node (largest {ELASTICACHE_NODES[-1][0]}); use more shards",
            )
        )
    if (
        plan.engine is Engine.MEMORYSTORE
        and plan.mode is Mode.CLUSTER
        and memorystore_node_type(plan) is None
    ):
        problems.append(
            Problem(
                f"{sizes_path}.memoryMib",
                plan.memory_mib,
                f"too big for one Memorystore cluster node (largest {MEMORYSTORE_CLUSTER_NODES[-1][0]}); "
                "use more shards",
            )
        )
    if plan.engine is not Engine.MEMORYSTORE:  # Memorystore generates its own AUTH string
        if not password:
            problems.append(
                Problem(
                    "phasescale:redisPassword",
                    None,
                    "required for engine operator and elasticache: "
                    "`pulumi config set --secret phasescale:redisPassword <16-128 characters>`",
                )
            )
        elif plan.engine is Engine.ELASTICACHE and not ELASTICACHE_TOKEN.fullmatch(password):
            problems.append(
                Problem(
                    "phasescale:redisPassword",
                    "[secret]",
                    "16-128 characters of letters, digits and ! & # $ ^ < > - (ElastiCache AUTH token rules)",
                )
            )
        elif len(password) < 16:
            problems.append(Problem("phasescale:redisPassword", "[secret]", "at least 16 characters"))
    return problems


def _mode_problems(plan: RedisPlan, path: str) -> list[Problem]:
    problems = []
    if plan.mode is Mode.CLUSTER:
        if plan.shards < 3:
            problems.append(
                Problem(
                    f"{path}.shards",
                    plan.shards,
                    "cluster mode needs at least 3 shards (a majority of masters must survive a failure)",
                )
            )
        if plan.replicas_per_shard < 1:
            problems.append(
                Problem(
                    f"{path}.replicasPerShard",
                    plan.replicas_per_shard,
                    "cluster mode needs at least 1 replica per shard (failover)",
                )
            )
    elif plan.shards != 1:
        problems.append(
            Problem(f"{path}.shards", plan.shards, f"only mode cluster has shards; {plan.mode.value} needs 1")
        )
    if plan.mode is Mode.REPLICATION:
        if plan.replicas_per_shard < 1:
            problems.append(
                Problem(
                    f"{path}.replicasPerShard",
                    plan.replicas_per_shard,
                    "replication mode needs at least 1 replica",
                )
            )
        if plan.engine is Engine.OPERATOR and (plan.sentinels < 3 or plan.sentinels % 2 == 0):
            problems.append(
                Problem(
                    f"{path}.sentinels",
                    plan.sentinels,
                    "replication mode needs an odd number of Sentinels, 3 or more (a quorum survives one loss)",
                )
            )
    if plan.mode is Mode.STANDALONE and plan.replicas_per_shard:
        problems.append(
            Problem(
                f"{path}.replicasPerShard",
                plan.replicas_per_shard,
                "standalone has no replicas; 0, or mode replication",
            )
        )
    return problems


# --- Operator custom resources ---------------------------------------------------------------------


def labels(plan: RedisPlan, name: str | None = None) -> dict[str, str]:
    """Labels of the custom resources; the operator copies them onto the pods."""
    return kube.labels(name or plan.name, "redis")


def pod_selector() -> dict[str, str]:
    """Every Redis and Sentinel pod of the stack (NetworkPolicy, PodMonitor)."""
    return {"app.kubernetes.io/component": "redis", "app.kubernetes.io/part-of": kube.PART_OF}


def redis_config(plan: RedisPlan) -> str:
    """``redis-additional.conf``: included last by the image's entrypoint, so it wins. ``save ""`` drops
    the image's 900/300/60 save points: one RDB snapshot an hour (when anything changed)."""
    lines = [
        f"maxmemory {plan.maxmemory_mb}mb",
        f"maxmemory-policy {plan.maxmemory_policy}",
        'save ""',
        "save 3600 1",
        f"appendonly {'yes' if plan.appendonly else 'no'}",
    ]
    if plan.appendonly:
        lines.append("appendfsync everysec")
    return "\n".join(lines) + "\n"


def config_map_data(plan: RedisPlan) -> dict[str, str]:
    return {"redis-additional.conf": redis_config(plan)}


def _resources(plan: RedisPlan) -> dict[str, dict[str, str]]:
    return kube.resources(plan.cpu_m, plan.memory_mib)


def _exporter(plan: RedisPlan) -> dict[str, object]:
    return {
        "enabled": True,
        "image": plan.exporter_image,
        "imagePullPolicy": "IfNotPresent",
        "port": EXPORTER_PORT,
        "resources": kube.resources(50, 64, 200, 128),
        "securityContext": kube.container_security_context(REDIS_UID),
    }


def _kubernetes_config(plan: RedisPlan) -> dict[str, object]:
    return {
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
        "resources": _resources(plan),
        "redisSecret": {"name": plan.secret_name, "key": "password"},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
    }


def _claim(plan: RedisPlan, gib: int) -> dict[str, object]:
    spec: dict[str, object] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{gib}Gi"}},
    }
    if plan.storage_class:
        spec["storageClassName"] = plan.storage_class
    return {"spec": spec}


def _storage(plan: RedisPlan) -> dict[str, object]:
    out: dict[str, object] = {"keepAfterDelete": True, "volumeClaimTemplate": _claim(plan, plan.storage_gib)}
    if plan.mode is Mode.CLUSTER:  # nodes.conf must survive restarts, or a pod forgets its slots
        out["nodeConfVolume"] = True
        out["nodeConfVolumeClaimTemplate"] = _claim(plan, 1)
    return out


def redis_container_security_context() -> dict[str, object]:
    """Hardened, except the root filesystem: the image's entrypoint writes /etc/redis/redis.conf."""
    return kube.container_security_context(REDIS_UID, read_only_root=False)


def _pdb() -> dict[str, object]:
    return {"enabled": True, "maxUnavailable": 1}


def data_spec(plan: RedisPlan) -> dict[str, object]:
    """The spec of the data resource (Redis, RedisReplication or RedisCluster)."""
    config = {"additionalRedisConfig": plan.config_name}
    spec: dict[str, object] = {
        "kubernetesConfig": _kubernetes_config(plan),
        "redisExporter": _exporter(plan),
        "storage": _storage(plan),
        "podSecurityContext": kube.pod_security_context(REDIS_UID),
    }
    if plan.mode is Mode.CLUSTER:
        role = {
            "terminationGracePeriodSeconds": 60,
            "redisConfig": config,
            "securityContext": redis_container_security_context(),
            "pdb": _pdb(),
            "topologySpreadConstraints": kube.zone_spread(plan.name),
        }
        spec.update(
            clusterSize=plan.shards,
            clusterVersion="v7",
            persistenceEnabled=True,
            redisLeader={**role, "replicas": plan.shards},
            redisFollower={**role, "replicas": plan.shards * plan.replicas_per_shard},
        )
        return spec
    spec["redisConfig"] = config
    spec["securityContext"] = redis_container_security_context()
    spec["terminationGracePeriodSeconds"] = 60
    if plan.mode is Mode.REPLICATION:
        spec.update(
            clusterSize=1 + plan.replicas_per_shard,
            pdb=_pdb(),
            topologySpreadConstraints=kube.zone_spread(plan.name),
        )
    return spec


def sentinel_spec(plan: RedisPlan) -> dict[str, object]:
    """Sentinels watching the replication (failover by quorum of a majority)."""
    return {
        "clusterSize": plan.sentinels,
        "kubernetesConfig": {
            "image": plan.sentinel_image,
            "imagePullPolicy": "IfNotPresent",
            "resources": kube.resources(100, 128, 500, 128),
            "redisSecret": {"name": plan.secret_name, "key": "password"},
        },
        "redisSentinelConfig": {
            "redisReplicationName": plan.name,
            "redisReplicationPassword": {"secretKeyRef": {"name": plan.secret_name, "key": "password"}},
            "masterGroupName": SENTINEL_MASTER,
            "quorum": str(plan.sentinels // 2 + 1),
        },
        "redisExporter": _exporter(plan),
        "pdb": _pdb(),
        "podSecurityContext": kube.pod_security_context(REDIS_UID),
        "securityContext": redis_container_security_context(),
        "topologySpreadConstraints": kube.zone_spread(plan.sentinel_name),
    }


def network_policy_spec(plan: RedisPlan) -> dict[str, object]:
    """Clients from the app namespace only; the operator (it connects to configure replication and
    slots) from its namespace; Prometheus on the exporter port only."""
    ports = [REDIS_PORT]
    if plan.mode is Mode.REPLICATION:
        ports.append(SENTINEL_PORT)
    if plan.mode is Mode.CLUSTER:
        ports.append(BUS_PORT)

    def peer(ns: str) -> dict[str, object]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}

    tcp = [{"protocol": "TCP", "port": p} for p in ports]
    rules: list[dict[str, object]] = [
        {"from": [peer(plan.namespace), peer(OPERATOR_NAMESPACE)], "ports": tcp}
    ]
    if plan.monitoring_namespace:
        rules.append(
            {"from": [peer(plan.monitoring_namespace)], "ports": [{"protocol": "TCP", "port": EXPORTER_PORT}]}
        )
    return {"podSelector": {"matchLabels": pod_selector()}, "policyTypes": ["Ingress"], "ingress": rules}


def pod_monitor_spec(plan: RedisPlan) -> dict[str, object]:
    return {
        "selector": {"matchLabels": pod_selector()},
        "namespaceSelector": {"matchNames": [plan.namespace]},
        "podMetricsEndpoints": [{"port": EXPORTER_PORT_NAME, "interval": "30s"}],
    }


def operator_values(watch_namespace: str) -> dict[str, object]:
    """Values of the redis-operator chart: hardened, watching the app namespace only."""
    return {
        "redisOperator": {"imagePullPolicy": "IfNotPresent", "watchNamespace": watch_namespace},
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": "500Mi"},
        },
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }


# --- Managed engines -------------------------------------------------------------------------------


def elasticache_node_type(maxmemory_mb: int) -> str | None:
    """The smallest node whose 75% (ElastiCache reserves 25%) holds ``maxmemory_mb``."""
    for node, gib in ELASTICACHE_NODES:
        if gib * 1024 * 0.75 >= maxmemory_mb:
            return node
    return None


def memorystore_node_type(plan: RedisPlan) -> str | None:
    for node, gib in MEMORYSTORE_CLUSTER_NODES:
        if gib * 1024 >= plan.memory_mib:
            return node
    return None


def memorystore_instance_args(plan: RedisPlan) -> dict[str, object]:
    """gcp.redis.Instance: BASIC for standalone, STANDARD_HA with read replicas for replication."""
    ha = plan.mode is Mode.REPLICATION
    args: dict[str, object] = {
        "tier": "STANDARD_HA" if ha else "BASIC",
        "memory_size_gb": math.ceil(plan.memory_mib / 1024),
        "redis_version": MEMORYSTORE_VERSION,
        "auth_enabled": True,
        "transit_encryption_mode": "SERVER_AUTHENTICATION",
        "connect_mode": "DIRECT_PEERING",
        "redis_configs": {
            "maxmemory-gb": f"{plan.maxmemory_mb / 1024:g}",
            "maxmemory-policy": plan.maxmemory_policy,
        },
        "persistence_config": {"persistence_mode": "RDB", "rdb_snapshot_period": "ONE_HOUR"},
    }
    if ha:
        args["replica_count"] = plan.replicas_per_shard
        args["read_replicas_mode"] = "READ_REPLICAS_ENABLED"
    return args


def memorystore_cluster_args(plan: RedisPlan) -> dict[str, object]:
    """gcp.redis.Cluster: shards x replicas over zones, IAM auth, TLS, hourly RDB, 7 daily backups."""
    return {
        "shard_count": plan.shards,
        "replica_count": plan.replicas_per_shard,
        "node_type": memorystore_node_type(plan),
        "authorization_mode": "AUTH_MODE_IAM_AUTH",
        "transit_encryption_mode": "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION",
        "zone_distribution_config": {"mode": "MULTI_ZONE"},
        "redis_configs": {"maxmemory-policy": plan.maxmemory_policy},
        "persistence_config": {"mode": "RDB", "rdb_config": {"rdb_snapshot_period": "ONE_HOUR"}},
        "automated_backup_config": {
            "fixed_frequency_schedule": {"start_time": {"hours": MEMORYSTORE_BACKUP_HOUR}},
            "retention": f"{BACKUP_DAYS * 86400}s",
        },
    }


def elasticache_args(plan: RedisPlan) -> dict[str, object]:
    """aws.elasticache.ReplicationGroup: encrypted at rest and in transit, AUTH token, Multi-AZ with
    automatic failover when there are replicas, daily snapshots kept 7 days."""
    replicas = plan.replicas_per_shard > 0
    args: dict[str, object] = {
        "engine": ELASTICACHE_ENGINE,
        "engine_version": ELASTICACHE_ENGINE_VERSION,
        "node_type": elasticache_node_type(plan.maxmemory_mb),
        "port": REDIS_PORT,
        "at_rest_encryption_enabled": True,
        "transit_encryption_enabled": True,
        "automatic_failover_enabled": replicas,
        "multi_az_enabled": replicas,
        "snapshot_retention_limit": BACKUP_DAYS,
        "snapshot_window": ELASTICACHE_SNAPSHOT_WINDOW,
        "maintenance_window": "sun:18:30-sun:19:30",
        "auto_minor_version_upgrade": True,
        "apply_immediately": False,
    }
    if plan.mode is Mode.CLUSTER:
        args.update(
            cluster_mode="enabled",
            num_node_groups=plan.shards,
            replicas_per_node_group=plan.replicas_per_shard,
        )
    else:
        args.update(cluster_mode="disabled", num_cache_clusters=1 + plan.replicas_per_shard)
    return args


def elasticache_parameters(plan: RedisPlan) -> list[dict[str, str]]:
    params = [{"name": "maxmemory-policy", "value": plan.maxmemory_policy}]
    if plan.mode is Mode.CLUSTER:
        params.append({"name": "cluster-enabled", "value": "yes"})
    return params
