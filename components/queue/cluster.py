"""QueueCluster: one region's queue or event stream and the connection Secret its clients read.

- strimzi: ``Kafka`` + ``KafkaNodePool`` ``controller`` and ``broker`` (KRaft), a ``KafkaTopic`` per
  topic, the ``KafkaUser`` ``kafka-app`` (SCRAM-SHA-512), ``kafka-connection``; with monitoring a
  PodMonitor on the Kafka Exporter and the PrometheusRule of ``components/queue/rules.py``.
- rabbitmq: one ``RabbitmqCluster``; with monitoring a ServiceMonitor on rabbitmq_prometheus (the
  aggregated ``/metrics`` and the per-queue ``/metrics/detailed?family=queue_coarse_metrics``) and
  the rules.
- msk / managedkafka: the managed cluster (``components/queue/managed.py``) and ``kafka-connection``.

The Kafka CRs, node pools, topics and the RabbitmqCluster hold data: registered with ``protect`` in
production (``components/stateful.py``), like the managed clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.queue import connection as qc
from components.queue import plan as qp
from components.queue import rules
from components.queue.managed import ManagedKafkaOptions, MskOptions, managed_kafka, msk

TYPE = "phasescale:components:QueueCluster"


@dataclass(frozen=True)
class QueueClusterArgs:
    plan: qp.QueuePlan
    protect: bool = False
    monitor_labels: dict[str, str] | None = None
    """Labels the Prometheus selects monitors and rules by; None: no monitor, no rules."""
    msk: MskOptions | None = None
    managed_kafka: ManagedKafkaOptions | None = None


class QueueCluster(pulumi.ComponentResource):
    def __init__(self, name: str, args: QueueClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        p = args.plan
        self._p, self._name = p, name
        self._child = pulumi.ResourceOptions(parent=self)
        self._stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        if p.engine is qp.Engine.STRIMZI:
            self._strimzi()
            self._secret(f"{p.name}-kafka-bootstrap.{p.namespace}.svc:{qp.SCRAM_PORT}", p.user, None)
        elif p.engine is qp.Engine.RABBITMQ:
            self._rabbitmq()
        elif p.engine is qp.Engine.MSK:
            assert args.msk is not None
            bootstrap = msk(name, p, args.msk, args.protect, self)
            self._secret(bootstrap, args.msk.username, args.msk.password)
        else:
            assert args.managed_kafka is not None
            bootstrap, user, password = managed_kafka(name, p, args.managed_kafka, p.namespace, args.protect, self)
            self._secret(bootstrap, user, password)
        if args.monitor_labels is not None:
            self._monitoring(args.monitor_labels)
        self.register_outputs({"engine": p.engine.value})

    def _meta(self, name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"name": name, "namespace": self._p.namespace,
                "labels": {**kube.labels(self._p.name, "queue"), **(labels or {})}}

    def _cr(self, suffix: str, api: str, kind: str, name: str, spec: dict[str, Any], stateful: bool,
            labels: dict[str, str] | None = None) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            f"{self._name}-{suffix}", api_version=api, kind=kind, metadata=self._meta(name, labels), spec=spec,
            opts=self._stateful if stateful else self._child,
        )

    def _strimzi(self) -> None:
        p = self._p
        cluster = {"strimzi.io/cluster": p.name}
        for role in ("controller", "broker"):
            self._cr(role, qp.STRIMZI_API, "KafkaNodePool", role, qp.node_pool_spec(p, role), True, cluster)
        self._cr("kafka", qp.STRIMZI_API, "Kafka", p.name, qp.kafka_spec(p), True)
        for topic in p.topics:
            self._cr(f"topic-{topic}", qp.STRIMZI_API, "KafkaTopic", topic, qp.topic_spec(p), True, cluster)
        self._cr("user", qp.STRIMZI_API, "KafkaUser", p.user, qp.user_spec(p), False, cluster)

    def _rabbitmq(self) -> None:
        p = self._p
        self._cr("rabbitmq", qp.RABBITMQ_API, "RabbitmqCluster", p.name, qp.rabbitmq_spec(p), True)

    def _secret(self, bootstrap: pulumi.Input[str], username: pulumi.Input[str], password: pulumi.Input[str] | None) -> None:
        p = self._p
        k8s.core.v1.Secret(
            f"{self._name}-connection",
            metadata=self._meta(qc.KAFKA_SECRET),
            type="Opaque",
            string_data=qc.kafka_connection_data(p.engine, bootstrap, username, password),
            opts=self._child,
        )

    def _monitoring(self, labels: dict[str, str]) -> None:
        p = self._p
        groups = rules.groups(p.engine, p.min_insync_replicas)
        if not groups:
            return
        meta = {"namespace": p.namespace, "labels": {**kube.labels(p.name, "queue"), **labels}}
        if p.engine is qp.Engine.STRIMZI:
            k8s.apiextensions.CustomResource(
                f"{self._name}-exporter-monitor", api_version="monitoring.coreos.com/v1", kind="PodMonitor",
                metadata={**meta, "name": f"{p.name}-exporter"},
                spec={"selector": {"matchLabels": {"strimzi.io/kind": "Kafka",
                                                   "strimzi.io/name": f"{p.name}-kafka-exporter"}},
                      "podMetricsEndpoints": [{"port": qp.KAFKA_EXPORTER_PORT_NAME, "path": "/metrics",
                                               "interval": "30s"}]},
                opts=self._child,
            )
        else:
            endpoint = {"port": "prometheus", "scheme": "http", "interval": "15s", "scrapeTimeout": "14s"}
            k8s.apiextensions.CustomResource(
                f"{self._name}-monitor", api_version="monitoring.coreos.com/v1", kind="ServiceMonitor",
                metadata={**meta, "name": p.name},
                spec={"selector": {"matchLabels": {"app.kubernetes.io/name": p.name,
                                                   "app.kubernetes.io/component": "rabbitmq"}},
                      "endpoints": [endpoint, {**endpoint, "path": "/metrics/detailed",
                                               "params": {"family": ["queue_coarse_metrics"]}}]},
                opts=self._child,
            )
        k8s.apiextensions.CustomResource(
            f"{self._name}-rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
            metadata={**meta, "name": f"{p.name}-alerts"}, spec={"groups": groups}, opts=self._child,
        )
