"""Pure planning for RedisCluster: the plan, its validation and the constants shared by every engine.

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

from components.problems import Problem

REDIS_PORT = 6379
REDIS_UID = 1000
"""The opstree redis image runs as 1000 and owns /data, /node-conf and /etc/redis (Dockerfile)."""
HEADROOM_PERCENT = 25
"""Share of the node's memory kept above maxmemory: fork copy-on-write (RDB, AOF rewrite),
replication and client buffers, fragmentation."""
STORAGE_FACTOR = 3
"""Data volume per node >= 3x maxmemory: the RDB, the AOF and the rewrite's temporary copy."""
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
    image: str = "quay.io/opstree/redis:v8.2.2"
    sentinel_image: str = "quay.io/opstree/redis-sentinel:v8.2.2"
    exporter_image: str = "oliver006/redis_exporter:v1.89.0"
    monitoring_namespace: str | None = None
    """Namespace of Prometheus; ``None``: no scrape access and no PodMonitor."""
    data_pool: bool = False
    """Operator: the Redis pods select and tolerate the tainted data node pool (Sentinels do not)."""

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
    # Memorystore for Redis "Read replicas": "Read replicas are only supported for instance sizes with
    # nodes >= 5 GB" (docs.cloud.google.com/memorystore/docs/redis/read-replicas, Caveats); replication
    # plans STANDARD_HA with READ_REPLICAS_ENABLED (components/redis/managed.memorystore_instance_args).
    if plan.engine is Engine.MEMORYSTORE and plan.mode is Mode.REPLICATION and math.ceil(plan.memory_mib / 1024) < 5:
        problems.append(
            Problem(
                f"{sizes_path}.memoryMib",
                plan.memory_mib,
                "at least 5120 for mode replication on Memorystore (read replicas need nodes of 5 GB or more); "
                "or mode standalone (one BASIC node) for a smaller cache",
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


# --- Managed node types (validation checks them) --------------------------------------------------


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
