"""Pure: the queue's alert rules (one PrometheusRule per region, beside the MonitoringStack's own).

Kafka (strimzi), from Strimzi's Kafka Exporter (``kafka_topic_partition_*``, ``kafka_consumergroup_lag``;
the release's packaging/examples/metrics/prometheus-install/prometheus-rules/
prometheus-kafka-exporter-topic-rules-group.yaml uses the same series):

- ``KafkaUnderReplicatedPartitions``: a partition with fewer in-sync replicas than replicas for 5 m;
- ``KafkaBelowMinInsyncReplicas`` (critical): a partition with fewer in-sync replicas than
  ``min.insync.replicas``: acks=all producers are refused;
- ``KafkaConsumerLagHigh``: a consumer group more than ``lag_limit`` messages behind on a topic for 10 m.

RabbitMQ, from rabbitmq_prometheus (``/metrics`` and ``/metrics/detailed?family=queue_coarse_metrics``;
the operator's observability/prometheus/rules/rabbitmq/cluster-alarms.yml reads the same alarm gauge):

- ``RabbitmqQueueDepthHigh``: a queue holds more than ``depth_limit`` ready messages for 10 m;
- ``RabbitmqMemoryAlarm`` (critical): a node's memory alarm is on: publishers are blocked.

chosen: 1000 messages for lag and depth (Strimzi's example rule's ``TooLargeConsumerGroupLag`` figure).
"""

from __future__ import annotations

from typing import Any

from components.queue.plan import Engine

LAG_LIMIT = 1000
DEPTH_LIMIT = 1000


def _alert(name: str, expr: str, for_: str, severity: str, summary: str) -> dict[str, Any]:
    return {"alert": name, "expr": expr, "for": for_, "labels": {"severity": severity},
            "annotations": {"summary": summary}}


def groups(engine: Engine, min_insync_replicas: int, lag_limit: int = LAG_LIMIT,
           depth_limit: int = DEPTH_LIMIT) -> list[dict[str, Any]]:
    """The rule groups of one region's queue; none for the managed engines (their metrics stay in
    CloudWatch / Cloud Monitoring, see README)."""
    if engine is Engine.STRIMZI:
        return [{"name": "phasescale-kafka", "rules": [
            _alert("KafkaUnderReplicatedPartitions",
                   "sum by (namespace, topic) (kafka_topic_partition_under_replicated_partition) > 0", "5m", "warning",
                   "Topic {{ $labels.topic }} has {{ $value }} under-replicated partitions"),
            _alert("KafkaBelowMinInsyncReplicas",
                   f"min by (namespace, topic, partition) (kafka_topic_partition_in_sync_replica) < {min_insync_replicas}",
                   "1m", "critical",
                   f"Partition {{{{ $labels.topic }}}}/{{{{ $labels.partition }}}} has fewer than "
                   f"{min_insync_replicas} in-sync replicas: acks=all writes are refused"),
            _alert("KafkaConsumerLagHigh",
                   f"sum by (namespace, consumergroup, topic) (kafka_consumergroup_lag) > {lag_limit}", "10m", "warning",
                   "Consumer group {{ $labels.consumergroup }} is {{ $value }} messages behind on {{ $labels.topic }}"),
        ]}]  # fmt: skip
    if engine is Engine.RABBITMQ:
        return [{"name": "phasescale-rabbitmq", "rules": [
            _alert("RabbitmqQueueDepthHigh",
                   f"sum by (namespace, vhost, queue) (rabbitmq_detailed_queue_messages_ready) > {depth_limit}", "10m",
                   "warning", "Queue {{ $labels.queue }} holds {{ $value }} ready messages"),
            _alert("RabbitmqMemoryAlarm", "max by (namespace, pod) (rabbitmq_alarms_memory_used_watermark) > 0", "1m",
                   "critical", "RabbitMQ node {{ $labels.pod }} hit its memory high watermark: publishers are blocked"),
        ]}]  # fmt: skip
    return []
