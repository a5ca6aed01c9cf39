"""The queue part and the workers: pure specs and checks, every breaking config, and the plans of the
queue test stacks (tests/queue/stacks, one per engine, each planned once per run)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring.metrics import Producer, unproduced
from components.postgres.plan import ServiceDbUse
from components.problems import ConfigError
from components.queue import connection as qc
from components.queue import plan as qp
from components.queue import rules
from components.service import worker_plan as wp
from infra import plan as planner
from infra import recording, workers
from infra.deployability import metric_reads
from infra.diff import PlanDiff, volume_shrinks
from infra.load import load
from infra.parts import queue as queue_part
from infra.parts import redis as redis_part
from infra.parts.postgres import db_services
from infra.scheduling import region_pods
from infra.secret_check import plan_problems
from infra.targets import in_cluster_queue
from tests.planning import plan_of

STACKS = Path(__file__).parent / "stacks"


def queue_plan(**over: Any) -> qp.QueuePlan:
    base: dict[str, Any] = dict(
        engine=qp.Engine.STRIMZI, namespace="app", topics=("events",), brokers=3, controllers=3, broker_cpu_m=2000,
        broker_memory_gib=8, storage_gib=200, partitions=12, replication_factor=3, min_insync_replicas=2,
        retention_hours=168, msk_instance_type="kafka.m7g.large", managed_kafka_vcpus=3, managed_kafka_memory_gib=12,
        rabbitmq_replicas=3, rabbitmq_cpu_m=1000, rabbitmq_memory_gib=4, data_pool=True,
    )
    return qp.QueuePlan(**{**base, **over})


def test_strimzi_is_kraft_node_pools_with_scram_tls_and_replication_from_the_catalog() -> None:
    p = queue_plan()
    kafka = qp.kafka_spec(p)["kafka"]
    assert kafka["version"] == "4.3.1" and kafka["metadataVersion"] == "4.3-IV0"
    assert kafka["listeners"] == [{"name": "scram", "port": 9093, "type": "internal", "tls": True,
                                   "authentication": {"type": "scram-sha-512"}}]
    assert kafka["config"]["min.insync.replicas"] == 2 and kafka["config"]["default.replication.factor"] == 3
    assert kafka["config"]["auto.create.topics.enable"] is False
    broker, controller = qp.node_pool_spec(p, "broker"), qp.node_pool_spec(p, "controller")
    assert (broker["roles"], broker["replicas"], controller["roles"], controller["replicas"]) == (
        ["broker"], 3, ["controller"], 3)
    assert broker["storage"] == {"type": "persistent-claim", "size": "200Gi", "deleteClaim": False}
    assert controller["storage"]["size"] == "20Gi"
    assert broker["jvmOptions"] == {"-Xms": "4096m", "-Xmx": "4096m"}
    pod = broker["template"]["pod"]
    assert pod["tolerations"] == [{"key": "phasescale/pool", "operator": "Equal", "value": "data", "effect": "NoSchedule"}]
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [{"key": "phasescale/pool", "operator": "In", "values": ["data"]}]}]
    acls = qp.user_spec(p)["authorization"]["acls"]
    assert [a["resource"] for a in acls] == [{"type": "topic", "name": "events", "patternType": "literal"},
                                             {"type": "group", "name": "*", "patternType": "literal"}]


@pytest.mark.parametrize(("over", "path"), [
    ({"replication_factor": 4, "min_insync_replicas": 2}, "q.replicationFactor"),
    ({"min_insync_replicas": 4, "replication_factor": 3}, "q.minInsyncReplicas"),
    ({"controllers": 4}, "q.controllers"),
    ({"engine": qp.Engine.MSK, "brokers": 4}, "q.brokers"),
    ({"engine": qp.Engine.MANAGEDKAFKA, "managed_kafka_memory_gib": 25}, "q.managedKafkaMemoryGib"),
    ({"engine": qp.Engine.RABBITMQ, "rabbitmq_replicas": 2}, "q.rabbitmqReplicas"),
    ({"topics": ()}, "phasescale:queue.topics"),
])  # fmt: skip
def test_each_sizing_rule_breaks_on_its_own(over: dict[str, Any], path: str) -> None:
    target = {qp.Engine.MSK: "eks", qp.Engine.MANAGEDKAFKA: "gke"}.get(over.get("engine", qp.Engine.STRIMZI), "gke")
    found = qp.validate(queue_plan(**over), target, "q", "e", has_password=True)
    assert [p.path for p in found] == [path]
    assert qp.validate(queue_plan(), "gke", "q", "e", has_password=True) == []


def _base(target: str, engine: str, **extra: Any) -> dict[str, str]:
    cluster: dict[str, Any] = {"target": target}
    region: dict[str, Any] = {"location": {"gke": "asia-northeast3", "eks": "ap-northeast-2"}.get(target, "local")}
    if target == "gke":
        cluster["gcpProject"] = "proj"
    if target == "existing":
        region["kubeContext"] = "kind"
    config: dict[str, Any] = {"phase": 3, "cluster": cluster, "regions": {"seoul": region},
                              "parts": {"queue": True, "cdn": False}, "queue": {"engine": engine}, **extra}
    return {f"phasescale:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


WORKER = {"image": "w:1", "queue": {"broker": "kafka", "name": "events"}}


@pytest.mark.parametrize(("target", "engine", "extra", "path", "expected"), [
    ("eks", "msk", {}, "phasescale:kafkaPassword", "required for msk"),
    ("gke", "msk", {}, "phasescale:queue.engine", "needs cluster.target eks"),
    ("eks", "msk", {"overrides": {"queue": {"brokers": 4}}}, "phasescale:overrides.queue.brokers",
     "a multiple of the region's zones (3)"),
    ("existing", "strimzi", {"overrides": {"queue": {"minInsyncReplicas": 3, "replicationFactor": 2}}},
     "phasescale:overrides.queue", "minInsyncReplicas (3) must not be above replicationFactor (2)"),
    ("existing", "rabbitmq", {"workers": {"w": WORKER}}, "phasescale:workers.w.queue.broker",
     "rabbitmq (phasescale:queue.engine is rabbitmq)"),
    ("existing", "strimzi", {"workers": {"w": {**WORKER, "queue": {"broker": "kafka", "name": "orders"}}}},
     "phasescale:workers.w.queue.name", "one of phasescale:queue.topics (events)"),
    ("gke", "strimzi", {"redis": {"engine": "memorystore"},
                        "workers": {"w": {**WORKER, "queue": {"broker": "redis", "name": "jobs"}}}},
     "phasescale:workers.w.queue.broker", "KEDA's redis scaler"),
    ("existing", "strimzi", {"queue": {"engine": "strimzi", "clients": ["nope"]}}, "phasescale:queue.clients",
     "a service of phasescale:services"),
])  # fmt: skip
def test_a_config_that_breaks_a_queue_rule_is_refused_with_its_path(
    target: str, engine: str, extra: dict[str, Any], path: str, expected: str
) -> None:
    raw = _base(target, engine, **extra)
    if target != "existing":
        raw["phasescale:cluster"] = json.dumps({**json.loads(raw["phasescale:cluster"]), "apiAllowedCidrs": ["203.0.113.0/24"]})
    with pytest.raises(ConfigError) as err:
        load(raw, frozenset(), "t")
    found = {p.path: p.render() for p in err.value.problems}
    assert path in found and expected in found[path], found


def test_a_worker_has_no_port_no_http_probe_and_only_the_egress_it_needs() -> None:
    trigger = qc.kafka_trigger(qp.Engine.STRIMZI, "events", "g", 100, 5)
    plan = wp.WorkerPlan("w", "app", "w:1", 0, 4, trigger, liveness_command=("celery", "inspect", "ping"),
                         egress_cidrs=("198.51.100.0/24",))
    container = wp.deployment_spec(plan)["template"]["spec"]["containers"][0]  # type: ignore[index]
    assert "ports" not in container and "readinessProbe" not in container and "startupProbe" not in container
    assert container["livenessProbe"]["exec"] == {"command": ["celery", "inspect", "ping"]}
    assert "livenessProbe" not in wp.deployment_spec(wp.WorkerPlan("w", "app", "w:1", 1, 1, trigger))[
        "template"]["spec"]["containers"][0]  # type: ignore[index]
    policy = wp.network_policy_spec(plan)
    assert policy["ingress"] == [] and policy["policyTypes"] == ["Ingress", "Egress"]
    assert [b["ipBlock"]["cidr"] for b in policy["egress"][2]["to"]][-1] == "198.51.100.0/24"  # type: ignore[index]
    assert wp.trigger_auth_spec(plan)["secretTargetRef"] == [
        {"parameter": "username", "name": "kafka-connection", "key": "username"},
        {"parameter": "password", "name": "kafka-app", "key": "password"},
        {"parameter": "ca", "name": "kafka-cluster-ca-cert", "key": "ca.crt"},
    ]
    so = wp.scaled_object_spec(plan)
    assert so["minReplicaCount"] == 0 and so["cooldownPeriod"] == 300
    assert so["triggers"][0]["metadata"]["bootstrapServersFromEnv"] == "KAFKA_BOOTSTRAP_SERVERS"  # type: ignore[index]


def test_the_queue_rules_pass_promtool(tmp_path: Path) -> None:
    groups = rules.groups(qp.Engine.STRIMZI, 2) + rules.groups(qp.Engine.RABBITMQ, 2)
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    out = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert rules.groups(qp.Engine.MSK, 2) == []


ENGINES = {"events-strimzi": "strimzi", "tasks-rabbitmq": "rabbitmq", "events-msk": "msk",
           "events-managedkafka": "managedkafka"}


def _objects(stack: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for _, o in plan_of(stack, None, STACKS).manifests()}


@pytest.mark.parametrize("stack", ENGINES)
def test_every_queue_stack_plans_its_engine_its_workers_and_nothing_unread(stack: str) -> None:
    plan = plan_of(stack, None, STACKS)
    objs = _objects(stack)
    types = {r.type for r in plan.records}
    assert plan_problems(plan.settings, plan.manifests()) == []
    for cluster, (groups, keda, found) in metric_reads(plan.settings, plan.manifests(), plan.helm_releases()).items():
        assert unproduced(groups, keda, found) == [], cluster
        assert (Producer.KAFKA_EXPORTER in found) is (stack == "events-strimzi")
        assert (Producer.RABBITMQ in found) is (stack == "tasks-rabbitmq")
    workers = [n for (k, n) in objs if k == "ScaledObject" and (k, n) in objs and "queue" in
               [t.get("name") for t in objs[(k, n)]["spec"]["triggers"]]]
    assert sorted(workers) == sorted(plan.settings.stack.workers)
    for name in workers:
        assert ("Service", name) not in objs and ("Ingress", name) not in objs
        assert ("TriggerAuthentication", f"{name}-queue-auth") in objs
    engine = ENGINES[stack]
    if engine == "strimzi":
        assert {("Kafka", "kafka"), ("KafkaNodePool", "broker"), ("KafkaNodePool", "controller"),
                ("KafkaTopic", "events"), ("KafkaUser", "kafka-app"), ("Secret", "kafka-connection"),
                ("NetworkPolicy", "redis-keda")} <= set(objs)
        assert objs[("ScaledObject", "mailer")]["spec"]["triggers"][0]["type"] == "redis-cluster"
        pooler = objs[("NetworkPolicy", "seoul-pg-pooler")]["spec"]["ingress"][0]["from"]
        assert {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "event-consumer"}}} in pooler
        assert db_services(plan.settings)["event-consumer"] == ServiceDbUse(max_replicas=12, pool_size=5)
    if engine == "rabbitmq":
        assert objs[("RabbitmqCluster", "rabbitmq")]["spec"]["replicas"] == 3
        assert "kubernetes:yaml/v2:ConfigFile" in types
        assert objs[("ScaledObject", "prediction-worker")]["spec"]["triggers"][0]["metadata"]["mode"] == "QueueLength"
    if engine == "msk":
        assert {"aws:msk/cluster:Cluster", "aws:msk/configuration:Configuration", "aws:kms/key:Key",
                "aws:secretsmanager/secret:Secret", "aws:msk/scramSecretAssociation:ScramSecretAssociation",
                "aws:msk/topic:Topic"} <= types
    if engine == "managedkafka":
        assert {"gcp:managedkafka/cluster:Cluster", "gcp:managedkafka/topic:Topic", "gcp:serviceaccount/key:Key"} <= types
        assert "managedkafka.googleapis.com" in {r.inputs.get("service") for r in plan.records}
    stateful = [r for r in plan.records if r.type in ("aws:msk/cluster:Cluster", "gcp:managedkafka/cluster:Cluster")
                or r.type.startswith(("kubernetes:kafka.strimzi.io/v1:Kafka", "kubernetes:rabbitmq.com"))]
    assert stateful and all(r.protect for r in stateful if not r.type.endswith("KafkaUser"))


def test_in_cluster_brokers_are_data_pods_in_the_scheduling_check() -> None:
    plan = plan_of("events-strimzi", None, STACKS)
    pods = {g.name: g for g in region_pods(plan.settings, "seoul", primary=True)}
    broker = pods["phasescale/Kafka/kafka/broker"]
    assert (broker.min_replicas, broker.max_replicas) == (3, 3)
    assert ("phasescale/pool", "data") in broker.node_selector
    assert "phasescale/Deployment/event-consumer" in pods
    rabbit = region_pods(plan_of("tasks-rabbitmq", None, STACKS).settings, "seoul", primary=True)
    assert any(g.name == "phasescale/RabbitmqCluster/rabbitmq" for g in rabbit)


def test_a_move_down_names_the_queue_volumes_it_would_shrink() -> None:
    from_plan = plan_of("events-strimzi", None, STACKS)
    records = [r for r in from_plan.records if r.type == "kubernetes:kafka.strimzi.io/v1:KafkaNodePool"]
    broker = next(r for r in records if r.name.endswith("-broker"))
    smaller = dataclasses.replace(broker, inputs=json.loads(json.dumps(broker.inputs).replace('"200Gi"', '"50Gi"')))
    lines = volume_shrinks(PlanDiff(changed=[(broker, smaller, ["spec"])]))
    assert lines == [f"VOLUME SHRINK {broker.type} {broker.name} spec.storage.size: 200Gi -> 50Gi (no operator "
                     "or cloud shrinks a volume; keep it: phasescale:overrides.queue.storageGib: 200, README 'Rolling back')"]


def test_at_a_phase_without_the_queue_its_workers_and_clients_get_nothing() -> None:
    settings = plan_of("events-strimzi", None, STACKS).settings
    off = dataclasses.replace(settings, sizes=settings.sizes.model_copy(
        update={"queue": settings.sizes.queue.model_copy(update={"enabled": False})}))
    worker = off.stack.workers["event-consumer"]
    assert workers.runs(settings, worker) and not workers.runs(off, worker)
    assert workers.queue_env(off) == ()
    assert [g.name for g in workers.pods(off, redis_part.plan(off))] == ["phasescale/Deployment/mailer"]
    assert queue_part.pods(off) == [] and not in_cluster_queue(off)
    assert workers.runs(off, off.stack.workers["mailer"])  # a Redis list worker needs only Redis


def test_rabbitmq_pods_pass_the_namespace_s_restricted_pod_security() -> None:
    # The operator's own pod template (runAsUser 999, fsGroup 0 only) is refused by `restricted`
    # (rabbitmq/cluster-operator#1910); the override makes the pod and both containers restricted.
    spec = qp.rabbitmq_spec(queue_plan(engine=qp.Engine.RABBITMQ))
    pod = spec["override"]["statefulSet"]["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["containers"] == [{"name": "rabbitmq", "securityContext": restricted}]
    assert pod["initContainers"] == [{"name": "setup-container", "securityContext": restricted}]
    # Queues declared on one node gain members when the cluster grows (1 -> 3 at phase 2).
    assert "quorum_queue.continuous_membership_reconciliation.enabled = true" in spec["rabbitmq"]["additionalConfig"]


def test_each_strimzi_pool_spreads_its_own_pods_over_zones() -> None:
    # Strimzi labels node-pool pods strimzi.io/cluster and strimzi.io/pool-name (strimzi.io/name is
    # <kafka>-kafka for every pool): a selector on anything else matches no pod and spreads nothing.
    p = queue_plan()
    for role in ("broker", "controller"):
        (spread,) = qp.node_pool_spec(p, role)["template"]["pod"]["topologySpreadConstraints"]
        assert spread["labelSelector"] == {"matchLabels": {"strimzi.io/cluster": p.name, "strimzi.io/pool-name": role}}


def test_the_msk_scram_secret_is_deleted_at_once_unless_protected() -> None:
    # A fixed name (AmazonMSK_<cluster>) scheduled for deletion for 7 days blocks re-creating the queue.
    (secret,) = plan_of("events-msk", None, STACKS).of_type("aws:secretsmanager/secret:Secret")
    protected = plan_of("events-msk", None, STACKS).settings.stack.protect_stateful
    assert secret.inputs["recoveryWindowInDays"] == (7 if protected else 0)


def test_workers_and_queue_clients_wait_for_the_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    # Their pods read the queue's connection Secret, written once the broker exists.
    deps: dict[tuple[str, str], list[str]] = {}
    register = recording._RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        deps[(request.type, request.name)] = [u.rpartition("::")[2] for u in request.dependencies]
        return register(self, request)

    monkeypatch.setattr(recording._RecordingMonitor, "RegisterResource", spy)
    plan = planner.run("events-msk", None, root=STACKS)
    (broker,) = plan.of_type("aws:msk/cluster:Cluster")
    workers_ = [n for (t, n) in deps if t == "phasescale:components:Worker"]
    assert workers_
    for name in workers_:  # depending on the QueueCluster component waits for every child, the broker too
        assert broker.name in deps[("phasescale:components:Worker", name)]
    for svc in plan.settings.stack.queue.clients:
        assert broker.name in deps[("phasescale:components:StatelessService", f"seoul-{svc}")]
