"""The logging part's plan and its checks (pure: no Pulumi calls).

Two backends collect every container's stdout/stderr (JSON lines decoded into fields, as the seeds'
Filebeat config does with ``decode_json_fields``), each with its retention from the catalog:

- ``eck``: Elasticsearch + Kibana through the ECK operator, Filebeat as a ``Beat`` DaemonSet
  (``eck_plan.py``). Free Basic license only: ILM, security (TLS, users) and the Beats are Basic
  features; nothing here needs Enterprise (``StackConfigPolicy``, autoscaling and role-split PDBs do).
- ``loki``: Loki (Monolithic) with its chunks and index in a private bucket, Grafana Alloy as the
  DaemonSet (``loki_plan.py``), Loki as a datasource of the MonitoringStack's Grafana.

Names never carry the phase: the Elasticsearch, Kibana and Beat resources are ``logs``, the Loki
release ``loki`` and the Alloy release ``alloy``, in every phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from components.problems import Problem

NAMESPACE = "logging"
"""Elasticsearch, Kibana or Loki: restricted-compatible pods (namespace enforces baseline)."""
SHIPPER_NAMESPACE = "log-shipper"
"""The DaemonSet that reads the nodes' ``/var/log``: hostPath and root, so its own privileged namespace."""
OPERATOR_NAMESPACE = "elastic-system"
NAME = "logs"
"""The Elasticsearch, Kibana and Beat resources' name (ECK derives ``logs-es-http``, ``logs-kb-http``...)."""
ILM_POLICY = "phasescale-logs"
HEAP_SHARE = 0.5
"""Elasticsearch reference, "Setting JVM heap size" (elastic.co/guide/en/elasticsearch/reference/7.11/
advanced-configuration.html; the same rule in every later version): Xms and Xmx no more than 50% of
the total memory (off-heap buffers and the filesystem cache Lucene lives on need the rest)."""
MAX_HEAP_GIB = 31
"""Same page: no more than the compressed-oops threshold, "near 32 GB" (the catalog's ``le=31``)."""


class Backend(StrEnum):
    ECK = "eck"
    LOKI = "loki"


class ObjectStore(StrEnum):
    """Where Loki keeps chunks and index: the target's object storage, or the pod's volume (existing)."""

    GCS = "gcs"
    S3 = "s3"
    FILESYSTEM = "filesystem"


@dataclass(frozen=True)
class LoggingPlan:
    backend: Backend
    retention_days: int
    es_nodes: int
    es_cpu_m: int
    es_memory_gib: int
    es_heap_gib: int
    es_storage_gib: int
    kibana_replicas: int
    loki_replicas: int
    loki_cpu_m: int
    loki_memory_gib: int
    loki_storage_gib: int
    shipper_cpu_m: int
    shipper_memory_mib: int
    es_version: str = ""
    storage_class: str | None = None
    data_pool: bool = False
    """Elasticsearch on the tainted data pool (gke/eks with a data pool)."""
    zones: int = 0
    """Zones of the cluster's nodes (gke/eks: 3); 0 when unknown (existing)."""
    object_store: ObjectStore = ObjectStore.FILESYSTEM
    bucket: str | None = None
    region: str | None = None
    """S3: the bucket's region."""
    monitoring: bool = False
    """The MonitoringStack runs: ServiceMonitors and Loki's Grafana datasource are created."""
    monitoring_namespace: str = "monitoring"
    monitor_labels: tuple[tuple[str, str], ...] = ()
    """Labels the MonitoringStack's Prometheus selects ServiceMonitors by."""

    @property
    def zone_aware(self) -> bool:
        """ECK ``zoneAwareness`` on the node set: several known zones and more than one node. Not on
        existing: ECK then requires the zone label on every node (its init container waits for it)."""
        return self.zones > 1 and self.es_nodes > 1

    @property
    def loki_replication_factor(self) -> int:
        return 3 if self.loki_replicas >= 3 else 1


def quorum_survives(nodes: int, zones: int) -> bool:
    """Whether a majority of master-eligible nodes is left after losing the largest failure domain
    (a zone, or one node when zones are unknown). Elasticsearch elects a master by majority of the
    voting configuration (elastic.co/docs/deploy-manage/distributed-architecture/discovery-cluster-formation/
    modules-discovery-quorums): 2 nodes, and 4 nodes over 3 zones (2 + 1 + 1), stop on the loss of one."""
    domains = zones if zones > 1 else nodes
    lost = math.ceil(nodes / domains)
    return nodes - lost > nodes / 2


def validate(plan: LoggingPlan, path: str, managed_cloud: bool) -> list[Problem]:
    """Every check of the part's sizes (``path``: ``phasescale:overrides.logging``). ``managed_cloud``:
    target gke or eks, where Loki must keep its data in the cloud's object storage."""
    found: list[Problem] = []
    if plan.backend is Backend.ECK:
        limit = int(plan.es_memory_gib * HEAP_SHARE)
        if plan.es_heap_gib > limit:
            found.append(Problem(
                f"{path}.elasticsearchHeapGib", plan.es_heap_gib,
                f"at most {limit} (half of elasticsearchMemoryGib {plan.es_memory_gib}: Elastic's rule, the rest "
                "is the filesystem cache); raise elasticsearchMemoryGib or lower the heap",
            ))
        if plan.es_nodes > 1 and not quorum_survives(plan.es_nodes, plan.zones):
            where = f"over {plan.zones} zones" if plan.zones > 1 else "one per node"
            found.append(Problem(
                f"{path}.elasticsearchNodes", plan.es_nodes,
                f"1, or a count whose master quorum survives the loss of a zone ({where}): 3, 5, 6 or more; "
                f"{plan.es_nodes} nodes lose the majority with the largest failure domain",
            ))
    else:
        if managed_cloud and plan.object_store is ObjectStore.FILESYSTEM:
            found.append(Problem(
                f"{path}.lokiReplicas", plan.loki_replicas,
                "object storage (a GCS or S3 bucket) on gke and eks: Loki's filesystem store is one pod's volume",
            ))
        if plan.object_store is ObjectStore.FILESYSTEM and plan.loki_replicas > 1:
            found.append(Problem(
                f"{path}.lokiReplicas", plan.loki_replicas,
                "1 on target existing: the filesystem store is one pod's volume; more replicas need object "
                "storage (target gke or eks)",
            ))
        if plan.loki_replicas == 2:
            found.append(Problem(
                f"{path}.lokiReplicas", 2,
                "1 or at least 3: replication factor 3 needs three replicas, and two add no write quorum",
            ))
    return found
