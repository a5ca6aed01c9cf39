"""Pure planning of the queue part: Kafka through Strimzi (KRaft), Amazon MSK, Google Managed
Service for Apache Kafka, or RabbitMQ through the RabbitMQ Cluster Operator. No Pulumi calls.

Strimzi 1.2.0 (the pinned operator, ``components/versions.py``): a ``Kafka`` CR plus two
``KafkaNodePool`` CRs, ``controller`` and ``broker`` (KRaft only; the shape of the release's
``packaging/examples/kafka/kafka-persistent.yaml``); one internal listener on 9093 with TLS and
SCRAM-SHA-512, simple authorization, a ``KafkaTopic`` per configured topic and one ``KafkaUser``
(SCRAM-SHA-512) whose password the User Operator writes into the Secret named after the user.
The RabbitMQ Cluster Operator 2.22.3 makes a StatefulSet from one ``RabbitmqCluster`` and writes
``<name>-default-user`` (username, password, host, port, connection_string).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from components import kube
from components.problems import Problem
from components.scheduling import DATA_LABELS, data_placement

STRIMZI_API = "kafka.strimzi.io/v1"
RABBITMQ_API = "rabbitmq.com/v1beta1"
KAFKA_VERSION = "4.3.1"
"""Strimzi 1.2.0 kafka-versions.yaml: 4.2.0, 4.2.1, 4.3.0 and 4.3.1 are ``supported: true``; 4.3.1 is
the default (metadata 4.3-IV0)."""
KAFKA_METADATA_VERSION = "4.3-IV0"
SCRAM_PORT = 9093
MSK_SCRAM_PORT = 9096
"""MSK's SASL/SCRAM listener (TLS): "Port information" in the MSK developer guide."""
MANAGED_KAFKA_PORT = 9092
"""Managed Service for Apache Kafka: bootstrap on 9092, SASL_SSL (its "Authentication" page)."""
AMQP_PORT = 5672
MANAGEMENT_PORT = 15672
PROMETHEUS_PORT = 15692
"""rabbitmq_prometheus (on by default in the operator's clusters): the ``prometheus`` Service port."""
CONTROLLER_STORAGE_GIB = 20
"""chosen: the KRaft metadata log of a controller is small (megabytes); 20 GiB leaves snapshots room."""
KAFKA_EXPORTER_PORT_NAME = "tcp-prometheus"
"""Strimzi's Kafka Exporter metrics port (packaging/examples/metrics/prometheus-install/pod-monitors)."""


class Engine(StrEnum):
    STRIMZI = "strimzi"
    MSK = "msk"
    MANAGEDKAFKA = "managedkafka"
    RABBITMQ = "rabbitmq"

    @property
    def kafka(self) -> bool:
        return self is not Engine.RABBITMQ


@dataclass(frozen=True)
class QueuePlan:
    """Everything that decides one region's queue."""

    engine: Engine
    namespace: str
    topics: tuple[str, ...]
    brokers: int
    controllers: int
    broker_cpu_m: int
    broker_memory_gib: int
    storage_gib: int
    partitions: int
    replication_factor: int
    min_insync_replicas: int
    retention_hours: int
    msk_instance_type: str
    managed_kafka_vcpus: int
    managed_kafka_memory_gib: int
    rabbitmq_replicas: int
    rabbitmq_cpu_m: int
    rabbitmq_memory_gib: int
    storage_class: str | None = None
    data_pool: bool = False
    zones: int = 3
    monitoring: bool = False

    @property
    def name(self) -> str:
        """The Kafka CR / RabbitmqCluster in the app namespace (the same in every region's cluster)."""
        return "rabbitmq" if self.engine is Engine.RABBITMQ else "kafka"

    @property
    def user(self) -> str:
        """The KafkaUser (and its Secret) the services and workers authenticate as."""
        return f"{self.name}-app"


def kafka_config(p: QueuePlan) -> dict[str, Any]:
    """Broker defaults: every topic (the internal ones too) replicated as the catalog says; no topic is
    created by a client by accident."""
    return {
        "default.replication.factor": p.replication_factor,
        "min.insync.replicas": p.min_insync_replicas,
        "offsets.topic.replication.factor": p.replication_factor,
        "transaction.state.log.replication.factor": p.replication_factor,
        "transaction.state.log.min.isr": p.min_insync_replicas,
        "num.partitions": p.partitions,
        "log.retention.hours": p.retention_hours,
        "auto.create.topics.enable": False,
    }


def _placement(p: QueuePlan, pool: str) -> dict[str, Any]:
    """Strimzi's pod template: on the data pool (required node affinity + toleration), spread over zones.
    Strimzi labels a node pool's pods ``strimzi.io/cluster: <kafka>`` and ``strimzi.io/pool-name: <pool>``
    (its ``strimzi.io/name`` is ``<kafka>-kafka`` for every pool), so those two select one pool's pods."""
    out: dict[str, Any] = {
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway",
             "labelSelector": {"matchLabels": {"strimzi.io/cluster": p.name, "strimzi.io/pool-name": pool}}},
        ],
    }
    if p.data_pool:
        out["affinity"] = _data_affinity()
        out["tolerations"] = data_placement()["tolerations"]
    return out


def _data_affinity() -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in DATA_LABELS.items()]},
    ]}}}  # fmt: skip


def _storage(p: QueuePlan, size_gib: int) -> dict[str, Any]:
    """One persistent volume per node, kept when the node pool is deleted (``deleteClaim: false``); in
    KRaft it holds the metadata log beside the data. Strimzi grows a claim in place and refuses to
    shrink one (``infra diff`` names a shrink: the size is a map key it reads, not a JBOD list item)."""
    out: dict[str, Any] = {"type": "persistent-claim", "size": f"{size_gib}Gi", "deleteClaim": False}
    if p.storage_class:
        out["class"] = p.storage_class
    return out


def heap_mib(memory_gib: int) -> int:
    """Half the container for the JVM heap, half for the page cache Kafka leans on."""
    return memory_gib * 1024 // 2


def node_pool_spec(p: QueuePlan, role: str) -> dict[str, Any]:
    """``broker``: the catalog's brokers; ``controller``: the KRaft quorum (small, same volume shape)."""
    broker = role == "broker"
    cpu, mem = (p.broker_cpu_m, p.broker_memory_gib) if broker else (500, 2)
    heap = heap_mib(mem)
    return {
        "replicas": p.brokers if broker else p.controllers,
        "roles": [role],
        "storage": _storage(p, p.storage_gib if broker else CONTROLLER_STORAGE_GIB),
        "resources": kube.resources(cpu, mem * 1024, cpu * 2, mem * 1024),
        "jvmOptions": {"-Xms": f"{heap}m", "-Xmx": f"{heap}m"},
        "template": {"pod": _placement(p, role)},
    }


def kafka_spec(p: QueuePlan) -> dict[str, Any]:
    exporter: dict[str, Any] = {
        "topicRegex": ".*",
        "groupRegex": ".*",
        "resources": kube.resources(100, 256),
    }
    return {
        "kafka": {
            "version": KAFKA_VERSION,
            "metadataVersion": KAFKA_METADATA_VERSION,
            "listeners": [
                {"name": "scram", "port": SCRAM_PORT, "type": "internal", "tls": True,
                 "authentication": {"type": "scram-sha-512"}},
            ],
            "authorization": {"type": "simple"},
            "rack": {"topologyKey": "topology.kubernetes.io/zone"},
            "config": kafka_config(p),
        },
        "entityOperator": {
            "topicOperator": {"resources": kube.resources(100, 512)},
            "userOperator": {"resources": kube.resources(100, 512)},
        },
        "kafkaExporter": exporter,
    }


def topic_spec(p: QueuePlan) -> dict[str, Any]:
    return {
        "partitions": p.partitions,
        "replicas": p.replication_factor,
        "config": {"min.insync.replicas": p.min_insync_replicas, "retention.ms": p.retention_hours * 3_600_000},
    }


def user_spec(p: QueuePlan) -> dict[str, Any]:
    """SCRAM-SHA-512; read and write on the stack's topics, read on every consumer group (each worker
    names its own)."""
    acls: list[dict[str, Any]] = [
        {"resource": {"type": "topic", "name": t, "patternType": "literal"},
         "operations": ["Read", "Write", "Describe", "DescribeConfigs"]}
        for t in p.topics
    ]
    acls.append({"resource": {"type": "group", "name": "*", "patternType": "literal"}, "operations": ["Read", "Describe"]})
    return {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": acls}}


# The operator's StatefulSet sets only runAsUser 999 / fsGroup 0, which the app namespace's
# `restricted` Pod Security refuses (rabbitmq/cluster-operator issue #1910): the override makes the pod
# and both containers (rabbitmq, setup-container) restricted (non-root 999, seccomp RuntimeDefault, no
# privilege escalation, every capability dropped); the image runs as rabbitmq 999:999.
_RESTRICTED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
RABBITMQ_OVERRIDE = {"statefulSet": {"spec": {"template": {"spec": {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                        "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{"name": "rabbitmq", "securityContext": _RESTRICTED}],
    "initContainers": [{"name": "setup-container", "securityContext": _RESTRICTED}],
}}}}}  # fmt: skip


def rabbitmq_spec(p: QueuePlan) -> dict[str, Any]:
    """Quorum queues by default for new queues (``default_queue_type``), pause_minority on a partition,
    the memory alarm at 60% of the container (RabbitMQ "Memory threshold" docs). A quorum queue
    declared on one node keeps one member when the cluster grows (1 -> 3 at phase 2): continuous
    membership reconciliation adds the new nodes (RabbitMQ "Quorum Queues", Continuous Membership
    Reconciliation, 3.13+)."""
    mem = p.rabbitmq_memory_gib * 1024
    persistence: dict[str, Any] = {"storage": f"{p.storage_gib}Gi"}
    if p.storage_class:
        persistence["storageClassName"] = p.storage_class
    spec: dict[str, Any] = {
        "replicas": p.rabbitmq_replicas,
        "resources": kube.resources(p.rabbitmq_cpu_m, mem, p.rabbitmq_cpu_m * 2, mem),
        "persistence": persistence,
        "rabbitmq": {
            "additionalConfig": "\n".join([
                "cluster_partition_handling = pause_minority",
                "vm_memory_high_watermark.relative = 0.6",
                "default_queue_type = quorum",
                "quorum_queue.continuous_membership_reconciliation.enabled = true",
            ]),
        },
        "override": RABBITMQ_OVERRIDE,
    }
    if p.data_pool:
        spec["affinity"] = _data_affinity()
        spec["tolerations"] = data_placement()["tolerations"]
    return spec


def validate(p: QueuePlan, target: str, path: str, engine_path: str, has_password: bool) -> list[Problem]:
    """The queue's sizes and engine against its target, before anything is registered."""
    problems = []
    if p.engine.kafka and not p.topics:
        problems.append(Problem("phasescale:queue.topics", [], "at least one topic for a Kafka engine"))
    allowed = {Engine.MSK: "eks", Engine.MANAGEDKAFKA: "gke"}
    if p.engine in allowed and target != allowed[p.engine]:
        problems.append(Problem(engine_path, p.engine.value,
                                f"{p.engine.value} needs cluster.target {allowed[p.engine]}; strimzi and rabbitmq run on every target"))
    if p.engine.kafka and p.engine is not Engine.MANAGEDKAFKA and p.replication_factor > p.brokers:
        problems.append(Problem(f"{path}.replicationFactor", p.replication_factor,
                                f"at most brokers ({p.brokers}): each replica of a partition sits on its own broker"))
    if p.engine.kafka and p.min_insync_replicas > p.replication_factor:
        problems.append(Problem(f"{path}.minInsyncReplicas", p.min_insync_replicas,
                                f"at most replicationFactor ({p.replication_factor}), or no acks=all write ever succeeds"))
    if p.engine is Engine.STRIMZI and p.controllers % 2 == 0:
        problems.append(Problem(f"{path}.controllers", p.controllers, "an odd number: the KRaft quorum needs a majority"))
    if p.engine is Engine.MSK:
        if p.brokers % p.zones:
            problems.append(Problem(f"{path}.brokers", p.brokers,
                                    f"a multiple of the region's zones ({p.zones}): MSK puts the same number of brokers "
                                    "in each client subnet"))
        if not has_password:
            problems.append(Problem("phasescale:kafkaPassword", None,
                                    "required for msk (SASL/SCRAM): pulumi config set --secret phasescale:kafkaPassword"))
    if p.engine is Engine.MANAGEDKAFKA:
        per_vcpu = p.managed_kafka_memory_gib / p.managed_kafka_vcpus
        if not 1 <= per_vcpu <= 8:
            problems.append(Problem(f"{path}.managedKafkaMemoryGib", p.managed_kafka_memory_gib,
                                    f"1-8 GiB per vCPU ({p.managed_kafka_vcpus} vCPUs: "
                                    f"{p.managed_kafka_vcpus}-{8 * p.managed_kafka_vcpus} GiB)"))
    if p.engine is Engine.RABBITMQ and p.rabbitmq_replicas % 2 == 0:
        problems.append(Problem(f"{path}.rabbitmqReplicas", p.rabbitmq_replicas,
                                "an odd number: quorum queues stay available while a majority of nodes is up"))
    return problems
