"""Typed stack configuration of the queue part and the workers (``phasescale:queue``,
``phasescale:workers``, ``phasescale:services.<name>.queue``); read at the end of ``infra/config.py``,
whose base model and shared types they use."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from infra import rules
from infra.config import Cidr, DatabaseUse, DnsName, Model, Name, Replicas, Resources, StackConfig


class QueueEngine(StrEnum):
    STRIMZI = "strimzi"
    MSK = "msk"
    MANAGEDKAFKA = "managedkafka"
    RABBITMQ = "rabbitmq"


class QueueConfig(Model):
    """The stack's queue or event stream (sizes come from the catalog's ``queue`` row)."""

    engine: QueueEngine = Field(
        default=QueueEngine.STRIMZI,
        description="strimzi (Kafka in the cluster, KRaft, every target), msk (Amazon MSK, eks), managedkafka "
        "(Google Managed Service for Apache Kafka, gke), rabbitmq (RabbitMQ Cluster Operator, every target).",
    )
    topics: list[Name] = Field(
        default_factory=lambda: ["events"],
        description="Kafka topics, with the catalog's partitions and replication (KafkaTopic on strimzi, the MSK and "
        "Managed Kafka topic APIs); clients cannot create others. Ignored by rabbitmq (clients declare queues).",
    )
    storage_class: DnsName | None = Field(default=None, description="strimzi, rabbitmq: the volumes' class; default: the cluster's.")
    clients: list[Name] = Field(
        default_factory=list,
        description="Services that use the queue: KAFKA_* or RABBITMQ_* env from its connection Secrets (README, Queues "
        "and workers). Workers on it get them anyway.",
    )


class BrokerKind(StrEnum):
    KAFKA = "kafka"
    RABBITMQ = "rabbitmq"
    REDIS = "redis"


class WorkerQueue(Model):
    """What a worker consumes and how KEDA scales it: the broker's own scaler, not a Prometheus query."""

    broker: BrokerKind = Field(description="kafka (the stack's strimzi, msk or managedkafka), rabbitmq, or redis (a list in the stack's Redis).")
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9._:]{0,199}$")] = Field(
        description="Kafka topic, RabbitMQ queue or Redis list key.",
    )
    consumer_group: Name | None = Field(default=None, description="kafka: the consumer group; default the worker's name.")
    target_per_pod: int = Field(
        default=20, ge=1, le=1_000_000,
        description="Messages waiting per pod: RabbitMQ queue length, Kafka consumer lag (KEDA divides the total lag), "
        "Redis list length.",
    )
    activation: int = Field(default=0, ge=0, le=1_000_000, description="Waiting messages above which KEDA wakes the worker from zero.")


class Worker(Model):
    """A queue consumer: a Deployment without Service, Ingress or HTTP probes, scaled by KEDA on its queue."""

    image: Annotated[str, AfterValidator(rules.image)]
    queue: WorkerQueue
    replicas: Replicas | None = Field(
        default=None, description="Replica bounds for every phase (min 0: KEDA scales to zero); default: the catalog's services bounds.",
    )
    phase_replicas: dict[Annotated[int, Field(ge=1, le=4)], Replicas] = Field(
        default_factory=dict, description="Replica bounds for given phases (wins over replicas).",
    )
    resources: Resources = Field(default_factory=Resources)
    command: list[str] = Field(default_factory=list, description="Container command (e.g. celery -A app worker); default: the image's.")
    liveness_command: list[str] = Field(
        default_factory=list,
        description="An exec liveness probe (e.g. celery inspect ping); empty: none (the process exiting restarts it).",
    )
    termination_grace_s: int = Field(default=60, ge=1, le=3600, description="Time to finish in-flight messages on SIGTERM.")
    database: DatabaseUse | None = None
    cache: bool = Field(default=False, description="REDIS_* env from redis-connection.")
    env: Annotated[dict[str, str], AfterValidator(rules.env_keys)] = Field(default_factory=dict)
    egress_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="Destinations beyond the cluster's private networks the worker may reach (its NetworkPolicy allows "
        "DNS, its namespace and the private ranges only).",
    )


# infra/config.py reads this module last, after its StackConfig, whose queue and workers fields name the
# models above: resolve them now (the config reference reads the resolved field types).
StackConfig.model_rebuild(_types_namespace={"QueueConfig": QueueConfig, "Worker": Worker, "Name": Name})
