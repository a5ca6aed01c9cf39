"""The phase catalog: every size of every part, per phase, as one table per part.

Read a table across to see what moving up a phase changes. Figures come from
``REQUIREMENTS.md`` (the seeds); where the seeds are silent the value is marked ``# chosen`` with
its reason. A stack picks its phase with ``phasescale:phase`` and may replace any value here with
``phasescale:overrides`` (same keys, camelCase), e.g. ``overrides: {postgres: {readReplicas: 3}}``.

Machine types do not change with the phase (only counts do), so a phase change never replaces a
node pool; change them with an override when a bigger node is needed.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from infra.catalog_streams import LOGGING, QUEUE, LoggingSizing, QueueSizing, ordered
from infra.config import Model

PHASES = (1, 2, 3, 4)
PHASE_NAMES = {1: "MVP", 2: "Growth", 3: "Scale", 4: "Enterprise"}
GCE_MACHINE_TYPE = (
    r"^(e2|n1|n2|n2d|n4|n4d|c2|c2d|c3|c3d|c4|c4a|c4d|t2a|t2d|m1|m2|m3|m4|a2|a3|a4|g2|g4|h3|h4d|z3|x4)"
    r"-[a-z]+(-[0-9]+[a-z]*)?(-[a-z0-9]+)?$"
)
"""A Compute Engine machine type of a known family (cloud.google.com/compute/docs/machine-resource)."""
EC2_INSTANCE_TYPE = r"^[a-z]+[0-9][a-z0-9-]*\.(nano|micro|small|medium|large|xlarge|[0-9]+xlarge|metal(-[0-9]+xl)?)$"
"""An EC2 instance type: family.size (docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html)."""


class ServiceSizing(Model):
    """Replica bounds for services that do not set their own (phasescale:services.X.replicas)."""

    min_replicas: int = Field(ge=0, le=1000)
    max_replicas: int = Field(ge=1, le=1000)
    cloudrun_min_instances: int = Field(ge=0, le=1000)
    cloudrun_max_instances: int = Field(ge=1, le=1000, description="Cloud Run allows up to 1000.")

    @model_validator(mode="after")
    def _bounds(self) -> ServiceSizing:
        ordered(self, ("min_replicas", "max_replicas"), ("cloudrun_min_instances", "cloudrun_max_instances"))
        return self


class NodeSizing(Model):
    """The system node pool of each regional cluster (nodes per zone on GKE, in total on EKS)."""

    min_nodes: int = Field(ge=1, le=1000, description="GKE: at most 1000 nodes per pool and zone.")
    max_nodes: int = Field(ge=1, le=1000)
    gke_machine_type: str = Field(default="e2-standard-4", pattern=GCE_MACHINE_TYPE)
    eks_instance_type: str = Field(default="m6i.xlarge", pattern=EC2_INSTANCE_TYPE)
    disk_gib: int = Field(default=100, ge=20, le=16384, description="Boot disk; EBS gp3 holds 16 TiB at most.")

    @model_validator(mode="after")
    def _bounds(self) -> NodeSizing:
        ordered(self, ("min_nodes", "max_nodes"))
        return self


class DataNodeSizing(Model):
    """The data node pool of each regional cluster (total nodes over the zones, on both clouds).

    Tainted ``phasescale/pool=data:NoSchedule``: only the in-cluster data tier (CNPG instances,
    operator Redis, Milvus) tolerates it. Created only when one of those runs in the cluster."""

    min_nodes: int = Field(ge=0, le=1000)
    max_nodes: int = Field(ge=1, le=1000)
    gke_machine_type: str = Field(default="n2-standard-16", pattern=GCE_MACHINE_TYPE)
    eks_instance_type: str = Field(default="m6i.4xlarge", pattern=EC2_INSTANCE_TYPE)
    disk_gib: int = Field(default=100, ge=20, le=16384, description="Boot disk; EBS gp3 holds 16 TiB at most.")

    @model_validator(mode="after")
    def _bounds(self) -> DataNodeSizing:
        ordered(self, ("min_nodes", "max_nodes"))
        return self


class PostgresSizing(Model):
    read_replicas: int = Field(ge=0, le=10)
    cpu: int = Field(ge=1, le=128, description="vCPU per instance.")
    memory_gib: int = Field(ge=1, le=1024)
    storage_gib: int = Field(ge=10, le=65536, description="RDS and Cloud SQL hold 64 TiB at most.")
    max_connections: int = Field(ge=20, le=10000)
    pooler_instances: int = Field(ge=1, le=20)
    max_client_conn: int = Field(ge=10, le=100_000)
    default_pool_size: int = Field(ge=1, le=10000)
    min_pool_size: int = Field(ge=0, le=10000)
    reserve_pool_size: int = Field(ge=0, le=10000)
    backup_retention_days: int = Field(default=30, ge=1, le=35, description="RDS keeps automated backups 35 days at most.")
    regional_ha: bool = Field(description="Managed engines: a standby in another zone.")

    @model_validator(mode="after")
    def _bounds(self) -> PostgresSizing:
        ordered(self, ("min_pool_size", "default_pool_size"))
        return self


class RedisSizing(Model):
    mode: str = Field(pattern="^(standalone|replication|cluster)$")
    maxmemory_mb: int = Field(ge=64, le=1_048_576, description="Per node (per shard in cluster mode).")
    maxmemory_policy: str = Field(
        default="allkeys-lru",
        pattern="^(noeviction|allkeys-lru|allkeys-lfu|allkeys-random|volatile-lru|volatile-lfu|"
        "volatile-random|volatile-ttl)$",
    )
    memory_mib: int = Field(
        ge=128, le=1_048_576,
        description="Memory per Redis node: container request = limit (operator), capacity (managed).",
    )
    cpu_millicores: int = Field(default=500, ge=100, le=64000, description="CPU request per Redis node (operator).")
    storage_gib: int = Field(ge=1, le=16384, description="Data volume per node (operator): RDB + AOF + rewrite.")
    shards: int = Field(default=1, ge=1, le=250, description="Memorystore cluster: 250 shards at most.")
    replicas_per_shard: int = Field(default=0, ge=0, le=5, description="ElastiCache: 5 replicas per shard at most.")
    sentinels: int = Field(default=0, ge=0, le=9)


class MilvusSizing(Model):
    mode: str = Field(pattern="^(standalone|cluster)$")
    query_nodes: int = Field(default=1, ge=1, le=100)
    data_nodes: int = Field(default=1, ge=1, le=100)
    streaming_nodes: int = Field(default=1, ge=1, le=100)
    proxies: int = Field(default=1, ge=1, le=100)
    query_node_memory_gib: int = Field(
        default=4, ge=1, le=1024, description="Per query node (standalone: the one pod); loaded segments live here."
    )
    minio_storage_gib: int = Field(
        default=50, ge=10, le=65536, description="In-cluster MinIO volume per replica (target existing only)."
    )


class GpuSizing(Model):
    model: str = "llama-2-13b-chat"
    tensor_parallel_size: int = Field(ge=1, le=16)
    pipeline_parallel_size: int = Field(default=1, ge=1, le=16)
    min_replicas: int = Field(ge=0, le=100)
    max_replicas: int = Field(ge=1, le=100)
    spot_max_nodes: int = Field(ge=0, le=100, description="Burst capacity on spot nodes.")
    gke_accelerator: str = Field(description="Checked against the GPU catalog by infra/parts/gpu.py.")
    gke_machine_type: str
    eks_instance_type: str

    @model_validator(mode="after")
    def _bounds(self) -> GpuSizing:
        ordered(self, ("min_replicas", "max_replicas"))
        return self


class CdnSizing(Model):
    enabled: bool = Field(description="Bucket + CDN on gke/eks (target existing: the dev store, any phase).")
    cross_region_replication: bool = Field(description="A replica bucket in the second region.")
    price_class: str = Field(
        default="PriceClass_200", pattern="^PriceClass_(100|200|All)$",
        description="CloudFront edge set (eks); 200 includes Seoul and Tokyo, 100 does not.",
    )
    default_ttl_s: int = Field(default=3600, ge=0, le=31_536_000, description="Edge TTL when the origin sends none.")
    max_ttl_s: int = Field(default=86400, ge=0, le=31_536_000, description="Cloud CDN caps TTLs at one year.")

    @model_validator(mode="after")
    def _bounds(self) -> CdnSizing:
        ordered(self, ("default_ttl_s", "max_ttl_s"))
        return self


class MonitoringSizing(Model):
    retention_days: int = Field(
        ge=1, le=3650, description="Prometheus retention; at least the phase's trigger history (retention_days_needed)."
    )
    storage_gib: int = Field(ge=5, le=16384, description="Prometheus volume per replica; retentionSize is 85% of it.")
    prometheus_replicas: int = Field(ge=1, le=10)
    alertmanager_replicas: int = Field(ge=1, le=10)
    prometheus_cpu_millicores: int = Field(default=500, ge=100, le=64000, description="CPU request per Prometheus replica.")
    prometheus_memory_gib: int = Field(default=2, ge=1, le=1024, description="Memory request = limit per Prometheus replica.")


class RegionSizing(Model):
    multi_region: bool = Field(description="Deploy every listed region (else only the first).")


class PhaseSizes(Model):
    """One row of the catalog: the size of every part at one phase."""

    services: ServiceSizing
    nodes: NodeSizing
    data_nodes: DataNodeSizing
    postgres: PostgresSizing
    redis: RedisSizing
    milvus: MilvusSizing
    gpu: GpuSizing
    cdn: CdnSizing
    monitoring: MonitoringSizing
    regions: RegionSizing
    logging: LoggingSizing
    queue: QueueSizing


# --- The tables ---------------------------------------------------------------------------------
# API bounds: Cloud Run 0-3 / 1-8 / 2-15 (001), HPA 3-50 at the top (004).
SERVICES = {
    1: ServiceSizing(min_replicas=1, max_replicas=3, cloudrun_min_instances=0, cloudrun_max_instances=3),
    2: ServiceSizing(min_replicas=2, max_replicas=8, cloudrun_min_instances=1, cloudrun_max_instances=8),
    3: ServiceSizing(min_replicas=2, max_replicas=15, cloudrun_min_instances=2, cloudrun_max_instances=15),
    4: ServiceSizing(min_replicas=3, max_replicas=50, cloudrun_min_instances=3, cloudrun_max_instances=50),
}

# chosen: counts grow with the phase; machine types stay put so no node pool is replaced.
NODES = {
    1: NodeSizing(min_nodes=1, max_nodes=3),
    2: NodeSizing(min_nodes=2, max_nodes=6),
    3: NodeSizing(min_nodes=3, max_nodes=12),
    4: NodeSizing(min_nodes=3, max_nodes=20),
}

# chosen: one machine shape for every phase (a machine type change replaces the pool): 16 vCPU /
# 64 GiB holds the largest data pod of phase 4, a CNPG instance of 8 vCPU / 32 GiB plus its
# barman-cloud sidecar, after the cloud's reserve and the DaemonSets (components/scheduling.py
# checks it). Counts: phase 4 runs five PostgreSQL instances, one per node (two do not fit a node's
# CPU), beside Milvus and, with the operator engine, twelve Redis nodes; max leaves room to grow.
DATA_NODES = {
    1: DataNodeSizing(min_nodes=1, max_nodes=3),
    2: DataNodeSizing(min_nodes=2, max_nodes=4),
    3: DataNodeSizing(min_nodes=3, max_nodes=6),
    4: DataNodeSizing(min_nodes=5, max_nodes=12),
}

# Replicas: none / one / two / four (001, 000). Pooling figures at phase 2 are the seeds' (002);
# phases 1, 3, 4 are chosen around them. Budget: poolers x (pool + reserve) < 80% of max_connections.
POSTGRES = {
    1: PostgresSizing(read_replicas=0, cpu=1, memory_gib=2, storage_gib=20, max_connections=100,
                      pooler_instances=1, max_client_conn=500, default_pool_size=20,
                      min_pool_size=5, reserve_pool_size=5, regional_ha=False),
    2: PostgresSizing(read_replicas=1, cpu=2, memory_gib=8, storage_gib=100, max_connections=200,
                      pooler_instances=2, max_client_conn=1000, default_pool_size=50,
                      min_pool_size=10, reserve_pool_size=5, regional_ha=False),
    3: PostgresSizing(read_replicas=2, cpu=4, memory_gib=16, storage_gib=250, max_connections=400,
                      pooler_instances=3, max_client_conn=2000, default_pool_size=50,
                      min_pool_size=10, reserve_pool_size=5, regional_ha=True),
    4: PostgresSizing(read_replicas=4, cpu=8, memory_gib=32, storage_gib=500, max_connections=800,
                      pooler_instances=4, max_client_conn=4000, default_pool_size=80,
                      min_pool_size=20, reserve_pool_size=10, regional_ha=True),
}

# Standalone 512 MB (003; grow to 2 GB with an override), replication + Sentinel 16 GB allkeys-lru
# (001), cluster from phase 3 (001). chosen: memory leaves >= 25% over maxmemory for fork/replication
# buffers; storage >= 3x maxmemory (RDB + AOF + rewrite); cluster shards 3 -> 6 at 8 GB each.
REDIS = {
    1: RedisSizing(mode="standalone", maxmemory_mb=512, memory_mib=768, cpu_millicores=250, storage_gib=5),
    2: RedisSizing(mode="replication", maxmemory_mb=16384, memory_mib=22528, cpu_millicores=1000,
                   storage_gib=50, replicas_per_shard=2, sentinels=3),
    3: RedisSizing(mode="cluster", maxmemory_mb=8192, memory_mib=11264, cpu_millicores=1000,
                   storage_gib=25, shards=3, replicas_per_shard=1),
    4: RedisSizing(mode="cluster", maxmemory_mb=8192, memory_mib=11264, cpu_millicores=1000,
                   storage_gib=25, shards=6, replicas_per_shard=1),
}

# Standalone while small; cluster mode from phase 3, query nodes growing for search (000).
# chosen: query node memory and MinIO volumes double per phase (vectors grow with users).
MILVUS = {
    1: MilvusSizing(mode="standalone", query_node_memory_gib=4, minio_storage_gib=50),
    2: MilvusSizing(mode="standalone", query_node_memory_gib=8, minio_storage_gib=100),
    3: MilvusSizing(mode="cluster", query_nodes=2, data_nodes=2, streaming_nodes=2, proxies=2,
                    query_node_memory_gib=8, minio_storage_gib=200),
    4: MilvusSizing(mode="cluster", query_nodes=4, data_nodes=3, streaming_nodes=3, proxies=3,
                    query_node_memory_gib=16, minio_storage_gib=400),
}

# Tensor parallel 1 -> 2 -> 4 (not 3: Llama-2-13b has 40 heads) -> two nodes (001); workers 1-5.
GPU = {
    1: GpuSizing(tensor_parallel_size=1, min_replicas=1, max_replicas=2, spot_max_nodes=1,
                 gke_accelerator="nvidia-tesla-a100", gke_machine_type="a2-highgpu-1g",
                 eks_instance_type="g6e.xlarge"),
    2: GpuSizing(tensor_parallel_size=2, min_replicas=1, max_replicas=3, spot_max_nodes=2,
                 gke_accelerator="nvidia-l4", gke_machine_type="g2-standard-24",
                 eks_instance_type="g6.12xlarge"),
    3: GpuSizing(tensor_parallel_size=4, min_replicas=1, max_replicas=5, spot_max_nodes=4,
                 gke_accelerator="nvidia-l4", gke_machine_type="g2-standard-48",
                 eks_instance_type="g6.12xlarge"),
    4: GpuSizing(tensor_parallel_size=4, min_replicas=2, max_replicas=5, spot_max_nodes=3,
                 gke_accelerator="nvidia-l4", gke_machine_type="g2-standard-48",
                 eks_instance_type="g6.12xlarge"),
}

# CDN when downloads grow (003); phase 3 by default; cross-region replication in phase 4.
CDN = {
    1: CdnSizing(enabled=False, cross_region_replication=False),
    2: CdnSizing(enabled=False, cross_region_replication=False),
    3: CdnSizing(enabled=True, cross_region_replication=False),
    4: CdnSizing(enabled=True, cross_region_replication=True, price_class="PriceClass_All"),  # chosen: 003 adds Indonesia
}

# Retention covers the history the phase's move-up and move-down conditions read back
# (thresholds.retention_days_needed: 29 / 36 / 10 / 13 days); 40 days from phase 2 on, so a rollback
# to phase 2 finds its history.
# chosen: storage ~ series x 15 s samples x retention (~1.5 B/sample) with headroom; Prometheus HA
# (two replicas) from phase 3; memory stays under the e2-standard-4 / m6i.xlarge allocatable.
MONITORING = {
    1: MonitoringSizing(retention_days=30, storage_gib=30, prometheus_replicas=1, alertmanager_replicas=1,
                        prometheus_cpu_millicores=500, prometheus_memory_gib=2),
    2: MonitoringSizing(retention_days=40, storage_gib=100, prometheus_replicas=1, alertmanager_replicas=2,
                        prometheus_cpu_millicores=1000, prometheus_memory_gib=4),
    3: MonitoringSizing(retention_days=40, storage_gib=200, prometheus_replicas=2, alertmanager_replicas=3,
                        prometheus_cpu_millicores=1000, prometheus_memory_gib=6),
    4: MonitoringSizing(retention_days=40, storage_gib=400, prometheus_replicas=2, alertmanager_replicas=3,
                        prometheus_cpu_millicores=2000, prometheus_memory_gib=8),
}

# Multi-region (Seoul + Tokyo) in phase 4 (002).
REGIONS = {
    1: RegionSizing(multi_region=False),
    2: RegionSizing(multi_region=False),
    3: RegionSizing(multi_region=False),
    4: RegionSizing(multi_region=True),
}

def phase_row(phase: int) -> dict[str, Any]:
    """The catalog row of ``phase`` as plain camelCase data (what overrides are merged into)."""
    row = PhaseSizes(
        services=SERVICES[phase],
        nodes=NODES[phase],
        data_nodes=DATA_NODES[phase],
        postgres=POSTGRES[phase],
        redis=REDIS[phase],
        milvus=MILVUS[phase],
        gpu=GPU[phase],
        cdn=CDN[phase],
        monitoring=MONITORING[phase],
        regions=REGIONS[phase],
        logging=LOGGING[phase],
        queue=QUEUE[phase],
    )
    return row.model_dump(by_alias=True, mode="json")
