"""Pure planning of the CloudNativePG path: the Cluster, Pooler, ScheduledBackup and barman-cloud
ObjectStore specs, the replica-cluster variant, the labels, selectors and NetworkPolicies around
them, and the backup bucket's IAM policy.

No Pulumi imports: every function returns plain data (dicts with the APIs' camelCase keys,
``list[Problem]``), so the component and the tests share one source of truth.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components.postgres.plan import PORT, PoolerSizing, PostgresSizing, cnpg_parameters
from components.problems import Problem
from components.scheduling import data_placement

CNPG_API = "postgresql.cnpg.io/v1"
BARMAN_API = "barmancloud.cnpg.io/v1"
BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io"

PGBOUNCER_UID, PGBOUNCER_GID = 998, 996
"""The user and group of the ``cloudnative-pg/pgbouncer`` image (CNPG runs the pooler as these)."""

INSTANCE_METRICS_PORT = 9187
POOLER_METRICS_PORT = 9127
STATUS_PORT = 8000


class PoolerType(StrEnum):
    RW = "rw"
    RO = "ro"


class BackupCredentials(StrEnum):
    AWS_IAM_ROLE = "aws-iam-role"
    """IRSA / EKS Pod Identity on the cluster's service account."""
    GKE_WORKLOAD_IDENTITY = "gke-workload-identity"
    SECRET = "secret"
    """Access keys in a Secret (MinIO): keys ``ACCESS_KEY_ID`` and ``ACCESS_SECRET_KEY``."""


@dataclass(frozen=True)
class BackupStore:
    """Where barman-cloud keeps base backups and WAL. ``destination_path``: s3:// or gs://."""

    destination_path: str
    credentials: BackupCredentials
    endpoint_url: str | None = None
    """S3-compatible endpoint (MinIO); None for AWS S3 and GCS."""
    secret_name: str | None = None
    """For ``BackupCredentials.SECRET``."""
    retention_days: int = 30


# --- CloudNativePG -----------------------------------------------------------------------------


def _guaranteed(cpu: str, memory: str) -> dict[str, dict[str, str]]:
    """Requests = limits: Guaranteed QoS, never evicted first, no CPU throttling surprises."""
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def _spread(match_labels: Mapping[str, str]) -> list[dict[str, object]]:
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": dict(match_labels)},
        }
    ]


def cnpg_cluster_spec(
    name: str,
    sizing: PostgresSizing,
    image: str,
    *,
    database: str = "app",
    owner: str = "app",
    owner_secret: str | None = None,
    storage_class: str | None = None,
    object_store: str | None = None,
    service_account_annotations: Mapping[str, str] | None = None,
    data_pool: bool = False,
) -> dict[str, object]:
    """``spec`` of a ``postgresql.cnpg.io/v1`` Cluster: 1 primary + ``read_replicas`` standbys.

    ``object_store`` names the barman-cloud ObjectStore (None: no WAL archive, no backups).
    ``service_account_annotations`` carry IRSA / workload identity for the backup sidecar.
    ``data_pool``: the instances select and tolerate the tainted data node pool
    (``spec.affinity.nodeSelector`` / ``tolerations``, which CNPG copies onto every instance pod).
    """
    storage: dict[str, object] = {"size": f"{sizing.storage_gib}Gi", "resizeInUseVolumes": True}
    if storage_class:
        storage["storageClass"] = storage_class
    initdb: dict[str, object] = {"database": database, "owner": owner, "dataChecksums": True}
    if owner_secret:
        initdb["secret"] = {"name": owner_secret}
    spec: dict[str, object] = {
        "instances": 1 + sizing.read_replicas,
        "imageName": image,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        # CNPG's primary PDB is minAvailable 1: with one instance it allows no eviction and blocks
        # every node drain, protecting nothing (no standby to fail over to). CNPG's "Kubernetes
        # upgrade and maintenance" docs: set enablePDB false for single-instance clusters.
        "enablePDB": sizing.read_replicas > 0,
        "storage": storage,
        "resources": _guaranteed(str(sizing.cpu), f"{sizing.memory_gib}Gi"),
        "postgresql": {"parameters": cnpg_parameters(sizing)},
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "preferred",
            **(data_placement() if data_pool else {}),
        },
        "topologySpreadConstraints": _spread({"cnpg.io/cluster": name, "cnpg.io/podRole": "instance"}),
        "monitoring": {"enablePodMonitor": True},
        "bootstrap": {"initdb": initdb},
    }
    if object_store:
        spec["plugins"] = [
            {"name": BARMAN_PLUGIN, "isWALArchiver": True, "parameters": {"barmanObjectName": object_store}}
        ]
    if service_account_annotations:
        spec["serviceAccountTemplate"] = {"metadata": {"annotations": dict(service_account_annotations)}}
    return spec


def pooler_types(sizing: PostgresSizing) -> tuple[PoolerType, ...]:
    """A read-write pooler always; a read-only one when there are replicas to read from."""
    return (PoolerType.RW, PoolerType.RO) if sizing.read_replicas > 0 else (PoolerType.RW,)


def pooler_name(cluster: str, pooler_type: PoolerType) -> str:
    return f"{cluster}-pooler-{pooler_type.value}"


def pgbouncer_parameters(pooler: PoolerSizing) -> dict[str, str]:
    """``spec.pgbouncer.parameters`` of a CNPG Pooler (all on the webhook's allowed list)."""
    params = {
        "max_client_conn": str(pooler.max_client_conn),
        "default_pool_size": str(pooler.default_pool_size),
        "min_pool_size": str(pooler.min_pool_size),
        "reserve_pool_size": str(pooler.reserve_pool_size),
        "reserve_pool_timeout": str(pooler.reserve_pool_timeout_s),
        "max_db_connections": str(pooler.server_connections_per_instance),
        "ignore_startup_parameters": "extra_float_digits",
        "log_pooler_errors": "1",
        "stats_period": "60",
    }
    if pooler.max_prepared_statements:
        params["max_prepared_statements"] = str(pooler.max_prepared_statements)
    return params


def cnpg_pooler_spec(
    cluster: str,
    pooler: PoolerSizing,
    pooler_type: PoolerType,
    image: str,
    *,
    cpu_m: int = 500,
    memory_mib: int = 256,
) -> dict[str, object]:
    """``spec`` of a CNPG Pooler: PgBouncer pods (one process each; it is single-threaded, so half
    a CPU goes a long way) spread across zones, hardened, Guaranteed QoS."""
    name = pooler_name(cluster, pooler_type)
    return {
        "cluster": {"name": cluster},
        "instances": pooler.instances,
        "type": pooler_type.value,
        "pgbouncer": {"poolMode": pooler.pool_mode.value, "parameters": pgbouncer_parameters(pooler)},
        "monitoring": {"enablePodMonitor": True},
        "deploymentStrategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": {
                "labels": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "phasescale"}
            },
            "spec": {
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": PGBOUNCER_UID,
                    "runAsGroup": PGBOUNCER_GID,
                    "fsGroup": PGBOUNCER_GID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "topologySpreadConstraints": _spread({"cnpg.io/poolerName": name}),
                "containers": [
                    {
                        "name": "pgbouncer",
                        "image": image,
                        "resources": _guaranteed(f"{cpu_m}m", f"{memory_mib}Mi"),
                        "securityContext": {
                            "runAsNonRoot": True,
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "privileged": False,
                            "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                    }
                ],
            },
        },
    }


def scheduled_backup_spec(cluster: str, schedule: str = "0 0 3 * * *") -> dict[str, object]:
    """Daily base backup through the barman-cloud plugin (CNPG cron has a seconds field: 03:00)."""
    return {
        "cluster": {"name": cluster},
        "schedule": schedule,
        "immediate": True,
        "backupOwnerReference": "self",
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_PLUGIN},
    }


def object_store_spec(
    store: BackupStore, *, sidecar_cpu_m: int = 250, sidecar_memory_mib: int = 256
) -> dict[str, object]:
    """``spec`` of a ``barmancloud.cnpg.io/v1`` ObjectStore: base backups + WAL, kept 30 days."""
    config: dict[str, object] = {
        "destinationPath": store.destination_path,
        "wal": {"compression": "gzip", "maxParallel": 4},
        "data": {"compression": "gzip", "jobs": 2},
    }
    if store.endpoint_url:
        config["endpointURL"] = store.endpoint_url
    if store.credentials is BackupCredentials.AWS_IAM_ROLE:
        config["s3Credentials"] = {"inheritFromIAMRole": True}
    elif store.credentials is BackupCredentials.GKE_WORKLOAD_IDENTITY:
        config["googleCredentials"] = {"gkeEnvironment": True}
    else:
        secret = store.secret_name or ""
        config["s3Credentials"] = {
            "accessKeyId": {"name": secret, "key": "ACCESS_KEY_ID"},
            "secretAccessKey": {"name": secret, "key": "ACCESS_SECRET_KEY"},
        }
    return {
        "retentionPolicy": f"{store.retention_days}d",
        "configuration": config,
        "instanceSidecarConfiguration": {
            "resources": _guaranteed(f"{sidecar_cpu_m}m", f"{sidecar_memory_mib}Mi"),
        },
    }


def backup_problems(store: BackupStore, path: str) -> list[Problem]:
    """Destination scheme versus credentials; the secret a MinIO store needs."""
    problems: list[Problem] = []
    scheme = store.destination_path.split("://", 1)[0] if "://" in store.destination_path else ""
    wanted = "gs" if store.credentials is BackupCredentials.GKE_WORKLOAD_IDENTITY else "s3"
    if scheme != wanted:
        problems.append(
            Problem(
                f"{path}.destinationPath",
                store.destination_path,
                f"credentials {store.credentials.value} need a {wanted}:// path",
            )
        )
    if store.credentials is BackupCredentials.SECRET and not store.secret_name:
        problems.append(Problem(f"{path}.secretName", None, "credentials secret need a Secret name"))
    if store.retention_days < 1:
        problems.append(Problem(f"{path}.retentionDays", store.retention_days, "1 or more"))
    return problems


# --- Labels, selectors, NetworkPolicies, replica clusters, backup IAM ------------------------


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
                    "name": BARMAN_PLUGIN,
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
