"""The phase catalog's tables of the logging and queue parts, and the row-ordering rule every table uses (``infra.catalog`` re-exports them and
registers them in ``PhaseSizes`` like every other table, so overrides and per-phase values apply)."""

from __future__ import annotations

from pydantic import Field, model_validator

from infra.config import Model


def ordered(row: Model, *pairs: tuple[str, str]) -> None:
    """Catalog rows (and their overrides) keep each lower bound at or below its upper bound."""
    for low, high in pairs:
        if getattr(row, low) > getattr(row, high):
            fields = type(row).model_fields
            raise ValueError(f"{fields[low].alias or low} ({getattr(row, low)}) must not be above "
                             f"{fields[high].alias or high} ({getattr(row, high)})")


class LoggingSizing(Model):
    """The logging part (``parts.logging``): retention, Elasticsearch (backend eck) and Loki (backend
    loki) sizes, and the log shipper DaemonSet on every node (Filebeat or Alloy). Checked by
    components/logging/plan.py (heap vs memory, node count, replicas on existing)."""

    retention_days: int = Field(ge=1, le=3650, description="Logs older than this are deleted (ILM delete phase / Loki compactor).")
    elasticsearch_nodes: int = Field(ge=1, le=100, description="eck: master+data nodes in one node set; 1 or at least 3.")
    elasticsearch_cpu_millicores: int = Field(ge=500, le=64000, description="eck: CPU request per node (limit 2x).")
    elasticsearch_memory_gib: int = Field(ge=2, le=256, description="eck: memory request = limit per node.")
    elasticsearch_heap_gib: int = Field(ge=1, le=31, description="eck: JVM heap; at most half the memory, at most 31 GiB.")
    elasticsearch_storage_gib: int = Field(ge=10, le=65536, description="eck: data volume per node; never lower it on a live stack.")
    kibana_replicas: int = Field(ge=1, le=10, description="eck: Kibana instances.")
    loki_replicas: int = Field(ge=1, le=20, description="loki: Monolithic replicas (3 replicate every stream 3 times).")
    loki_cpu_millicores: int = Field(ge=100, le=64000, description="loki: CPU request per replica (limit 2x).")
    loki_memory_gib: int = Field(ge=1, le=256, description="loki: memory request = limit per replica.")
    loki_storage_gib: int = Field(ge=5, le=16384, description="loki: volume per replica (WAL, compactor, index cache).")
    shipper_cpu_millicores: int = Field(ge=50, le=4000, description="Filebeat / Alloy CPU request on every node (limit 2x).")
    shipper_memory_mib: int = Field(ge=128, le=8192, description="Filebeat / Alloy memory request = limit on every node.")
class QueueSizing(Model):
    """The queue or event stream of each region (phasescale:parts.queue; engine in phasescale:queue)."""

    enabled: bool = Field(description="Whether the queue (and the workers that consume it) runs at this phase.")
    brokers: int = Field(
        ge=1, le=60,
        description="Kafka brokers (strimzi broker pool; msk: a multiple of the region's zones). Not managedkafka (it sizes by vCPU).",
    )
    controllers: int = Field(default=3, ge=1, le=9, description="strimzi: KRaft controllers (odd: a majority survives).")
    broker_cpu_millicores: int = Field(ge=250, le=64000, description="strimzi: CPU request per broker.")
    broker_memory_gib: int = Field(ge=1, le=256, description="strimzi: memory request = limit per broker (heap is half).")
    storage_gib: int = Field(ge=1, le=16384, description="Volume per broker (strimzi, msk EBS) or RabbitMQ node; never shrinks.")
    partitions: int = Field(ge=1, le=1000, description="Partitions per topic (the most consumers a group can use).")
    replication_factor: int = Field(ge=1, le=5)
    min_insync_replicas: int = Field(ge=1, le=5, description="At most replicationFactor; acks=all writes need this many.")
    retention_hours: int = Field(default=168, ge=1, le=87600, description="Topic retention (strimzi topics, broker default on msk).")
    msk_instance_type: str = Field(default="kafka.m7g.large", pattern=r"^kafka\.[a-z0-9]+\.[0-9]*x?large$")
    managed_kafka_vcpus: int = Field(ge=3, le=1000, description="managedkafka: vCPUs of the cluster (3 at least).")
    managed_kafka_memory_gib: int = Field(ge=1, le=8000, description="managedkafka: 1-8 GiB per vCPU.")
    rabbitmq_replicas: int = Field(ge=1, le=9, description="rabbitmq: nodes; odd, so quorum queues keep a majority.")
    rabbitmq_cpu_millicores: int = Field(ge=250, le=64000)
    rabbitmq_memory_gib: int = Field(ge=1, le=256, description="rabbitmq: request = limit per node.")

    @model_validator(mode="after")
    def _bounds(self) -> QueueSizing:
        ordered(self, ("min_insync_replicas", "replication_factor"))
        return self


# chosen (the seeds name Filebeat -> Elasticsearch/Kibana (002, 004) but give no volume or retention):
# a week of logs while small, two weeks at Growth, a month from Scale on. Elasticsearch: one node,
# then three master+data nodes (a quorum survives one loss; one replica per shard), five at phase 4;
# heap half the memory (Elastic "Set the JVM heap size": Xms/Xmx no more than 50% of total memory);
# storage grows only. Loki Monolithic: one replica, three (replication factor 3) from phase 3.
# Loki's volume (WAL, index cache, compactor; the chunks are in the bucket) is 50 GiB at every phase:
# it is the chart StatefulSet's volumeClaimTemplate, which Kubernetes never lets an upgrade change.
# Shipper: Filebeat's / Alloy's own examples request 100m / a few hundred MiB per node.
LOGGING = {
    1: LoggingSizing(retention_days=7, elasticsearch_nodes=1, elasticsearch_cpu_millicores=1000,
                     elasticsearch_memory_gib=4, elasticsearch_heap_gib=2, elasticsearch_storage_gib=50,
                     kibana_replicas=1, loki_replicas=1, loki_cpu_millicores=500, loki_memory_gib=2,
                     loki_storage_gib=50, shipper_cpu_millicores=100, shipper_memory_mib=256),
    2: LoggingSizing(retention_days=14, elasticsearch_nodes=3, elasticsearch_cpu_millicores=1000,
                     elasticsearch_memory_gib=8, elasticsearch_heap_gib=4, elasticsearch_storage_gib=100,
                     kibana_replicas=1, loki_replicas=1, loki_cpu_millicores=1000, loki_memory_gib=4,
                     loki_storage_gib=50, shipper_cpu_millicores=100, shipper_memory_mib=256),
    3: LoggingSizing(retention_days=30, elasticsearch_nodes=3, elasticsearch_cpu_millicores=2000,
                     elasticsearch_memory_gib=16, elasticsearch_heap_gib=8, elasticsearch_storage_gib=250,
                     kibana_replicas=2, loki_replicas=3, loki_cpu_millicores=1000, loki_memory_gib=4,
                     loki_storage_gib=50, shipper_cpu_millicores=200, shipper_memory_mib=512),
    4: LoggingSizing(retention_days=30, elasticsearch_nodes=5, elasticsearch_cpu_millicores=2000,
                     elasticsearch_memory_gib=16, elasticsearch_heap_gib=8, elasticsearch_storage_gib=500,
                     kibana_replicas=2, loki_replicas=3, loki_cpu_millicores=2000, loki_memory_gib=8,
                     loki_storage_gib=50, shipper_cpu_millicores=200, shipper_memory_mib=512),
}


# Kafka event stream from phase 3 (001 "4. Kafka event stream", scale_phase2_to_3.sh); a stack that queues
# earlier (004: RabbitMQ/Kafka from phase 2) sets queue.enabled for those phases. chosen: three brokers
# (replication 3, min ISR 2: one broker may fail without refusing acks=all writes) on every row so a move
# grows vertically: MSK never removes brokers and Kafka never removes partitions, so the broker count
# and partitions stay put at every phase (raise them with an override, never lower them). Volumes grow
# with the phase (a move down cannot shrink them: keep the larger size with an override). MSK m7g.large
# (2 vCPU, 8 GiB) and Managed Kafka 3 vCPU / 12 GiB (its minimum vCPU) at phase 3, doubled at phase 4.
# RabbitMQ: one node while small, three (quorum queues need a majority) from phase 2.
QUEUE = {
    1: QueueSizing(enabled=False, brokers=3, broker_cpu_millicores=500, broker_memory_gib=2, storage_gib=20,
                   partitions=12, replication_factor=3, min_insync_replicas=2, managed_kafka_vcpus=3,
                   managed_kafka_memory_gib=3, rabbitmq_replicas=1, rabbitmq_cpu_millicores=500, rabbitmq_memory_gib=1),
    2: QueueSizing(enabled=False, brokers=3, broker_cpu_millicores=1000, broker_memory_gib=4, storage_gib=50,
                   partitions=12, replication_factor=3, min_insync_replicas=2, managed_kafka_vcpus=3,
                   managed_kafka_memory_gib=6, rabbitmq_replicas=3, rabbitmq_cpu_millicores=500, rabbitmq_memory_gib=2),
    3: QueueSizing(enabled=True, brokers=3, broker_cpu_millicores=2000, broker_memory_gib=8, storage_gib=200,
                   partitions=12, replication_factor=3, min_insync_replicas=2, managed_kafka_vcpus=3,
                   managed_kafka_memory_gib=12, rabbitmq_replicas=3, rabbitmq_cpu_millicores=1000, rabbitmq_memory_gib=4),
    4: QueueSizing(enabled=True, brokers=3, broker_cpu_millicores=4000, broker_memory_gib=16, storage_gib=400,
                   partitions=12, replication_factor=3, min_insync_replicas=2, msk_instance_type="kafka.m7g.xlarge",
                   managed_kafka_vcpus=6, managed_kafka_memory_gib=24, rabbitmq_replicas=3, rabbitmq_cpu_millicores=2000,
                   rabbitmq_memory_gib=8),
}
