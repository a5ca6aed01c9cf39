"""PostgresCluster and the postgres part: CNPG per phase, backups, the phase-4 replica cluster,
managed Cloud SQL / RDS with PgBouncer in front, the connection budget, and state safety."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.monitoring import exporters_plan as xp
from components.postgres import cnpg_plan as cp
from components.postgres import plan as pp
from components.postgres.cluster import GcsBackup, PostgresCluster, PostgresClusterArgs, ReplicaOf
from components.problems import ConfigError
from components.versions import IMAGES
from infra import catalog
from infra import plan as planner
from infra.diff import diff, render
from tests import planning
from tests.planning import plan_of

CNPG = "kubernetes:postgresql.cnpg.io/v1:"
COMPONENT = "phasescale:components:PostgresCluster"
EXPORTER = "phasescale:components:ManagedExporter"


def sizing(phase: int) -> pp.PostgresSizing:
    s = catalog.POSTGRES[phase]
    return pp.PostgresSizing(
        cpu=s.cpu, memory_gib=s.memory_gib, storage_gib=s.storage_gib, read_replicas=s.read_replicas,
        max_connections=s.max_connections,
        pooler=pp.PoolerSizing(instances=s.pooler_instances, max_client_conn=s.max_client_conn,
                               default_pool_size=s.default_pool_size, min_pool_size=s.min_pool_size,
                               reserve_pool_size=s.reserve_pool_size),
    )


def build(phase: int, **kw: Any) -> dict[tuple[str, str], planner.Record]:
    args = PostgresClusterArgs(
        sizing=sizing(phase), namespace="app", client_apps=("api",), monitoring_namespace="monitoring",
        monitor_labels={"release": "monitoring"}, password="pw",
        backup=GcsBackup(project="p", location="asia-northeast3", bucket="p-prod-pg-seoul"), cloud_name="prod-seoul-pg",
        **kw,
    )
    records = planner.record(lambda: PostgresCluster("seoul-pg", args))
    return {(r.type, r.name): r for r in records}


def test_cnpg_with_gcs_backups_has_exactly_these_children() -> None:
    got = build(2)
    assert sorted(got) == [
        ("gcp:serviceaccount/account:Account", "seoul-pg-backup"),
        ("gcp:serviceaccount/iAMMember:IAMMember", "seoul-pg-backup-wi"),
        ("gcp:storage/bucket:Bucket", "seoul-pg-backup"),
        ("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-pg-backup-admin"),
        ("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "seoul-pg-backup"),
        ("kubernetes:core/v1:Secret", "seoul-pg-app-credentials"),
        ("kubernetes:core/v1:Secret", "seoul-pg-connection"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-pg-monitor"),
        ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-pg-pooler-monitor"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-netpol"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-pooler-netpol"),
        (CNPG + "Cluster", "seoul-pg"),
        (CNPG + "Pooler", "seoul-pg-pooler-ro"),
        (CNPG + "Pooler", "seoul-pg-pooler-rw"),
        (CNPG + "ScheduledBackup", "seoul-pg-daily"),
        (COMPONENT, "seoul-pg"),
    ]
    assert {r.parent for k, r in got.items() if k[0] != COMPONENT} == {f"{COMPONENT}::seoul-pg"}


def test_cluster_spec_backups_and_workload_identity() -> None:
    got = build(2, protect=True)
    cluster = got[(CNPG + "Cluster", "seoul-pg")]
    spec = cluster.inputs["spec"]
    assert cluster.protect and got[("gcp:storage/bucket:Bucket", "seoul-pg-backup")].protect
    assert spec["instances"] == 2
    assert spec["monitoring"] == {"enablePodMonitor": False}
    assert spec["plugins"] == [{"name": cp.BARMAN_PLUGIN, "isWALArchiver": True,
                                "parameters": {"barmanObjectName": "seoul-pg-backup"}}]
    assert spec["serviceAccountTemplate"]["metadata"]["annotations"] == {
        "iam.gke.io/gcp-service-account": "seoul-pg-backup@mock.iam.gserviceaccount.com"
    }
    assert spec["bootstrap"]["initdb"]["secret"] == {"name": "seoul-pg-app-credentials"}
    assert spec["resources"]["limits"] == {"cpu": "2", "memory": "8Gi"}
    assert spec["postgresql"]["parameters"]["max_connections"] == "200"
    assert spec["topologySpreadConstraints"][0]["topologyKey"] == "topology.kubernetes.io/zone"
    store = got[("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "seoul-pg-backup")].inputs["spec"]
    assert store["retentionPolicy"] == "30d"
    assert store["configuration"]["destinationPath"] == "gs://p-prod-pg-seoul/"
    assert store["configuration"]["googleCredentials"] == {"gkeEnvironment": True}
    daily = got[(CNPG + "ScheduledBackup", "seoul-pg-daily")].inputs["spec"]
    assert (daily["schedule"], daily["method"]) == ("0 0 3 * * *", "plugin")
    bucket = got[("gcp:storage/bucket:Bucket", "seoul-pg-backup")].inputs
    assert bucket["publicAccessPrevention"] == "enforced" and bucket["uniformBucketLevelAccess"] is True
    assert bucket["versioning"] == {"enabled": True} and bucket["forceDestroy"] is False
    wi = got[("gcp:serviceaccount/iAMMember:IAMMember", "seoul-pg-backup-wi")].inputs
    assert wi["role"] == "roles/iam.workloadIdentityUser"
    assert wi["member"] == "serviceAccount:p.svc.id.goog[app/seoul-pg]"
    admin = got[("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-pg-backup-admin")].inputs
    assert admin["role"] == "roles/storage.objectAdmin"
    monitor = got[("kubernetes:monitoring.coreos.com/v1:PodMonitor", "seoul-pg-monitor")].inputs
    assert monitor["metadata"]["labels"]["release"] == "monitoring"
    assert monitor["spec"]["podMetricsEndpoints"] == [{"port": "metrics", "interval": "15s"}]


def test_network_policies_admit_only_db_clients_poolers_and_operator() -> None:
    got = build(2)
    pooler = got[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-pooler-netpol")].inputs["spec"]
    assert pooler["podSelector"]["matchExpressions"][0]["values"] == ["seoul-pg-pooler-rw", "seoul-pg-pooler-ro"]
    assert pooler["ingress"][0] == {
        "from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}],
        "ports": [{"protocol": "TCP", "port": 5432}],
    }
    inst = got[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-netpol")].inputs["spec"]
    assert inst["podSelector"] == {"matchLabels": {"cnpg.io/cluster": "seoul-pg", "cnpg.io/podRole": "instance"}}
    sources = [rule["from"][0] for rule in inst["ingress"]]
    assert sources[0] == {"podSelector": pooler["podSelector"]}
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "cnpg-system"}}} in sources
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in sources
    assert not any("app.kubernetes.io/name" in str(s) for s in sources)  # apps go through the poolers


@pytest.mark.parametrize(("phase", "instances", "poolers", "pooler_instances"), [
    (1, 1, ["rw"], 1), (2, 2, ["ro", "rw"], 2), (3, 3, ["ro", "rw"], 3), (4, 5, ["ro", "rw"], 4),
])
def test_instances_and_poolers_follow_the_phase(phase: int, instances: int, poolers: list[str],
                                                pooler_instances: int) -> None:
    got = build(phase)
    assert got[(CNPG + "Cluster", "seoul-pg")].inputs["spec"]["instances"] == instances
    found = sorted(name.rsplit("-", 1)[1] for t, name in got if t == CNPG + "Pooler")
    assert found == poolers
    for kind in poolers:
        spec = got[(CNPG + "Pooler", f"seoul-pg-pooler-{kind}")].inputs["spec"]
        assert (spec["instances"], spec["type"], spec["monitoring"]) == (
            pooler_instances, kind, {"enablePodMonitor": False})
        assert spec["pgbouncer"]["poolMode"] == "transaction"


def test_replica_cluster_restores_from_and_follows_the_primary_archive() -> None:
    got = build(4, replica_of=ReplicaOf(server_name="seoul-pg", bucket="p-prod-pg-seoul"))
    spec = got[(CNPG + "Cluster", "seoul-pg")].inputs["spec"]
    assert spec["bootstrap"] == {"recovery": {"source": "origin"}}
    assert spec["replica"] == {"enabled": True, "source": "origin"}
    assert spec["externalClusters"] == [{"name": "origin", "plugin": {
        "name": cp.BARMAN_PLUGIN, "parameters": {"barmanObjectName": "seoul-pg-origin", "serverName": "seoul-pg"}}}]
    assert spec["plugins"][0]["parameters"] == {"barmanObjectName": "seoul-pg-backup"}  # archives its own WAL
    origin = got[("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "seoul-pg-origin")].inputs["spec"]
    assert origin["configuration"]["destinationPath"] == "gs://p-prod-pg-seoul/"
    assert "retentionPolicy" not in origin  # only the primary's own cluster prunes its archive
    reader = got[("gcp:storage/bucketIAMMember:BucketIAMMember", "seoul-pg-origin-reader")].inputs
    assert (reader["bucket"], reader["role"]) == ("p-prod-pg-seoul", "roles/storage.objectViewer")
    assert ("kubernetes:core/v1:Secret", "seoul-pg-app-credentials") not in got  # roles come from the primary


def test_prod_phase_four_primary_in_seoul_replica_cluster_in_tokyo_all_protected() -> None:
    plan = plan_of("prod", 4)
    for region in ("seoul", "tokyo"):
        releases = {rel["name"]: rel for cluster, rel in plan.helm_releases() if cluster == f"{region}-k8s"}
        assert releases["cert-manager"]["values"]["crds"] == {"enabled": True}  # + the DNS-01 identity (test_tls.py)
        assert releases["plugin-barman-cloud"]["namespace"] == releases["cloudnative-pg"]["namespace"] == "cnpg-system"
        assert plan.named(CNPG + "Cluster", f"{region}-pg").protect
        assert plan.named("gcp:storage/bucket:Bucket", f"{region}-pg-backup").protect
    seoul = plan.named(CNPG + "Cluster", "seoul-pg").inputs["spec"]
    tokyo = plan.named(CNPG + "Cluster", "tokyo-pg").inputs["spec"]
    assert seoul["instances"] == tokyo["instances"] == 5
    assert "initdb" in seoul["bootstrap"] and "replica" not in seoul
    assert tokyo["replica"] == {"enabled": True, "source": "origin"}
    assert tokyo["externalClusters"][0]["plugin"]["parameters"]["serverName"] == "seoul-pg"
    origin = plan.named("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "tokyo-pg-origin").inputs["spec"]
    assert origin["configuration"]["destinationPath"] == "gs://phasescale-prod-prod-pg-seoul/"
    pooler_clients = plan.named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-pooler-netpol")
    apps = [p["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            for p in pooler_clients.inputs["spec"]["ingress"][0]["from"]]
    assert apps == ["ai-service", "auth-service", "finance-service", "general-service", "hr-service", "system-service"]


def test_diff_from_phase_two_to_three_replaces_no_postgres_state() -> None:
    """What ``python -m infra diff --stack prod --from-phase 2 --to-phase 3`` prints."""
    out = render(diff(plan_of("prod", 2), plan_of("prod", 3)), 2, 3)
    assert "~ change  kubernetes:postgresql.cnpg.io/v1:Cluster seoul-pg: spec.instances" in out
    risky = [line for line in out.splitlines() if line.startswith("STATEFUL") and "-pg" in line]
    assert risky == []


# --- Managed engines and config errors (temporary stack files) ----------------------------------


def write_stack(tmp_path: Path, target: str, engine: str, phase: int, **extra: Any) -> Path:
    config: dict[str, Any] = {
        "parts": {"redis": False, "cdn": False, "milvus": False, "gpu": False, "monitoring": False},
        "postgres": {"engine": engine},
        "services": {"api": {"image": "reg/api:1", "database": {"poolSize": 10}}},
        **extra,
    }
    return planning.write_stack(tmp_path, target, phase, **config)


def test_cloudsql_primary_replicas_and_pgbouncer(tmp_path: Path) -> None:
    plan = planner.run("t", 3, root=write_stack(tmp_path, "gke", "cloudsql", 3))
    primary = plan.named("gcp:sql/databaseInstance:DatabaseInstance", "seoul-pg")
    assert primary.protect
    i = primary.inputs
    assert (i["name"], i["databaseVersion"], i["deletionProtection"]) == ("t-seoul-pg", "POSTGRES_17", True)
    s = i["settings"]
    assert (s["availabilityType"], s["tier"], s["edition"]) == ("REGIONAL", "db-custom-4-16384", "ENTERPRISE")
    assert s["backupConfiguration"] == {
        "enabled": True, "startTime": "18:00", "pointInTimeRecoveryEnabled": True, "transactionLogRetentionDays": 7,
        "backupRetentionSettings": {"retainedBackups": 30, "retentionUnit": "COUNT"},
    }
    assert s["ipConfiguration"]["ipv4Enabled"] is False and s["ipConfiguration"]["sslMode"] == "ENCRYPTED_ONLY"
    assert {"name": "max_connections", "value": "400"} in s["databaseFlags"]
    replicas = [r for r in plan.of_type("gcp:sql/databaseInstance:DatabaseInstance") if r is not primary]
    assert sorted(r.name for r in replicas) == ["seoul-pg-replica-1", "seoul-pg-replica-2"]
    # Replicas are rebuildable: neither protected nor deletion-protected, so a move down removes them.
    for r in replicas:
        assert r.inputs["masterInstanceName"] == "t-seoul-pg" and not r.protect
        assert r.inputs["deletionProtection"] is False
        assert r.inputs["settings"]["deletionProtectionEnabled"] is False
    assert s["deletionProtectionEnabled"] is True
    assert plan.named("gcp:compute/globalAddress:GlobalAddress", "seoul-pg-psa").inputs["purpose"] == "VPC_PEERING"
    assert plan.named("gcp:servicenetworking/connection:Connection", "seoul-pg-psa")
    assert not plan.of_type(CNPG + "Cluster")
    assert not plan.of_type(EXPORTER)  # monitoring off: nothing would scrape one
    dep = plan.named("kubernetes:apps/v1:Deployment", "seoul-pg-pgbouncer").inputs["spec"]
    assert dep["replicas"] == 3
    pod = dep["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True
    auth = plan.named("kubernetes:core/v1:Secret", "seoul-pg-pgbouncer-auth").inputs
    assert auth["stringData"] == {"userlist.txt": planner.REDACTED}
    netpol = plan.named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-pgbouncer-netpol").inputs
    assert netpol["spec"]["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}]
    assert plan.named("kubernetes:policy/v1:PodDisruptionBudget", "seoul-pg-pgbouncer-pdb")
    assert plan.named("kubernetes:core/v1:Service", "seoul-pg-pgbouncer-svc").inputs["spec"]["ports"][0]["port"] == 5432
    zonal = planner.run("t", 2, root=tmp_path).named("gcp:sql/databaseInstance:DatabaseInstance", "seoul-pg")
    assert zonal.inputs["settings"]["availabilityType"] == "ZONAL"
    ini = plan.named("kubernetes:core/v1:ConfigMap", "seoul-pg-pgbouncer-config").inputs["data"]["pgbouncer.ini"]
    assert "app = host=t-seoul-pg.address port=5432 dbname=app max_db_connections=55" in ini
    assert "app_ro = host=t-seoul-pg-replica-1.address,t-seoul-pg-replica-2.address port=5432" in ini


def test_rds_primary_replicas_and_parameters(tmp_path: Path) -> None:
    plan = planner.run("t", 3, root=write_stack(tmp_path, "eks", "rds", 3))
    primary = plan.named("aws:rds/instance:Instance", "seoul-pg")
    i = primary.inputs
    assert primary.protect
    assert (i["identifier"], i["engine"], i["engineVersion"], i["instanceClass"]) == (
        "t-seoul-pg", "postgres", "17", "db.m7g.xlarge")
    assert (i["multiAz"], i["storageEncrypted"], i["deletionProtection"], i["backupRetentionPeriod"]) == (
        True, True, True, 30)
    assert i["performanceInsightsEnabled"] is True and i["publiclyAccessible"] is False
    assert i["password"] == planner.REDACTED
    replicas = sorted((r for r in plan.of_type("aws:rds/instance:Instance") if r is not primary), key=lambda r: r.name)
    assert [r.name for r in replicas] == ["seoul-pg-replica-1", "seoul-pg-replica-2"]
    # Replicas are rebuildable: no protection, so a move down removes them; every change applies now.
    assert i["applyImmediately"] is True
    for r in replicas:
        assert r.inputs["replicateSourceDb"] == "t-seoul-pg" and not r.protect
        assert (r.inputs["deletionProtection"], r.inputs["applyImmediately"]) == (False, True)
    sg = plan.named("aws:ec2/securityGroup:SecurityGroup", "seoul-pg-sg").inputs
    assert sg["ingress"] == [{"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.0.0.0/16"],
                              "description": "PostgreSQL clients in the VPC"}]
    params = {p["name"]: p["value"] for p in plan.named("aws:rds/parameterGroup:ParameterGroup", "seoul-pg-params").inputs["parameters"]}
    assert (params["max_connections"], params["shared_buffers"], params["rds.force_ssl"]) == ("400", "524288", "1")
    assert len(plan.named("aws:rds/subnetGroup:SubnetGroup", "seoul-pg-subnets").inputs["subnetIds"]) == 3
    assert plan.named("kubernetes:apps/v1:Deployment", "seoul-pg-pgbouncer").inputs["spec"]["replicas"] == 3
    assert not plan.of_type(EXPORTER)  # monitoring off
    assert not planner.run("t", 2, root=tmp_path).named("aws:rds/instance:Instance", "seoul-pg").inputs["multiAz"]


def test_engine_on_the_wrong_target_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=write_stack(tmp_path, "eks", "cloudsql", 2))
    assert [p.render() for p in err.value.problems] == [
        "phasescale:postgres.engine: got 'cloudsql'; cloudsql needs cluster.target gke; use cnpg on eks"
    ]


def test_connection_budget_override_is_reported_with_the_arithmetic(tmp_path: Path) -> None:
    root = write_stack(tmp_path, "existing", "cnpg", 1, environment="development",
                       overrides={"postgres": {"poolerInstances": 4}})
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=root)
    assert [p.render() for p in err.value.problems] == [
        "phasescale:overrides.postgres.defaultPoolSize: got 20; 4 pooler instances x (20 + 5) server connections "
        "= 100 > 80% of max_connections 100 = 80; must stay under: lower defaultPoolSize, reservePoolSize or "
        "poolerInstances, or raise maxConnections"
    ]


def test_existing_production_needs_a_backup_endpoint(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=write_stack(tmp_path, "existing", "cnpg", 1))
    assert [p.path for p in err.value.problems] == ["phasescale:postgres.backupEndpointUrl"]
    root = write_stack(tmp_path, "existing", "cnpg", 1, postgres={"backupEndpointUrl": "http://minio.s3:9000"})
    store = planner.run("t", None, root=root).named("kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "seoul-pg-backup")
    cfg = store.inputs["spec"]["configuration"]
    assert (cfg["endpointURL"], cfg["destinationPath"]) == ("http://minio.s3:9000", "s3://phasescale-t-pg-seoul/")
    assert cfg["s3Credentials"]["accessKeyId"] == {"name": "pg-backup-s3", "key": "ACCESS_KEY_ID"}



@pytest.mark.parametrize(("target", "engine"), [("gke", "cloudsql"), ("eks", "rds")])
def test_managed_engines_get_a_postgres_exporter_per_instance_with_monitoring(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, engine: str
) -> None:
    uris: list[tuple[str, int, str]] = []
    real = xp.postgres_uri
    monkeypatch.setattr(xp, "postgres_uri", lambda h, p, d: uris.append((h, p, d)) or real(h, p, d))
    parts = {"redis": False, "cdn": False, "milvus": False, "gpu": False, "monitoring": True}
    plan = planner.run("t", 3, root=write_stack(tmp_path, target, engine, 3, parts=parts))
    names = ["seoul-pg-primary-exporter", "seoul-pg-replica-1-exporter", "seoul-pg-replica-2-exporter"]
    assert sorted(r.name for r in plan.of_type(EXPORTER)) == names
    assert {r.parent for r in plan.of_type(EXPORTER)} == {f"{COMPONENT}::seoul-pg"}
    # One URI per instance (offline plans know no addresses, so the hosts are empty here).
    assert sorted(uris) == [("", 5432, "app")] * 3
    for name in names:
        secret = plan.named("kubernetes:core/v1:Secret", f"{name}-secret").inputs
        assert (secret["metadata"]["namespace"], secret["stringData"]) == (
            "phasescale", {"password": planner.REDACTED, "uri": planner.REDACTED, "user": planner.REDACTED})
        pod = plan.named("kubernetes:apps/v1:Deployment", name).inputs["spec"]["template"]["spec"]
        assert pod["containers"][0]["image"] == IMAGES["postgres-exporter"].ref
        monitor = plan.named("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", f"{name}-monitor").inputs
        assert monitor["metadata"]["labels"]["release"] == "monitoring"
        assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"] == name


def test_exporter_roles_follow_the_local_instances() -> None:
    assert pp.exporter_roles(0) == ["primary"]
    assert pp.exporter_roles(2) == ["primary", "replica-1", "replica-2"]
    assert pp.exporter_roles(4, local_primary=False) == ["replica-1"]
    assert pp.exporter_name("tokyo-pg", "replica-1") == "tokyo-pg-replica-1-exporter"
