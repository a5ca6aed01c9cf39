"""Pure planning for MilvusCluster: the Milvus CR (``milvus.io/v1beta1``), its PodMonitor and the
operator's Helm values, as plain dicts. No Pulumi imports.

Architecture (Milvus 2.6 through milvus-operator 1.3):

* ``standalone`` (phases 1-2): one pod runs every role.
* ``cluster`` (phase 3 on): mixcoord (the four coordinators in one process), proxies, query nodes
  (scaled for search, seed 000), data nodes (which also build indexes in 2.6: no index node) and
  streaming nodes (2.6's WAL owners).
* Message queue: **Woodpecker, embedded**, in both modes. It is 2.6's own WAL, writes to the same
  object storage as the segments (so it inherits the bucket's durability and IAM) and runs inside the
  Milvus pods: no Pulsar or Kafka cluster to run. The operator 1.3 picks it by default for a 2.6
  standalone but *Pulsar* for a cluster, so the type is always set explicitly (a message queue cannot
  change while Milvus holds data).
* Metadata: the operator's in-cluster etcd, persistent, 1 replica standalone / 3 in cluster mode.
* Object storage: an S3 bucket (IRSA) on EKS, a GCS bucket (Workload Identity, ``cloudProvider: gcp``)
  on GKE, the operator's in-cluster MinIO on an existing cluster. Every dependency is ``Retain``-ed with
  its volumes: deleting the CR never deletes data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components import kube
from components.problems import Problem
from components.scheduling import data_placement

MILVUS_API = "milvus.io/v1beta1"
MONITOR_API = "monitoring.coreos.com/v1"
METRICS_PORT_NAME = "metrics"
"""The operator names Milvus' metrics port (9091) ``metrics`` on every component."""
MILVUS_UID = 1000
"""``components.runAsNonRoot`` makes the operator run the pods as this user."""
ETCD_STORAGE_GIB = 10
MSG_STREAM = "woodpecker"


class Mode(StrEnum):
    STANDALONE = "standalone"
    CLUSTER = "cluster"


class Storage(StrEnum):
    """Where segments, indexes and the Woodpecker WAL live."""

    MINIO = "minio"
    """The operator's in-cluster MinIO (target existing)."""
    S3 = "s3"
    """An S3 bucket reached through IRSA (target eks)."""
    GCS = "gcs"
    """A GCS bucket reached through Workload Identity (target gke)."""


@dataclass(frozen=True)
class Res:
    """Requests of one component; limits follow ``kube.resources`` (memory = request, CPU = 2x)."""

    cpu_m: int
    memory_mib: int

    def spec(self) -> dict[str, dict[str, str]]:
        return kube.resources(self.cpu_m, self.memory_mib)


# chosen: starting points from Milvus' sizing guide for a few million 768-d vectors; query nodes hold
# loaded segments in memory, so their memory is a catalog value (queryNodeMemoryGib) that grows per phase.
MIX_COORD = Res(500, 1024)
PROXY = Res(500, 1024)
DATA_NODE = Res(1000, 4096)
STREAMING_NODE = Res(500, 2048)
ETCD = Res(250, 1024)
MINIO = Res(500, 2048)


@dataclass(frozen=True)
class MilvusPlan:
    """Everything that decides the objects of one Milvus instance."""

    name: str
    """The CR name: ``{region}-milvus``, never with the phase (a new name is a new, empty database)."""
    namespace: str
    image: str
    mode: Mode
    storage: Storage
    service_account: str
    etcd_image: tuple[str, str]
    """(repository, tag) of the in-cluster etcd."""
    minio_image: tuple[str, str] = ("minio/minio", "latest")
    query_nodes: int = 1
    data_nodes: int = 1
    streaming_nodes: int = 1
    proxies: int = 1
    query_node_memory_gib: int = 4
    minio_storage_gib: int = 50
    storage_class: str | None = None
    bucket: str | None = None
    """S3 / GCS bucket name (not for MinIO)."""
    region: str | None = None
    """The bucket's AWS region (S3: the client needs the regional endpoint)."""
    data_pool: bool = False
    """Every Milvus pod, etcd and MinIO select and tolerate the tainted data node pool."""

    @property
    def cluster(self) -> bool:
        return self.mode is Mode.CLUSTER

    @property
    def etcd_replicas(self) -> int:
        return 3 if self.cluster else 1

    @property
    def query_node(self) -> Res:
        return Res(1000 if not self.cluster else 2000, self.query_node_memory_gib * 1024)


def validate(plan: MilvusPlan, path: str) -> list[Problem]:
    """Checks of the sizes (``path`` is the config prefix, e.g. ``phasescale:overrides.milvus``)."""
    problems: list[Problem] = []
    counts = {
        "queryNodes": plan.query_nodes,
        "dataNodes": plan.data_nodes,
        "streamingNodes": plan.streaming_nodes,
        "proxies": plan.proxies,
    }
    if plan.cluster:
        if plan.query_nodes < 2:
            problems.append(
                Problem(
                    f"{path}.queryNodes",
                    plan.query_nodes,
                    "2 or more in mode cluster: search must survive the loss of a query node",
                )
            )
        if plan.proxies < 2:
            problems.append(
                Problem(
                    f"{path}.proxies",
                    plan.proxies,
                    "2 or more in mode cluster: the proxy is the only entry point",
                )
            )
    else:
        for key, n in counts.items():
            if n != 1:
                problems.append(
                    Problem(
                        f"{path}.{key}",
                        n,
                        "1 in mode standalone (one pod runs every role); set mode: cluster to scale roles",
                    )
                )
    return problems


def container_security_context() -> dict[str, Any]:
    """The Milvus container's context (the CR's ``components.securityContext``)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": MILVUS_UID,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _role(replicas: int, res: Res) -> dict[str, Any]:
    return {"replicas": replicas, "resources": res.spec()}


def components_spec(plan: MilvusPlan) -> dict[str, Any]:
    com: dict[str, Any] = {
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
        "runAsNonRoot": True,
        "securityContext": container_security_context(),
        "serviceAccountName": plan.service_account,
        "podLabels": {"app.kubernetes.io/part-of": kube.PART_OF},
        "disableMetric": True,  # the operator's PodMonitor lacks Prometheus' selector labels: we add our own
        **(data_placement() if plan.data_pool else {}),
    }
    if plan.cluster:
        com.update(
            mixCoord=_role(1, MIX_COORD),
            proxy=_role(plan.proxies, PROXY),
            queryNode=_role(plan.query_nodes, plan.query_node),
            dataNode=_role(plan.data_nodes, DATA_NODE),
            streamingNode=_role(plan.streaming_nodes, STREAMING_NODE),
        )
    else:
        com["standalone"] = _role(1, plan.query_node)
    return com


def _persistence(size_gib: int, storage_class: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"enabled": True, "size": f"{size_gib}Gi"}
    if storage_class:
        out["storageClass"] = storage_class
    return out


def _retained(values: dict[str, Any]) -> dict[str, Any]:
    """In-cluster dependency: kept, with its volumes, when the CR is deleted."""
    return {"deletionPolicy": "Retain", "pvcDeletion": False, "values": values}


def etcd_values(plan: MilvusPlan) -> dict[str, Any]:
    repo, tag = plan.etcd_image
    return {
        "replicaCount": plan.etcd_replicas,
        "image": {"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
        "persistence": _persistence(ETCD_STORAGE_GIB, plan.storage_class),
        "pdb": {"create": plan.cluster},
        "resources": ETCD.spec(),
        **(data_placement() if plan.data_pool else {}),
        "containerSecurityContext": {
            "enabled": True,
            "runAsUser": 1001,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def minio_values(plan: MilvusPlan) -> dict[str, Any]:
    repo, tag = plan.minio_image
    return {
        "mode": "distributed" if plan.cluster else "standalone",
        "image": {"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
        "persistence": _persistence(plan.minio_storage_gib, plan.storage_class),
        "podDisruptionBudget": {"enabled": plan.cluster, "maxUnavailable": 1},
        "resources": MINIO.spec(),
        **(data_placement() if plan.data_pool else {}),
        "securityContext": {"enabled": True, "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
    }


def storage_spec(plan: MilvusPlan) -> dict[str, Any]:
    if plan.storage is Storage.MINIO:
        return {"type": "MinIO", "external": False, "inCluster": _retained(minio_values(plan))}
    endpoint = (
        f"s3.{plan.region}.amazonaws.com:443" if plan.storage is Storage.S3 else "storage.googleapis.com:443"
    )
    # S3-compatible API either way; no secretRef: credentials come from the pod's identity (useIAM).
    return {"type": "S3", "external": True, "endpoint": endpoint, "secretRef": ""}


def config_spec(plan: MilvusPlan) -> dict[str, Any]:
    """Milvus' own config (``milvus.yaml`` keys) that the storage needs."""
    if plan.storage is Storage.MINIO:
        return {"minio": {"rootPath": "milvus"}}
    minio: dict[str, Any] = {
        "bucketName": plan.bucket,
        "rootPath": "milvus",
        "useSSL": True,
        "useIAM": True,
        "cloudProvider": "aws" if plan.storage is Storage.S3 else "gcp",
    }
    if plan.region:
        minio["region"] = plan.region
    return {"minio": minio}


def milvus_spec(plan: MilvusPlan) -> dict[str, Any]:
    return {
        "mode": plan.mode.value,
        "components": components_spec(plan),
        "dependencies": {
            "msgStreamType": MSG_STREAM,
            "etcd": {"external": False, "inCluster": _retained(etcd_values(plan))},
            "storage": storage_spec(plan),
        },
        "config": config_spec(plan),
    }


def pod_selector(plan: MilvusPlan) -> dict[str, str]:
    """The labels the operator puts on every Milvus pod of the instance."""
    return {"app.kubernetes.io/instance": plan.name, "app.kubernetes.io/name": "milvus"}


def pod_monitor_spec(plan: MilvusPlan) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": pod_selector(plan)},
        "namespaceSelector": {"matchNames": [plan.namespace]},
        "podTargetLabels": ["app.kubernetes.io/component"],
        "podMetricsEndpoints": [{"port": METRICS_PORT_NAME, "path": "/metrics", "interval": "15s"}],
    }


def operator_values() -> dict[str, Any]:
    """milvus-operator chart values: one replica (the chart has no leader election), hardened. The root
    filesystem stays writable: the operator runs Helm for the in-cluster dependencies, which caches charts.
    The chart installs the CRDs and deletes them (and every Milvus) on uninstall: never uninstall it."""
    return {
        "replicaCount": 1,
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "podSecurityContext": {
            "runAsUser": 65532,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        # The chart renders only this key of the container's context (its ``securityContext`` value is unused).
        "allowPrivilegeEscalation": False,
    }
