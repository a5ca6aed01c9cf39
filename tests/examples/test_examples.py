"""The five products of the source documents as stack files (examples/): each resolves at every
phase with its own figures, and one full plan per product shows them in the objects it sends.

Full plans cost ~0.2-0.5 s of CPU each (all 20 would add ~8 s to the suite): the per-phase figures are
read from the resolved settings (``infra.load``, the same values the plan's summary prints), and
each product is planned once, at the phase that carries most of its figures (cached by
tests/planning.py like the root stacks' plans).
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pytest

from infra import plan as planner
from infra.load import load
from infra.services import replica_bounds
from infra.settings import Settings
from tests.planning import EXAMPLES, PHASES, k8s_objects, plan_of

PRODUCTS = ("erp", "dreamseed", "chat", "koto", "pamtalk")
THRESHOLD = re.compile(r"> ([0-9.]+)$")
"""An alert rule's threshold: the number its expression ends on (``... > 0.8``)."""


@functools.cache
def settings_of(stack: str, phase: int) -> Settings:
    raw, secret_keys = planner.read_stack_config(planner.stack_file(stack, EXAMPLES))
    return load(raw, secret_keys, stack, phase)


def per_phase(stack: str, figure: Any) -> dict[int, Any]:
    return {phase: figure(settings_of(stack, phase)) for phase in PHASES}


def test_there_is_one_example_per_product_and_nothing_else() -> None:
    assert sorted(p.name for p in EXAMPLES.glob("Pulumi.*.yaml")) == sorted(f"Pulumi.{p}.yaml" for p in PRODUCTS)


@pytest.mark.parametrize("stack", PRODUCTS)
def test_every_example_resolves_at_every_phase(stack: str) -> None:
    """Every check that runs before registration (schema, cross-key, parts, names, scheduling)."""
    for phase in PHASES:
        assert settings_of(stack, phase).phase == phase


def autoscalers(plan: planner.Plan) -> dict[str, tuple[int, int, list[str]]]:
    """``{service: (min, max, signals)}`` from the plan's HPAs and KEDA ScaledObjects."""
    out = {}
    for obj in k8s_objects(plan, "HorizontalPodAutoscaler").values():
        s = obj["spec"]
        signals = [f"{m['resource']['name']} {m['resource']['target']['averageUtilization']}%" for m in s["metrics"]]
        out[s["scaleTargetRef"]["name"]] = (s["minReplicas"], s["maxReplicas"], signals)
    for obj in k8s_objects(plan, "ScaledObject").values():
        s = obj["spec"]
        signals = [
            f"{t['name']} {t['metadata']['threshold']}/pod" if t["type"] == "prometheus"
            else f"{t['type']} {t['metadata']['value']}%"
            for t in s["triggers"]
        ]
        out[s["scaleTargetRef"]["name"]] = (s["minReplicaCount"], s["maxReplicaCount"], signals)
    return {k: v for k, v in out.items() if k in plan.settings.stack.services}


def manifest(plan: planner.Plan, kind: str, name: str) -> dict[str, Any]:
    return k8s_objects(plan, kind)[name]


def alert_levels(plan: planner.Plan, cluster: str) -> dict[str, set[tuple[str, float, str]]]:
    """``{alert: {(severity, threshold, for)}}`` of the PrometheusRules of one cluster (the last
    ``> x`` of each rule's expression is its threshold; one entry for all services alike)."""
    out: dict[str, set[tuple[str, float, str]]] = {}
    for name, obj in k8s_objects(plan, "PrometheusRule").items():
        if name.startswith(f"{cluster}/"):
            for rule in (r for group in obj["spec"]["groups"] for r in group["rules"] if "alert" in r):
                if threshold := THRESHOLD.search(rule["expr"]):
                    level = (rule["labels"]["severity"], float(threshold[1]), rule.get("for", "0s"))
                    out.setdefault(rule["alert"], set()).add(level)
    return out


def elastic_logs(plan: planner.Plan, cluster: str) -> set[str]:
    """The ECK objects of one cluster's logging part (Elasticsearch, Kibana, the Filebeat Beat)."""
    return {f"{kind} {name.split('/')[1]}" for kind in ("Elasticsearch", "Kibana", "Beat")
            for name, obj in k8s_objects(plan, kind).items()
            if name.startswith(f"{cluster}/") and (kind != "Beat" or obj["spec"]["type"] == "filebeat")}


# --- ALL-ERP (seed 000): the HPA table at every phase, 1 primary + 2 read replicas, Sentinel then cluster.

ERP_TABLE = {
    "auth-service": (2, 10), "system-service": (2, 5), "hr-service": (1, 5), "finance-service": (1, 5),
    "general-service": (1, 5), "web-admin": (2, 8), "ai-service": (2, 5),
}


def test_erp_shows_the_seed_hpa_table_and_two_read_replicas() -> None:
    plan = plan_of("erp", 2, EXAMPLES)
    assert autoscalers(plan) == {
        "auth-service": (2, 10, ["cpu 70%", "rps 500/pod"]),
        "system-service": (2, 5, ["cpu 70%"]),
        "hr-service": (1, 5, ["cpu 80%"]),
        "finance-service": (1, 5, ["cpu 80%"]),
        "general-service": (1, 5, ["cpu 80%"]),
        "web-admin": (2, 8, ["cpu 60%", "concurrent-users 500/pod"]),
        "ai-service": (2, 5, ["cpu 70%", "queue-length 100/pod"]),
    }
    assert manifest(plan, "Cluster", "seoul-k8s/seoul-pg")["spec"]["instances"] == 3  # 000 §2.2 "replicas: 3"
    assert set(k8s_objects(plan, "VerticalPodAutoscaler")) == {"seoul-k8s/ai-service"}  # 000 §5.2
    args = manifest(plan, "Deployment", "seoul-k8s/vllm")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "2"  # 000 §3.2 "TENSOR_PARALLEL_SIZE 증가" (catalog)
    redis = plan.named("gcp:redis/instance:Instance", "seoul-redis").inputs  # 000 §2.2 Sentinel: HA at phase 2
    assert (redis["tier"], redis["replicaCount"]) == ("STANDARD_HA", 2)
    assert per_phase("erp", lambda s: {n: replica_bounds(s, v) for n, v in s.stack.services.items()}) == {
        p: ERP_TABLE for p in PHASES
    }
    assert per_phase("erp", lambda s: s.sizes.postgres.read_replicas) == {1: 2, 2: 2, 3: 2, 4: 2}
    assert per_phase("erp", lambda s: s.sizes.redis.mode) == {
        1: "standalone", 2: "replication", 3: "cluster", 4: "cluster"}
    pools = {n: v.database.pool_size for n, v in settings_of("erp", 1).stack.services.items() if v.database}
    assert set(pools.values()) == {10}  # 000 §4.2 "인스턴스당 10 connections" (the connection budget check)


def test_erp_thresholds_table_is_two_levels_per_alert() -> None:
    levels = alert_levels(plan_of("erp", 2, EXAMPLES), "seoul-k8s")
    assert {a: levels[a] for a in ("NodeCPUHigh", "NodeMemoryHigh", "HighLatencyP95", "HighErrorRate")} == {
        "NodeCPUHigh": {("warning", 0.7, "5m"), ("critical", 0.85, "5m")},  # 000 §6.2 CPU 70 % / 85 %
        "NodeMemoryHigh": {("warning", 0.8, "5m"), ("critical", 0.9, "5m")},  # memory 80 % / 90 %
        "HighLatencyP95": {("warning", 0.5, "5m"), ("critical", 1.0, "5m")},  # P95 500 / 1000 ms
        "HighErrorRate": {("warning", 0.005, "5m"), ("critical", 0.01, "5m")},  # errors 0.5 % / 1 %
    }


# --- DreamSeedAI (seed 001): Cloud Run 0-3 / 1-8 / 2-15, tensor parallel 1 / 2 / 4 / 4 x 2 replicas,
# Redis 16 GB allkeys-lru then a cluster, primary + 4 replicas and Tokyo at phase 4.


def test_dreamseed_cloud_run_vllm_and_redis_at_phase_three() -> None:
    plan = plan_of("dreamseed", 3, EXAMPLES)
    run = plan.named("gcp:cloudrunv2/service:Service", "seoul-dreamseed-api").inputs
    template = run["template"]
    assert template["scaling"] == {"minInstanceCount": 2, "maxInstanceCount": 15}  # 001 l.329-330
    assert template["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4096Mi"}  # l.191-192
    assert (template["timeout"], template["maxInstanceRequestConcurrency"]) == ("300s", 100)  # l.193, l.417
    assert template["vpcAccess"]["egress"] == "PRIVATE_RANGES_ONLY"  # reaches PgBouncer, Memorystore, vLLM
    args = manifest(plan, "Deployment", "seoul-k8s/vllm")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--tensor-parallel-size") + 1] == "4"  # 001 l.318 says 3: 40 heads, so 4
    gpu = manifest(plan, "ScaledObject", "seoul-k8s/vllm")["spec"]  # 001 l.450-458, 501-502, 603: workers 1-5
    assert (gpu["minReplicaCount"], gpu["maxReplicaCount"], gpu["cooldownPeriod"], gpu["pollingInterval"]) == (
        1, 5, 600, 30)  # 10-minute cool-down, checks every 30 s
    assert {t["name"]: t["metadata"]["threshold"] for t in gpu["triggers"]} == {
        "vllm-queue": "20", "gpu-utilization": "85", "mean-latency": "5"}  # queue > 20, GPU > 85 %, > 5,000 ms
    redis = plan.named("gcp:redis/cluster:Cluster", "seoul-redis").inputs  # 001 l.322 "Redis 클러스터"
    assert (redis["shardCount"], redis["redisConfigs"]) == (3, {"maxmemory-policy": "allkeys-lru"})
    assert per_phase("dreamseed", lambda s: replica_bounds(s, s.stack.services["dreamseed-api"])) == {
        1: (0, 3), 2: (1, 8), 3: (2, 15), 4: (3, 50)}
    assert per_phase("dreamseed", lambda s: (s.sizes.gpu.tensor_parallel_size, s.sizes.gpu.min_replicas)) == {
        1: (1, 1), 2: (2, 1), 3: (4, 1), 4: (4, 2)}
    assert per_phase("dreamseed", lambda s: (s.sizes.redis.mode, s.sizes.redis.maxmemory_mb)) == {
        1: ("standalone", 512), 2: ("replication", 16384), 3: ("cluster", 8192), 4: ("cluster", 8192)}
    assert manifest(plan, "Cluster", "seoul-k8s/seoul-pg")["spec"]["instances"] == 2  # l.332: one read replica
    assert per_phase("dreamseed", lambda s: s.sizes.postgres.read_replicas) == {
        1: 0, 2: 0, 3: 1, 4: 4}  # l.332 "DB Read Replica 추가" at 2 -> 3; l.369 "Primary + 4 Replicas"
    assert per_phase("dreamseed", lambda s: (s.sizes.gpu.min_replicas, s.sizes.gpu.max_replicas)) == {
        1: (1, 5), 2: (1, 5), 3: (1, 5), 4: (2, 5)}  # l.450-451 min 1 / max 5 workers; l.368 "2 서버"
    kafka = plan.named("gcp:managedkafka/cluster:Cluster", "seoul-queue").inputs  # l.325 "Kafka 이벤트 스트림"
    assert kafka["capacityConfig"] == {"vcpuCount": "3", "memoryBytes": str(12 * 2**30)}  # the catalog's phase 3
    assert plan.named("gcp:managedkafka/topic:Topic", "seoul-queue-topic-events").inputs["topicId"] == "events"
    assert per_phase("dreamseed", lambda s: s.stack.parts.queue and s.sizes.queue.enabled) == {
        1: False, 2: False, 3: True, 4: True}  # Kafka from phase 3
    assert {a: v for a, v in alert_levels(plan, "seoul-k8s").items() if a.endswith("ScaleUpNeeded")} == {
        "GPUScaleUpNeeded": {("warning", 85.0, "5m")},  # l.674-676 "> 85", "for: 5m"
        "DBScaleUpNeeded": {("warning", 5000.0, "5m")},  # l.696-698 "for: 5m" (the catalog's phase 3 TPS)
        "CacheScaleUpNeeded": {("warning", 0.8, "5m")},  # l.705-707 "> 0.80", "for: 5m"
    }
    assert per_phase("dreamseed", lambda s: s.active_regions) == {
        1: ["seoul"], 2: ["seoul"], 3: ["seoul"], 4: ["seoul", "tokyo"]}  # l.370 "서울 + 도쿄"


# --- The chat server (seed 002): API HPA 3-20 on CPU 70 % / memory 80 %, the PgBouncer settings,
# primary + replicas from phase 2, CDN from phase 3, two regions at phase 4.


def test_chat_hpa_and_pgbouncer_at_phase_two() -> None:
    plan = plan_of("chat", 2, EXAMPLES)
    assert autoscalers(plan)["chat-server-api"] == (3, 20, ["cpu 70%", "memory 80%"])  # 002 §8.2
    container = manifest(plan, "Deployment", "seoul-k8s/chat-server-api")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {  # 002 §8.1
        "requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    pooler = manifest(plan, "Pooler", "seoul-k8s/seoul-pg-pooler-rw")["spec"]["pgbouncer"]
    assert pooler["poolMode"] == "transaction"  # 002 §6.2 "pool_mode = transaction"
    assert {k: pooler["parameters"][k] for k in ("max_client_conn", "default_pool_size", "min_pool_size",
                                                   "reserve_pool_size")} == {
        "max_client_conn": "1000", "default_pool_size": "50", "min_pool_size": "10", "reserve_pool_size": "5"}
    assert manifest(plan, "Cluster", "seoul-k8s/seoul-pg")["spec"]["instances"] == 2  # §1.3 "PG Primary + Replicas"
    redis = manifest(plan, "RedisCluster", "seoul-k8s/redis")["spec"]  # §1.3 Phase 2 "[Redis Cluster]"
    assert (redis["clusterSize"], "seoul-k8s/redis" in k8s_objects(plan, "RedisReplication")) == (3, False)
    conf = manifest(plan, "ConfigMap", "seoul-k8s/redis-config")["data"]["redis-additional.conf"].splitlines()
    assert {"maxmemory 8192mb", "appendonly yes"} <= set(conf)  # 8 GB per shard; 002 §7 "--appendonly yes"
    assert per_phase("chat", lambda s: s.sizes.redis.mode) == {
        1: "standalone", 2: "cluster", 3: "cluster", 4: "cluster"}
    assert elastic_logs(plan, "seoul-k8s") == {"Elasticsearch logs", "Kibana logs", "Beat logs"}  # §4 ELK, Filebeat
    assert per_phase("chat", lambda s: (s.stack.parts.logging, s.stack.logging.backend)) == {p: (True, "eck") for p in PHASES}
    levels = alert_levels(plan, "seoul-k8s")
    assert {a: levels[a] for a in ("NodeCPUHigh", "NodeMemoryHigh", "HighErrorRate", "HighLatency",
                                   "DatabaseConnectionsHigh", "ReplicationLagHigh")} == {  # §3.1, §3.3
        "NodeCPUHigh": {("warning", 0.7, "5m"), ("critical", 0.9, "5m")},
        "NodeMemoryHigh": {("warning", 0.7, "5m"), ("critical", 0.85, "5m")},
        "HighErrorRate": {("warning", 0.01, "5m"), ("critical", 0.05, "5m")},
        "HighLatency": {("warning", 0.2, "5m"), ("critical", 0.5, "5m")},
        "DatabaseConnectionsHigh": {("warning", 0.8, "5m"), ("critical", 0.95, "5m")},
        "ReplicationLagHigh": {("warning", 1.0, "2m"), ("critical", 5.0, "2m")},
    }
    assert per_phase("chat", lambda s: s.sizes.cdn.enabled) == {1: False, 2: False, 3: True, 4: True}  # §1.3 Phase 3 "[CDN]"
    assert per_phase("chat", lambda s: s.active_regions)[4] == ["seoul", "tokyo"]  # §1.1 Phase 4 "Multi-Region"
    assert per_phase("chat", lambda s: replica_bounds(s, s.stack.services["chat-server-api"])) == {
        p: (3, 20) for p in PHASES}


# --- Korean Together (seed 003): Redis 512 MB standalone at phase 1, a read replica from phase 2,
# CDN from phase 3, Korea + Indonesia at phase 4.


def test_koto_two_regions_and_cdn_at_phase_four() -> None:
    plan = plan_of("koto", 4, EXAMPLES)
    clusters = {r.name: r.inputs["location"] for r in plan.of_type("gcp:container/cluster:Cluster")}
    assert clusters == {"koto-korea": "asia-northeast3", "koto-indonesia": "asia-southeast2"}  # Checkpoint 5
    assert plan.of_type("gcp:compute/backendBucket:BackendBucket")  # Checkpoint 4 "Google Cloud CDN + Storage"
    hosts = {c: obj["spec"]["rules"][0]["host"] for c, obj in k8s_objects(plan, "Ingress").items()}
    assert hosts == {"korea-k8s/koto-api": "koto-kr.com", "indonesia-k8s/koto-api": "koto-id.com"}  # 003 Checkpoint 5
    assert set(k8s_objects(plan, "Ingress")) == {"korea-k8s/koto-api", "indonesia-k8s/koto-api"}  # koto-ai: internal
    api = manifest(plan, "Deployment", "korea-k8s/koto-api")["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "AI_SERVICE_URL", "value": "http://koto-ai"} in api["env"]  # Checkpoint 1, via the Service's port 80
    assert api["ports"][0]["containerPort"] == 5000  # "koto-api (Node.js:5000)"
    for region in ("korea", "indonesia"):  # Checkpoint 3 "512MB → 2GB": 2 GB in a 3 GiB instance, one node
        redis = plan.named("gcp:redis/instance:Instance", f"{region}-redis").inputs
        assert (redis["tier"], redis["memorySizeGb"], redis["redisConfigs"]["maxmemory-gb"]) == ("BASIC", 3, "2")
        assert elastic_logs(plan, f"{region}-k8s") == {"Elasticsearch logs", "Kibana logs", "Beat logs"}  # Filebeat
        levels = alert_levels(plan, f"{region}-k8s")
        assert levels["HighLatencyP95"] == {("warning", 0.8, "30m")}  # Checkpoint 1 "p95 > 800ms", 30 minutes
        assert levels["CacheScaleUpNeeded"] == {("warning", 0.8, "5m")}  # Checkpoint 3 "80% 초과"
        assert ("warning", 1.0, "2m") in levels["ReplicationLagHigh"]  # checklist "Lag 모니터링 (< 1초)"
    assert per_phase("koto", lambda s: (s.sizes.redis.mode, s.sizes.redis.maxmemory_mb, s.sizes.redis.memory_mib)) == {
        1: ("standalone", 512, 768), 2: ("standalone", 2048, 3072), 3: ("standalone", 2048, 3072),
        4: ("standalone", 2048, 3072)}
    assert per_phase("koto", lambda s: s.sizes.postgres.read_replicas)[2] == 1  # Checkpoint 2 (v1)
    assert per_phase("koto", lambda s: s.sizes.cdn.enabled) == {1: False, 2: False, 3: True, 4: True}  # v2


# --- PAM-TALK (seed 004): the API's HPA 3-50 on CPU 70 % / memory 80 % from phase 3, RDS with
# PgBouncer, ElastiCache, CloudFront from phase 4, Celery workers on RabbitMQ from phase 2, its alerts, ECK.


def test_pamtalk_hpa_from_phase_three() -> None:
    plan = plan_of("pamtalk", 3, EXAMPLES)
    bounds = autoscalers(plan)
    assert bounds["pam-talk-api"] == (3, 50, ["cpu 70%", "memory 80%"])  # 004 §3.2
    assert set(bounds) == {"pam-talk-api", "user-service", "farm-service", "prediction-service",
                           "transaction-service", "blockchain-service", "notification-service"}  # 004 §2.1
    assert "seoul-k8s/seoul-pg-pgbouncer" in k8s_objects(plan, "Deployment")  # 004 §1.2 "연결 풀링"
    assert len(plan.of_type("aws:rds/instance:Instance")) == 3  # primary + the catalog's 2 replicas
    group = plan.named("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis").inputs
    assert (group["clusterMode"], group["numNodeGroups"]) == ("enabled", 3)
    assert not plan.of_type("aws:cloudfront/distribution:Distribution")  # §4.1: CloudFront at phase 4 only
    assert per_phase("pamtalk", lambda s: s.stack.parts.cdn) == {1: False, 2: False, 3: False, 4: True}
    assert per_phase("pamtalk", lambda s: replica_bounds(s, s.stack.services["pam-talk-api"])) == {
        1: (1, 3), 2: (2, 8), 3: (3, 50), 4: (3, 50)}
    assert per_phase("pamtalk", lambda s: s.active_regions)[4] == ["seoul", "tokyo"]


def test_pamtalk_celery_workers_alerts_and_logs() -> None:
    plan = plan_of("pamtalk", 3, EXAMPLES)
    assert "seoul-k8s/rabbitmq" in k8s_objects(plan, "RabbitmqCluster")  # 004 §2.3 "RabbitMQ"
    queues = {}
    for name, obj in k8s_objects(plan, "ScaledObject").items():
        trigger = obj["spec"]["triggers"][0]
        if trigger["type"] == "rabbitmq":
            queues[name.split("/")[1]] = (trigger["metadata"]["queueName"], trigger["metadata"]["mode"])
    assert queues == {  # 004 §2.3 queues, scaled on their length ("celery_task_queue_length")
        "prediction-worker": ("prediction_requests", "QueueLength"),
        "blockchain-worker": ("blockchain_transactions", "QueueLength"),
        "notification-worker": ("notification_events", "QueueLength"),
        "analytics-worker": ("analytics_data", "QueueLength"),
    }
    worker = manifest(plan, "Deployment", "seoul-k8s/prediction-worker")["spec"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["celery", "-A", "app", "worker", "-Q", "prediction_requests"]  # §2.2 Celery
    assert per_phase("pamtalk", lambda s: s.stack.parts.queue and s.sizes.queue.enabled) == {
        1: False, 2: True, 3: True, 4: True}  # Phase 2 "메시지 큐 도입"
    levels = alert_levels(plan, "seoul-k8s")
    assert levels["HighLatencyP95"] == {("warning", 2.0, "2m")}  # "p95_response_time > 2s", "duration: 2m"
    assert levels["HighErrorRate"] == {("critical", 0.01, "1m")}  # "error_rate > 1%", "duration: 1m"
    assert levels["DatabaseConnectionsHigh"] == {("warning", 0.8, "30s")}  # "db_connections > 80%", "30s"
    assert levels["HighLatency"] == {("warning", 5.0, "5m")}  # "P99 < 5초"
    assert elastic_logs(plan, "seoul-k8s") == {"Elasticsearch logs", "Kibana logs", "Beat logs"}  # "ELK Stack"
