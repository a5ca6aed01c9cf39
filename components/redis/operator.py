"""The OT-CONTAINER-KIT redis-operator custom resources of a RedisPlan (engine ``operator``), as plain
dicts: the data resource, Sentinels, their config, NetworkPolicy, PodMonitor and the chart values."""

from __future__ import annotations

from components import kube
from components.redis.plan import REDIS_PORT, REDIS_UID, Mode, RedisPlan
from components.scheduling import data_placement

API = "redis.redis.opstreelabs.in/v1beta2"
OPERATOR_NAMESPACE = "redis-operator"
SENTINEL_PORT = 26379
BUS_PORT = 16379
EXPORTER_PORT = 9121
EXPORTER_PORT_NAME = "redis-exporter"
"""The port name the operator gives the exporter container (internal/controller/common/constants.go)."""
SENTINEL_MASTER = "mymaster"


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


def placement(plan: RedisPlan) -> dict[str, object]:
    """``nodeSelector`` and ``tolerations`` of the Redis pods: the data pool when there is one. The
    Sentinels stay on the general pool, so losing a data node never takes a Sentinel with it."""
    return data_placement() if plan.data_pool else {}


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
            **placement(plan),
        }
        spec.update(
            clusterSize=plan.shards,
            # "v7" also for the Redis 8 image: operator 0.26 compares clusterVersion == "v7" to pick
            # hostname-based discovery; "v8" would fall back to the Redis 6 IP-based code path
            # (OT-CONTAINER-KIT/redis-operator PR commit c353a1ad, tests/e2e-chainsaw/v1beta2/version-v8).
            clusterVersion="v7",
            persistenceEnabled=True,
            redisLeader={**role, "replicas": plan.shards},
            redisFollower={**role, "replicas": plan.shards * plan.replicas_per_shard},
        )
        return spec
    spec["redisConfig"] = config
    spec["securityContext"] = redis_container_security_context()
    spec["terminationGracePeriodSeconds"] = 60
    spec.update(placement(plan))
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
