"""RedisCluster: the mode of each phase, exact children and inputs per engine, validation messages,
and the Redis objects of the real stack plans."""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.cluster.eks import VpcPlacement
from components.monitoring import exporters_plan as xp
from components.redis import plan as rp
from components.redis.cluster import MemorystoreOptions, RedisCluster, RedisClusterArgs
from components.versions import IMAGES
from infra import catalog
from infra import plan as planner
from infra.parts import redis as part
from infra.settings import resolve
from tests.planning import plan_of

COMPONENT = "phasescale:components:RedisCluster"
CR = "kubernetes:redis.redis.opstreelabs.in/v1beta2:"


def phase_plan(phase: int, **kw: Any) -> rp.RedisPlan:
    s = catalog.REDIS[phase]
    base: dict[str, Any] = dict(
        namespace="app", mode=rp.Mode(s.mode), maxmemory_mb=s.maxmemory_mb, maxmemory_policy=s.maxmemory_policy,
        memory_mib=s.memory_mib, cpu_m=s.cpu_millicores, storage_gib=s.storage_gib, shards=s.shards,
        replicas_per_shard=s.replicas_per_shard, sentinels=s.sentinels, monitoring_namespace="monitoring",
    )
    base.update(kw)
    return rp.RedisPlan(**base)


def build(plan: rp.RedisPlan, **kw: Any) -> dict[tuple[str, str], planner.Record]:
    args = RedisClusterArgs(plan=plan, cloud_name="prod-seoul-redis", password="s3cret-s3cret-s3cret",
                            monitor_labels={"release": "monitoring"}, **kw)
    return {(r.type, r.name): r for r in planner.record(lambda: RedisCluster("seoul-redis", args))}


def test_phase_1_is_a_standalone_512mb_redis_with_exactly_these_children() -> None:
    got = build(phase_plan(1))
    assert sorted(got) == [
        ("kubernetes:core/v1:ConfigMap", "seoul-redis-config"),
        ("kubernetes:core/v1:Secret", "seoul-redis-auth"),
        ("kubernetes:core/v1:Secret", "seoul-redis-connection"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-redis-monitor"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-netpol"),
        (CR + "Redis", "seoul-redis"),
        (COMPONENT, "seoul-redis"),
    ]
    assert all(r.parent == f"{COMPONENT}::seoul-redis" for k, r in got.items() if k[0] != COMPONENT)
    cm = got[("kubernetes:core/v1:ConfigMap", "seoul-redis-config")].inputs
    assert cm["metadata"]["name"] == "redis-config"
    assert cm["data"] == {"redis-additional.conf": (
        "maxmemory 512mb\nmaxmemory-policy allkeys-lru\nsave \"\"\nsave 3600 1\nappendonly yes\nappendfsync everysec\n"
    )}
    cr = got[(CR + "Redis", "seoul-redis")].inputs
    assert cr["apiVersion"] == "redis.redis.opstreelabs.in/v1beta2"
    assert cr["metadata"]["name"] == "redis"
    spec = cr["spec"]
    assert spec["redisConfig"] == {"additionalRedisConfig": "redis-config"}
    assert spec["kubernetesConfig"]["image"] == "quay.io/opstree/redis:v8.2.2"
    assert spec["kubernetesConfig"]["redisSecret"] == {"name": "redis-auth", "key": "password"}
    assert spec["kubernetesConfig"]["resources"] == {
        "requests": {"cpu": "250m", "memory": "768Mi"}, "limits": {"cpu": "500m", "memory": "768Mi"},
    }
    assert spec["storage"] == {
        "keepAfterDelete": True,
        "volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}}},
    }
    assert spec["redisExporter"]["enabled"] is True and spec["redisExporter"]["port"] == 9121
    assert spec["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert spec["securityContext"]["allowPrivilegeEscalation"] is False
    assert spec["podSecurityContext"]["runAsNonRoot"] is True
    assert "pdb" not in spec  # one pod: a PDB would only block node drains


def test_storage_class_comes_from_config() -> None:
    spec = build(phase_plan(1, storage_class="premium-rwo"))[(CR + "Redis", "seoul-redis")].inputs["spec"]
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["storageClassName"] == "premium-rwo"


def test_phase_2_is_replication_with_sentinels_16gb_allkeys_lru() -> None:
    got = build(phase_plan(2))
    assert (CR + "Redis", "seoul-redis") not in got
    rep = got[(CR + "RedisReplication", "seoul-redis")].inputs
    assert rep["metadata"]["name"] == "redis"
    assert rep["spec"]["clusterSize"] == 3  # a primary and two replicas
    assert rep["spec"]["pdb"] == {"enabled": True, "maxUnavailable": 1}
    conf = got[("kubernetes:core/v1:ConfigMap", "seoul-redis-config")].inputs["data"]["redis-additional.conf"]
    assert conf.startswith("maxmemory 16384mb\nmaxmemory-policy allkeys-lru\n")
    sentinel = got[(CR + "RedisSentinel", "seoul-redis-sentinel")].inputs
    assert sentinel["metadata"]["name"] == "redis-sentinel"
    assert sentinel["spec"]["clusterSize"] == 3
    assert sentinel["spec"]["kubernetesConfig"]["image"] == "quay.io/opstree/redis-sentinel:v8.2.2"
    assert sentinel["spec"]["redisSentinelConfig"] == {
        "redisReplicationName": "redis",
        "redisReplicationPassword": {"secretKeyRef": {"name": "redis-auth", "key": "password"}},
        "masterGroupName": "mymaster",
        "quorum": "2",
    }
    ports = got[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-netpol")].inputs["spec"]["ingress"][0]["ports"]
    assert [p["port"] for p in ports] == [6379, 26379]


def test_phases_3_and_4_are_cluster_mode_with_a_replica_per_shard() -> None:
    for phase, shards in ((3, 3), (4, 6)):
        got = build(phase_plan(phase))
        spec = got[(CR + "RedisCluster", "seoul-redis")].inputs["spec"]
        assert spec["clusterSize"] == shards
        assert spec["persistenceEnabled"] is True
        assert spec["redisLeader"]["replicas"] == shards
        assert spec["redisFollower"]["replicas"] == shards
        for role in ("redisLeader", "redisFollower"):
            assert spec[role]["redisConfig"] == {"additionalRedisConfig": "redis-config"}
            assert spec[role]["pdb"] == {"enabled": True, "maxUnavailable": 1}
        assert spec["storage"]["nodeConfVolume"] is True
        assert (CR + "RedisSentinel", "seoul-redis-sentinel") not in got


def test_network_policy_admits_the_app_and_operator_namespaces_and_monitoring_on_9121_only() -> None:
    np = build(phase_plan(3))[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-netpol")].inputs["spec"]

    def ns(name: str) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}

    assert np["podSelector"] == {"matchLabels": {"app.kubernetes.io/component": "redis", "app.kubernetes.io/part-of": "phasescale"}}
    assert np["ingress"] == [
        {"from": [ns("app"), ns("redis-operator")],
         "ports": [{"protocol": "TCP", "port": 6379}, {"protocol": "TCP", "port": 16379}]},
        {"from": [ns("monitoring")], "ports": [{"protocol": "TCP", "port": 9121}]},
    ]


def test_pod_monitor_scrapes_the_exporter_with_the_prometheus_labels() -> None:
    mon = build(phase_plan(1))[("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-redis-monitor")].inputs
    assert mon["metadata"]["labels"]["release"] == "monitoring"
    assert mon["spec"]["podMetricsEndpoints"] == [{"port": "redis-exporter", "interval": "30s"}]


def test_password_is_a_secret_and_data_resource_is_protected_on_request() -> None:
    got = build(phase_plan(1), protect=True)
    assert got[("kubernetes:core/v1:Secret", "seoul-redis-auth")].inputs["stringData"] == {"password": planner.REDACTED}
    assert got[(CR + "Redis", "seoul-redis")].protect is True
    assert got[("kubernetes:core/v1:ConfigMap", "seoul-redis-config")].protect is False


GCP = MemorystoreOptions(project="p", region="asia-northeast3", network="net-id", subnetwork="subnet-id")


def test_memorystore_replication_is_standard_ha_with_read_replicas_tls_auth_and_hourly_rdb() -> None:
    got = build(phase_plan(2, engine=rp.Engine.MEMORYSTORE), memorystore=GCP, protect=True)
    assert sorted(got) == [
        ("gcp:redis/instance:Instance", "seoul-redis"),
        ("kubernetes:core/v1:Secret", "seoul-redis-connection"),
        (COMPONENT, "seoul-redis"),
    ]
    rec = got[("gcp:redis/instance:Instance", "seoul-redis")]
    i = rec.inputs
    assert rec.protect is True
    assert (i["tier"], i["replicaCount"], i["readReplicasMode"]) == ("STANDARD_HA", 2, "READ_REPLICAS_ENABLED")
    assert (i["authEnabled"], i["transitEncryptionMode"]) == (True, "SERVER_AUTHENTICATION")
    assert i["authorizedNetwork"] == "net-id"
    assert i["memorySizeGb"] == 22
    assert i["redisConfigs"] == {"maxmemory-gb": "16", "maxmemory-policy": "allkeys-lru"}
    assert i["persistenceConfig"] == {"persistenceMode": "RDB", "rdbSnapshotPeriod": "ONE_HOUR"}
    assert i["deletionProtection"] is True
    standalone = build(phase_plan(1, engine=rp.Engine.MEMORYSTORE), memorystore=GCP)
    assert standalone[("gcp:redis/instance:Instance", "seoul-redis")].inputs["tier"] == "BASIC"


def test_memorystore_cluster_mode_is_a_redis_cluster_over_psc() -> None:
    got = build(phase_plan(3, engine=rp.Engine.MEMORYSTORE), memorystore=GCP)
    c = got[("gcp:redis/cluster:Cluster", "seoul-redis")].inputs
    assert (c["shardCount"], c["replicaCount"], c["nodeType"]) == (3, 1, "REDIS_HIGHMEM_MEDIUM")
    assert c["transitEncryptionMode"] == "TRANSIT_ENCRYPTION_MODE_SERVER_AUTHENTICATION"
    assert c["authorizationMode"] == "AUTH_MODE_IAM_AUTH"
    assert c["pscConfigs"] == [{"network": "net-id"}]
    assert c["persistenceConfig"] == {"mode": "RDB", "rdbConfig": {"rdbSnapshotPeriod": "ONE_HOUR"}}
    assert c["automatedBackupConfig"]["retention"] == "604800s"
    psc = got[("gcp:networkconnectivity/serviceConnectionPolicy:ServiceConnectionPolicy", "seoul-redis-psc")].inputs
    assert psc["serviceClass"] == "gcp-memorystore-redis"


AWS = VpcPlacement(vpc_id="vpc-1", vpc_cidr="10.30.0.0/16", subnet_ids=["subnet-a", "subnet-b"])


def test_elasticache_is_encrypted_multi_az_with_auth_and_seven_days_of_snapshots() -> None:
    got = build(phase_plan(2, engine=rp.Engine.ELASTICACHE), elasticache=AWS, protect=True)
    rec = got[("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis")]
    rg = rec.inputs
    assert rec.protect is True
    assert (rg["engine"], rg["replicationGroupId"], rg["nodeType"]) == ("valkey", "prod-seoul-redis", "cache.r7g.xlarge")
    assert (rg["atRestEncryptionEnabled"], rg["transitEncryptionEnabled"]) == (True, True)
    assert rg["authToken"] == planner.REDACTED
    assert (rg["multiAzEnabled"], rg["automaticFailoverEnabled"]) == (True, True)
    assert (rg["clusterMode"], rg["numCacheClusters"]) == ("disabled", 3)
    assert (rg["snapshotRetentionLimit"], rg["snapshotWindow"]) == (7, "17:00-18:00")
    sg = got[("aws:ec2/securityGroup:SecurityGroup", "seoul-redis-sg")].inputs
    assert [(r["fromPort"], r["cidrBlocks"]) for r in sg["ingress"]] == [(6379, ["10.30.0.0/16"])]
    assert got[("aws:elasticache/subnetGroup:SubnetGroup", "seoul-redis-subnets")].inputs["subnetIds"] == [
        "subnet-a", "subnet-b",
    ]
    params = got[("aws:elasticache/parameterGroup:ParameterGroup", "seoul-redis-params")].inputs["parameters"]
    assert params == [{"name": "maxmemory-policy", "value": "allkeys-lru"}]


def test_elasticache_cluster_mode_uses_node_groups() -> None:
    got = build(phase_plan(4, engine=rp.Engine.ELASTICACHE), elasticache=AWS)
    rg = got[("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis")].inputs
    assert (rg["clusterMode"], rg["numNodeGroups"], rg["replicasPerNodeGroup"]) == ("enabled", 6, 1)
    assert "numCacheClusters" not in rg
    params = got[("aws:elasticache/parameterGroup:ParameterGroup", "seoul-redis-params")].inputs["parameters"]
    assert {"name": "cluster-enabled", "value": "yes"} in params
    standalone = build(phase_plan(1, engine=rp.Engine.ELASTICACHE), elasticache=AWS)
    rg1 = standalone[("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis")].inputs
    assert (rg1["multiAzEnabled"], rg1["automaticFailoverEnabled"], rg1["numCacheClusters"]) == (False, False, 1)


# --- Validation ------------------------------------------------------------------------------------

PW = "s3cret-s3cret-s3cret"


def problems(plan: rp.RedisPlan, target: str = "existing", password: str | None = PW) -> list[str]:
    return [p.render() for p in rp.validate(plan, target, password, "phasescale:overrides.redis", "phasescale:redis.engine")]


def test_catalog_phases_are_valid_on_every_target() -> None:
    for phase in catalog.PHASES:
        assert problems(phase_plan(phase)) == []
        assert problems(phase_plan(phase, engine=rp.Engine.ELASTICACHE), "eks") == []
        assert problems(phase_plan(phase, engine=rp.Engine.MEMORYSTORE), "gke", None) == []


def test_engine_must_match_the_target() -> None:
    assert problems(phase_plan(1, engine=rp.Engine.MEMORYSTORE), "eks") == [
        "phasescale:redis.engine: got 'memorystore'; memorystore needs cluster.target gke (got eks); "
        "valid on eks: operator, elasticache"
    ]
    assert problems(phase_plan(1, engine=rp.Engine.ELASTICACHE), "existing") == [
        "phasescale:redis.engine: got 'elasticache'; elasticache needs cluster.target eks (got existing); "
        "valid on existing: operator"
    ]


def test_maxmemory_must_leave_headroom_in_the_memory_limit() -> None:
    assert problems(phase_plan(1, maxmemory_mb=2048, storage_gib=10)) == [
        "phasescale:overrides.redis.maxmemoryMb: got 2048; at most 576 (75% of memoryMib 768): 25% headroom "
        "for fork (RDB/AOF rewrite) and replication buffers; raise memoryMib to 2731 or more"
    ]
    assert problems(phase_plan(1, maxmemory_mb=2048, memory_mib=2731, storage_gib=6)) == []  # 2 GB, grown
    assert problems(phase_plan(1, maxmemory_mb=2048, memory_mib=2731, storage_gib=5)) == [
        "phasescale:overrides.redis.storageGib: got 5; at least 6 (3x maxmemoryMb 2048: RDB, AOF and rewrite)"
    ]


def test_cluster_needs_three_shards_with_a_replica_each() -> None:
    assert problems(phase_plan(3, shards=2, replicas_per_shard=0)) == [
        "phasescale:overrides.redis.shards: got 2; cluster mode needs at least 3 shards "
        "(a majority of masters must survive a failure)",
        "phasescale:overrides.redis.replicasPerShard: got 0; cluster mode needs at least 1 replica per shard (failover)",
    ]


def test_replication_needs_an_odd_sentinel_quorum_and_storage_must_hold_rdb_and_aof() -> None:
    assert problems(phase_plan(2, sentinels=2, storage_gib=20)) == [
        "phasescale:overrides.redis.storageGib: got 20; at least 48 (3x maxmemoryMb 16384: RDB, AOF and rewrite)",
        "phasescale:overrides.redis.sentinels: got 2; replication mode needs an odd number of Sentinels, "
        "3 or more (a quorum survives one loss)",
    ]


def test_password_is_required_and_follows_elasticache_rules() -> None:
    assert problems(phase_plan(1), password=None) == [
        "phasescale:redisPassword: got None; required for engine operator and elasticache: "
        "`pulumi config set --secret phasescale:redisPassword <16-128 characters>`"
    ]
    assert problems(phase_plan(1, engine=rp.Engine.ELASTICACHE), "eks", "has/slash-and-more-chars") == [
        "phasescale:redisPassword: got '[secret]'; 16-128 characters of letters, digits and ! & # $ ^ < > - "
        "(ElastiCache AUTH token rules)"
    ]


def test_part_validate_reads_engine_and_overrides_from_the_stack() -> None:
    raw = {
        "phasescale:phase": "3",
        "phasescale:cluster": json.dumps({"target": "eks"}),
        "phasescale:regions": json.dumps({"seoul": {"location": "ap-northeast-2"}}),
        "phasescale:redis": json.dumps({"engine": "memorystore"}),
        "phasescale:overrides": json.dumps({"redis": {"shards": 2}}),
        "phasescale:redisPassword": PW,
    }
    settings = resolve(raw, frozenset({"phasescale:redisPassword"}))
    assert [p.path for p in part.validate(settings)] == ["phasescale:redis.engine", "phasescale:overrides.redis.shards"]


# --- The real stacks -------------------------------------------------------------------------------


def test_dev_stack_runs_the_operator_and_the_mode_of_each_phase() -> None:
    for phase, kind in ((1, "Redis"), (2, "RedisReplication"), (3, "RedisCluster"), (4, "RedisCluster")):
        plan = plan_of("dev", phase)
        data = [r for r in plan.records if r.type.startswith(CR) and r.type != CR + "RedisSentinel"]
        assert [(r.type, r.name) for r in data] == [(CR + kind, "local-redis")]
        rel = plan.named("kubernetes:helm.sh/v3:Release", "local-redis-operator").inputs
        assert (rel["chart"], rel["version"], rel["namespace"]) == ("redis-operator", "0.26.1", "redis-operator")
        assert data[0].protect is False  # development


def test_prod_stacks_protect_the_data_resource() -> None:
    gke = plan_of("prod")  # phase 2 on GKE: Memorystore, highly available with read replicas
    inst = gke.named("gcp:redis/instance:Instance", "seoul-redis")
    assert inst.protect is True
    assert inst.inputs["tier"] == "STANDARD_HA"
    aws = plan_of("prod-aws")  # phase 3 on EKS: ElastiCache in cluster mode
    rg = aws.named("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis")
    assert rg.protect is True
    assert rg.inputs["numNodeGroups"] == 3
    assert all(r.protect for r in plan_of("prod-aws", 4).of_type("aws:elasticache/replicationGroup:ReplicationGroup"))
    dev = plan_of("dev", 2)  # development stacks do not protect
    assert dev.named(CR + "RedisReplication", "local-redis").protect is False



# --- redis_exporter beside a managed cache -------------------------------------------------------

EXPORTER_IMAGE = IMAGES["redis-exporter"].ref
EXPORTER_CHILDREN = [
    ("kubernetes:apps/v1:Deployment", "seoul-redis-exporter"),
    ("kubernetes:core/v1:Secret", "seoul-redis-exporter-secret"),
    ("kubernetes:core/v1:Service", "seoul-redis-exporter-svc"),
    ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-redis-exporter-monitor"),
    ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-redis-exporter-netpol"),
    ("phasescale:components:ManagedExporter", "seoul-redis-exporter"),
]


def exporter_env(got: dict[tuple[str, str], planner.Record]) -> list[dict[str, Any]]:
    pod = got[("kubernetes:apps/v1:Deployment", "seoul-redis-exporter")].inputs["spec"]["template"]["spec"]
    env: list[dict[str, Any]] = pod["containers"][0]["env"]
    return env


def test_memorystore_basic_and_ha_get_a_redis_exporter_with_auth_string_and_the_instances_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files: list[tuple[str, str]] = []
    real = xp.redis_password_file
    monkeypatch.setattr(xp, "redis_password_file", lambda a, p: files.append((a, p)) or real(a, p))
    for phase in (1, 2):
        got = build(phase_plan(phase, engine=rp.Engine.MEMORYSTORE), memorystore=GCP, exporter_image=EXPORTER_IMAGE)
        assert sorted(got) == sorted([
            ("gcp:redis/instance:Instance", "seoul-redis"), ("kubernetes:core/v1:Secret", "seoul-redis-connection"),
            (COMPONENT, "seoul-redis"), *EXPORTER_CHILDREN,
        ])  # fmt: skip
        # Offline plans know no host: the address keeps its TLS scheme and Memorystore's port default.
        assert exporter_env(got) == [
            {"name": "REDIS_ADDR", "value": "rediss://:6379"},
            {"name": "REDIS_PASSWORD_FILE", "value": "/etc/exporter/password-file"},
            {"name": "REDIS_EXPORTER_TLS_CA_CERT_FILE", "value": "/etc/exporter/ca.crt"},
        ]
        secret = got[("kubernetes:core/v1:Secret", "seoul-redis-exporter-secret")].inputs
        assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("redis-exporter", "app")
        assert secret["stringData"] == {"ca.crt": planner.REDACTED, "password-file": planner.REDACTED}
        monitor = got[("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-redis-exporter-monitor")].inputs
        assert monitor["metadata"]["labels"]["release"] == "monitoring"
    assert [a for a, _ in files] == ["rediss://:6379"] * 2


def test_elasticache_gets_a_redis_exporter_with_the_auth_token_over_public_ca_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files: list[tuple[str, str]] = []
    real = xp.redis_password_file
    monkeypatch.setattr(xp, "redis_password_file", lambda a, p: files.append((a, p)) or real(a, p))
    for phase in (1, 4):
        got = build(phase_plan(phase, engine=rp.Engine.ELASTICACHE), elasticache=AWS, exporter_image=EXPORTER_IMAGE)
        assert set(EXPORTER_CHILDREN) <= set(got)
        # TLS verified by the image's system roots (Amazon's CA): no CA file.
        assert [e["name"] for e in exporter_env(got)] == ["REDIS_ADDR", "REDIS_PASSWORD_FILE"]
        secret = got[("kubernetes:core/v1:Secret", "seoul-redis-exporter-secret")].inputs
        assert secret["stringData"] == {"password-file": planner.REDACTED}
    # The token of phasescale:redisPassword, keyed by the exact REDIS_ADDR.
    assert [p for _, p in files] == [PW, PW]
    assert all(a.startswith("rediss://") and a.endswith(":6379") for a, _ in files)


def test_no_exporter_for_memorystore_cluster_iam_auth_or_without_monitoring() -> None:
    cluster = build(phase_plan(3, engine=rp.Engine.MEMORYSTORE), memorystore=GCP, exporter_image=EXPORTER_IMAGE)
    assert not [k for k in cluster if "exporter" in k[1]]  # cluster mode never builds one (IAM auth)
    p = phase_plan(3, engine=rp.Engine.MEMORYSTORE)
    assert not part.exports_managed(p, monitoring=True)
    assert part.exports_managed(phase_plan(2, engine=rp.Engine.MEMORYSTORE), monitoring=True)
    assert part.exports_managed(phase_plan(4, engine=rp.Engine.ELASTICACHE), monitoring=True)
    assert not part.exports_managed(phase_plan(2, engine=rp.Engine.ELASTICACHE), monitoring=False)
    assert not part.exports_managed(phase_plan(2), monitoring=True)  # operator: its own exporter sidecar
    unmonitored = RedisClusterArgs(plan=phase_plan(2, engine=rp.Engine.ELASTICACHE), password=PW, elasticache=AWS,
                                   exporter_image=EXPORTER_IMAGE)
    records = planner.record(lambda: RedisCluster("seoul-redis", unmonitored))
    assert not [r for r in records if "exporter" in r.name]


def test_prod_stacks_scrape_their_managed_cache_at_the_phases_it_can_be_scraped() -> None:
    for stack, phases in (("prod", (1, 2)), ("prod-aws", (1, 2, 3, 4))):
        for phase in (1, 2, 3, 4):
            found = [r.name for r in plan_of(stack, phase).of_type("kubernetes:apps/v1:Deployment")
                     if r.name.endswith("redis-exporter")]
            assert bool(found) is (phase in phases), (stack, phase, found)


def test_memorystore_replication_needs_nodes_of_five_gb() -> None:
    # Breaks: seed 003's 2 GB cache in replication mode (Memorystore refuses read replicas below 5 GB).
    small = rp.RedisPlan(engine=rp.Engine.MEMORYSTORE, mode=rp.Mode.REPLICATION, maxmemory_mb=2048, memory_mib=3072,
                         replicas_per_shard=1)
    found = rp.validate(small, "gke", None, "phasescale:overrides.redis", "phasescale:redis.engine")
    assert [p.render() for p in found if p.path.endswith("memoryMib")] == [
        "phasescale:overrides.redis.memoryMib: got 3072; at least 5120 for mode replication on Memorystore "
        "(read replicas need nodes of 5 GB or more); or mode standalone (one BASIC node) for a smaller cache"
    ]
    big = rp.RedisPlan(engine=rp.Engine.MEMORYSTORE, mode=rp.Mode.REPLICATION, maxmemory_mb=3840, memory_mib=5120,
                       replicas_per_shard=1)
    assert [p for p in rp.validate(big, "gke", None, "x", "y") if p.path.endswith("memoryMib")] == []
