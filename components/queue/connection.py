"""Pure: how a service or worker reaches one region's queue, as Secret keys, the env vars that read
them, and the KEDA trigger (with its TriggerAuthentication's references) that scales a worker on it.

Kafka, every engine: the Secret ``kafka-connection`` in the app namespace, written by
:class:`~components.queue.cluster.QueueCluster`, holds the bootstrap servers, the security protocol
(SASL_SSL), the SASL mechanism and the username; the password and CA come from where each engine keeps
them:

- strimzi: the password from the User Operator's Secret ``kafka-app`` (key ``password``; Strimzi
  "Configuring Kafka users": the Secret is named after the KafkaUser), the cluster CA from the Cluster
  Operator's ``kafka-cluster-ca-cert`` (key ``ca.crt``). SCRAM-SHA-512 on 9093.
- msk: the password of ``phasescale:kafkaPassword`` in ``kafka-connection``; MSK's brokers present
  certificates of Amazon's public CA (no CA key). SCRAM-SHA-512 on 9096.
- managedkafka: SASL/PLAIN with a Google service account: the username is its e-mail, the password its
  base64 key (Managed Service for Apache Kafka "Authentication": "SASL/PLAIN with a service account
  key"), Google's public CA. 9092.

RabbitMQ: the operator's ``rabbitmq-default-user`` Secret (``internal/resource/default_user_secret.go``
@ v2.22.3: username, password, host, port, connection_string).

KEDA 2.20.2 scalers (``pkg/scalers/*_scaler.go`` field tags @ v2.20.2): ``kafka`` reads
``bootstrapServers`` from metadata or the target's env (``bootstrapServersFromEnv``), ``username``,
``password`` and ``ca`` from auth params only; ``rabbitmq`` reads ``host`` from metadata, auth params or env
and ``username``/``password`` from auth params; ``redis`` / ``redis-cluster`` read ``host``, ``port`` and
``password`` from auth params.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.queue.plan import MANAGEMENT_PORT, Engine

SecretEnv = tuple[str, str, str]

KAFKA_SECRET = "kafka-connection"
BOOTSTRAP, PROTOCOL, MECHANISM, USERNAME, PASSWORD, CA = (
    "bootstrap.servers", "security.protocol", "sasl.mechanism", "username", "password", "ca.crt",
)
KAFKA_ENV = (
    ("KAFKA_BOOTSTRAP_SERVERS", BOOTSTRAP),
    ("KAFKA_SECURITY_PROTOCOL", PROTOCOL),
    ("KAFKA_SASL_MECHANISM", MECHANISM),
    ("KAFKA_USERNAME", USERNAME),
    ("KAFKA_PASSWORD", PASSWORD),
    ("KAFKA_CA_CERT", CA),
)
RABBITMQ_ENV = (
    ("RABBITMQ_HOST", "host"),
    ("RABBITMQ_PORT", "port"),
    ("RABBITMQ_USERNAME", "username"),
    ("RABBITMQ_PASSWORD", "password"),
    ("RABBITMQ_URL", "connection_string"),
)
MECHANISMS = {Engine.STRIMZI: "SCRAM-SHA-512", Engine.MSK: "SCRAM-SHA-512", Engine.MANAGEDKAFKA: "PLAIN"}
KEDA_SASL = {Engine.STRIMZI: "scram_sha512", Engine.MSK: "scram_sha512", Engine.MANAGEDKAFKA: "plaintext"}


def rabbitmq_secret(name: str = "rabbitmq") -> str:
    return f"{name}-default-user"


def strimzi_user_secret(cluster: str = "kafka") -> str:
    return f"{cluster}-app"


def strimzi_ca_secret(cluster: str = "kafka") -> str:
    return f"{cluster}-cluster-ca-cert"


def kafka_refs(engine: Engine) -> dict[str, tuple[str, str]]:
    """Connection key -> ``(Secret, key)`` for a Kafka engine."""
    refs = {k: (KAFKA_SECRET, k) for k in (BOOTSTRAP, PROTOCOL, MECHANISM, USERNAME, PASSWORD)}
    if engine is Engine.STRIMZI:
        refs[PASSWORD] = (strimzi_user_secret(), "password")
        refs[CA] = (strimzi_ca_secret(), "ca.crt")
    return refs


def kafka_connection_data(engine: Engine, bootstrap: Any, username: Any, password: Any | None) -> dict[str, Any]:
    """``kafka-connection``'s ``stringData`` (values may be outputs; the caller marks the password secret)."""
    data = {BOOTSTRAP: bootstrap, PROTOCOL: "SASL_SSL", MECHANISM: MECHANISMS[engine], USERNAME: username}
    if password is not None:
        data[PASSWORD] = password
    return data


def env(engine: Engine) -> tuple[SecretEnv, ...]:
    """The ``secretKeyRef`` env of a service or worker that uses the queue."""
    if engine is Engine.RABBITMQ:
        return tuple((var, rabbitmq_secret(), key) for var, key in RABBITMQ_ENV)
    refs = kafka_refs(engine)
    return tuple((var, *refs[key]) for var, key in KAFKA_ENV if key in refs)


@dataclass(frozen=True)
class Trigger:
    """One KEDA trigger of a worker: its type and metadata, and the TriggerAuthentication's
    ``secretTargetRef`` entries ``(parameter, Secret, key)``."""

    type: str
    metadata: tuple[tuple[str, str], ...]
    secret_refs: tuple[tuple[str, str, str], ...]


def kafka_trigger(engine: Engine, topic: str, group: str, lag_per_pod: int, activation: int) -> Trigger:
    """Consumer lag of ``group`` on ``topic``; the bootstrap servers from the worker's own env (an
    output on MSK and Managed Kafka, known only once the cluster exists)."""
    refs = kafka_refs(engine)
    auth = [("username", *refs[USERNAME]), ("password", *refs[PASSWORD])]
    if CA in refs:
        auth.append(("ca", *refs[CA]))
    return Trigger(
        type="kafka",
        metadata=(
            ("bootstrapServersFromEnv", "KAFKA_BOOTSTRAP_SERVERS"),
            ("consumerGroup", group),
            ("topic", topic),
            ("lagThreshold", str(lag_per_pod)),
            ("activationLagThreshold", str(activation)),
            ("offsetResetPolicy", "earliest"),
            ("sasl", KEDA_SASL[engine]),
            ("tls", "enable"),
        ),
        secret_refs=tuple(auth),
    )


def rabbitmq_trigger(namespace: str, queue: str, per_pod: int, activation: int, name: str = "rabbitmq") -> Trigger:
    """Queue length over the management API (``protocol: http``), which counts unacknowledged
    messages too (KEDA's RabbitMQ scaler docs: only the HTTP API does)."""
    secret = rabbitmq_secret(name)
    return Trigger(
        type="rabbitmq",
        metadata=(
            ("protocol", "http"),
            ("host", f"http://{name}.{namespace}.svc:{MANAGEMENT_PORT}/"),
            ("vhostName", "/"),
            ("mode", "QueueLength"),
            ("queueName", queue),
            ("value", str(per_pod)),
            ("activationValue", str(activation)),
        ),
        secret_refs=(("username", secret, "username"), ("password", secret, "password")),
    )


def redis_trigger(secret: str, cluster_mode: bool, tls: bool, list_name: str, per_pod: int, activation: int) -> Trigger:
    """List length; host, port and password from the Redis connection Secret (``redis-connection``).
    Cluster mode: ``redis-cluster`` with the one discovery address, from which the client finds the rest."""
    meta = [("listName", list_name), ("listLength", str(per_pod)), ("activationListLength", str(activation))]
    if tls:
        meta.append(("enableTLS", "true"))
    host, port = ("hosts", "ports") if cluster_mode else ("host", "port")
    return Trigger(
        type="redis-cluster" if cluster_mode else "redis",
        metadata=tuple(meta),
        secret_refs=((host, secret, "host"), (port, secret, "port"), ("password", secret, "password")),
    )
