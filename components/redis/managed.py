"""The managed engines of a RedisPlan: arguments of Memorystore (GKE) and ElastiCache (EKS) resources."""

from __future__ import annotations

import math

from components.redis.plan import (
    BACKUP_DAYS,
    ELASTICACHE_SNAPSHOT_WINDOW,
    MEMORYSTORE_BACKUP_HOUR,
    REDIS_PORT,
    Mode,
    RedisPlan,
    elasticache_node_type,
    memorystore_node_type,
)

ELASTICACHE_ENGINE = "valkey"
ELASTICACHE_ENGINE_VERSION = "8.0"
ELASTICACHE_FAMILY = "valkey8"
MEMORYSTORE_VERSION = "REDIS_7_2"


# --- Managed engines -------------------------------------------------------------------------------


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
