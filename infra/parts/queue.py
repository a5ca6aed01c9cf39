"""The queue part: Kafka (strimzi in the cluster, msk on eks, managedkafka on gke) or RabbitMQ, sized by
the catalog's ``queue`` row, at the phases whose row says ``enabled`` (seed 001: from phase 3).

strimzi installs the Strimzi operator chart (watching the app namespace only, pods under its
``restricted`` security provider so they pass the namespace's restricted Pod Security) and the
custom resources after it; rabbitmq applies the RabbitMQ Cluster Operator's release manifest. Both
run on the data pool. The managed engines sit in the cluster's network; their credentials reach the
pods through ``kafka-connection`` (components/queue/connection.py).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.helm import release
from components.problems import Problem
from components.queue import plan as qp
from components.queue.cluster import QueueCluster, QueueClusterArgs
from components.queue.managed import ManagedKafkaOptions, MskOptions
from components.scheduling import DATA_LABELS, PodGroup, pod_group
from components.versions import MANIFESTS
from infra.parts import MONITOR_LABELS, RegionContext
from infra.settings import Settings
from infra.targets import data_pool, zones_of

SIZES_PATH = "phasescale:overrides.queue"
ENGINE_PATH = "phasescale:queue.engine"
PASSWORD_KEY = "kafkaPassword"
STRIMZI_NAMESPACE = "strimzi"
RABBITMQ_OPERATOR_NAMESPACE = "rabbitmq-system"
"""The namespace the operator's release manifest creates and installs into."""
KAFKA_USERNAME = "app"
"""The SCRAM user of MSK (its secret's username)."""


def running(settings: Settings) -> bool:
    """The queue runs at this phase: the stack switched it on and the phase's row has it."""
    return settings.stack.parts.queue and settings.sizes.queue.enabled


def plan(settings: Settings, key: str | None = None) -> qp.QueuePlan:
    s, cfg = settings.sizes.queue, settings.stack
    region = cfg.regions[key or next(iter(cfg.regions))]
    zones = len(zones_of(region.location, region.zones, cfg.cluster.target)) or 3
    return qp.QueuePlan(
        engine=qp.Engine(cfg.queue.engine.value),
        namespace=cfg.namespace,
        topics=tuple(cfg.queue.topics),
        brokers=s.brokers,
        controllers=s.controllers,
        broker_cpu_m=s.broker_cpu_millicores,
        broker_memory_gib=s.broker_memory_gib,
        storage_gib=s.storage_gib,
        partitions=s.partitions,
        replication_factor=s.replication_factor,
        min_insync_replicas=s.min_insync_replicas,
        retention_hours=s.retention_hours,
        msk_instance_type=s.msk_instance_type,
        managed_kafka_vcpus=s.managed_kafka_vcpus,
        managed_kafka_memory_gib=s.managed_kafka_memory_gib,
        rabbitmq_replicas=s.rabbitmq_replicas,
        rabbitmq_cpu_m=s.rabbitmq_cpu_millicores,
        rabbitmq_memory_gib=s.rabbitmq_memory_gib,
        storage_class=cfg.queue.storage_class,
        data_pool=data_pool(settings) is not None,
        zones=zones,
        monitoring=cfg.parts.monitoring,
    )


def validate(settings: Settings) -> list[Problem]:
    """Checked at every phase the part is on (an override that enables it later is checked too)."""
    problems = []
    for key in settings.active_regions:
        for p in qp.validate(plan(settings, key), settings.stack.cluster.target.value, SIZES_PATH, ENGINE_PATH,
                             bool(settings.secrets.get(PASSWORD_KEY))):
            if p not in problems:
                problems.append(p)
    if settings.stack.namespace in (STRIMZI_NAMESPACE, RABBITMQ_OPERATOR_NAMESPACE):
        problems.append(Problem("phasescale:namespace", settings.stack.namespace,
                                "not the queue operator's own namespace (strimzi, rabbitmq-system)"))
    return problems


def pods(settings: Settings) -> list[PodGroup]:
    """The pods the operators make: brokers and controllers (and the Kafka Exporter, entity operator),
    or the RabbitMQ nodes; none for the managed engines."""
    if not running(settings):
        return []
    p = plan(settings)
    where: dict[str, Any] = {"nodeSelector": dict(DATA_LABELS), "tolerations": [
        {"key": k, "operator": "Equal", "value": v, "effect": "NoSchedule"} for k, v in DATA_LABELS.items()
    ]} if p.data_pool else {}
    base = f"{p.namespace}/{'RabbitmqCluster' if p.engine is qp.Engine.RABBITMQ else 'Kafka'}/{p.name}"
    if p.engine is qp.Engine.RABBITMQ:
        spec = qp.rabbitmq_spec(p)
        n = spec["replicas"]
        return [pod_group(base, {"containers": [{"resources": spec["resources"]}], **where}, n, n, SIZES_PATH)]
    if p.engine is not qp.Engine.STRIMZI:
        return []
    out = []
    for role in ("controller", "broker"):
        spec = qp.node_pool_spec(p, role)
        n = spec["replicas"]
        out.append(pod_group(f"{base}/{role}", {"containers": [{"resources": spec["resources"]}], **where}, n, n, SIZES_PATH))
    kafka = qp.kafka_spec(p)
    entity = kafka["entityOperator"]
    small = {"containers": [{"resources": entity["topicOperator"]["resources"]},
                            {"resources": entity["userOperator"]["resources"]}]}
    out.append(pod_group(f"{base}/entity-operator", small, 1, 1, SIZES_PATH))
    out.append(pod_group(f"{base}/kafka-exporter", {"containers": [{"resources": kafka["kafkaExporter"]["resources"]}]},
                         1, 1, SIZES_PATH))
    return out


def _operator(ctx: RegionContext, p: qp.QueuePlan) -> pulumi.Resource:
    if p.engine is qp.Engine.STRIMZI:
        values = {
            "watchNamespaces": [p.namespace],
            # Strimzi "Applying security context to Strimzi pods": the restricted provider sets what the
            # restricted Pod Security Standard asks of every container it makes.
            "extraEnvs": [{"name": "STRIMZI_POD_SECURITY_PROVIDER_CLASS", "value": "restricted"}],
            "resources": {"requests": {"cpu": "200m", "memory": "384Mi"}, "limits": {"cpu": "1", "memory": "384Mi"}},
        }
        return release(f"{ctx.key}-strimzi", "strimzi-kafka-operator", STRIMZI_NAMESPACE, values, ctx.k8s_opts())
    manifest = MANIFESTS["rabbitmq-cluster-operator"]
    return k8s.yaml.v2.ConfigFile(f"{ctx.key}-rabbitmq-operator", file=manifest.url, opts=ctx.k8s_opts())


def build(ctx: RegionContext) -> dict[str, Any]:
    settings = ctx.settings
    if not running(settings):
        return {"engine": settings.stack.queue.engine.value, "phase": "off at this phase (catalog queue.enabled)"}
    p = plan(settings, ctx.key)
    name = f"{ctx.key}-queue"
    monitor = MONITOR_LABELS if settings.stack.parts.monitoring else None
    args = QueueClusterArgs(plan=p, protect=ctx.protect, monitor_labels=monitor)
    if p.engine in (qp.Engine.STRIMZI, qp.Engine.RABBITMQ):
        operator = _operator(ctx, p)
        ctx.built["queue"] = QueueCluster(name, args, opts=ctx.k8s_opts(operator))
    elif p.engine is qp.Engine.MSK:
        eks = ctx.cluster.eks
        assert eks is not None and ctx.cluster.aws_provider is not None  # validate: msk needs target eks
        password = settings.secrets.get(PASSWORD_KEY, "")
        args = QueueClusterArgs(plan=p, protect=ctx.protect, monitor_labels=None, msk=MskOptions(
            cloud_name=f"{ctx.cluster.cluster_name}-kafka"[:64],
            vpc_id=eks.vpc.id,
            subnet_ids=list(eks.private_subnet_ids),
            node_security_group_id=eks.cluster.vpc_config.cluster_security_group_id,
            username=KAFKA_USERNAME,
            password=pulumi.Output.secret(password),
        ))
        ctx.built["queue"] = QueueCluster(name, args, opts=pulumi.ResourceOptions(
            providers=[ctx.cluster.provider, ctx.cluster.aws_provider], depends_on=[ctx.namespace]))
    else:
        gke, project = ctx.cluster.gke, settings.stack.cluster.gcp_project
        assert gke is not None and project is not None  # validate: managedkafka needs target gke
        args = QueueClusterArgs(plan=p, protect=ctx.protect, monitor_labels=None, managed_kafka=ManagedKafkaOptions(
            cloud_name=f"{ctx.cluster.cluster_name}-kafka"[:63], project=project, region=ctx.cluster.location,
            subnet=gke.subnet.id,
        ))
        ctx.built["queue"] = QueueCluster(
            name, args, opts=pulumi.ResourceOptions(provider=ctx.cluster.provider, depends_on=[ctx.namespace]))
    return {
        "engine": p.engine.value,
        "brokers": p.rabbitmq_replicas if p.engine is qp.Engine.RABBITMQ else (
            f"{p.managed_kafka_vcpus} vCPU" if p.engine is qp.Engine.MANAGEDKAFKA else p.brokers),
        "topics": list(p.topics) if p.engine.kafka else [],
    }
