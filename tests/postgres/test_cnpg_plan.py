"""Pure planning of the CloudNativePG path: Cluster, Pooler, ScheduledBackup and ObjectStore specs."""

from __future__ import annotations

import pytest

from components.postgres.cnpg_plan import (
    BARMAN_PLUGIN,
    BackupCredentials,
    BackupStore,
    PoolerType,
    backup_problems,
    cnpg_cluster_spec,
    cnpg_pooler_spec,
    object_store_spec,
    pgbouncer_parameters,
    pooler_name,
    pooler_types,
    scheduled_backup_spec,
)
from components.postgres.plan import PoolerSizing, PostgresSizing, cnpg_parameters
from tests.postgres.test_postgres_plan import PHASE1, PHASE4

PG_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.6-standard-bookworm"
BOUNCER_IMAGE = "ghcr.io/cloudnative-pg/pgbouncer:1.24.1"


# --- CloudNativePG -----------------------------------------------------------------------------


def test_cluster_spec_with_replicas_and_backups() -> None:
    spec = cnpg_cluster_spec(
        "pg",
        PostgresSizing(),
        PG_IMAGE,
        owner_secret="pg-app",
        storage_class="premium-rwo",
        object_store="pg-backups",
        service_account_annotations={"iam.gke.io/gcp-service-account": "pg@p.iam.gserviceaccount.com"},
    )
    assert spec == {
        "instances": 2,
        "imageName": PG_IMAGE,
        "primaryUpdateStrategy": "unsupervised",
        "primaryUpdateMethod": "switchover",
        "enableSuperuserAccess": False,
        "enablePDB": True,
        "storage": {"size": "100Gi", "resizeInUseVolumes": True, "storageClass": "premium-rwo"},
        "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "2", "memory": "8Gi"}},
        "postgresql": {"parameters": cnpg_parameters(PostgresSizing())},
        "affinity": {
            "enablePodAntiAffinity": True,
            "topologyKey": "kubernetes.io/hostname",
            "podAntiAffinityType": "preferred",
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": "pg", "cnpg.io/podRole": "instance"}},
            }
        ],
        "monitoring": {"enablePodMonitor": True},
        "bootstrap": {
            "initdb": {"database": "app", "owner": "app", "dataChecksums": True, "secret": {"name": "pg-app"}}
        },
        "plugins": [
            {
                "name": "barman-cloud.cloudnative-pg.io",
                "isWALArchiver": True,
                "parameters": {"barmanObjectName": "pg-backups"},
            }
        ],
        "serviceAccountTemplate": {
            "metadata": {"annotations": {"iam.gke.io/gcp-service-account": "pg@p.iam.gserviceaccount.com"}}
        },
    }


@pytest.mark.parametrize(
    ("sizing", "instances", "types"),
    [
        (PHASE1, 1, ("rw",)),
        (PostgresSizing(), 2, ("rw", "ro")),
        (PHASE4, 5, ("rw", "ro")),
    ],
)
def test_instances_and_poolers_per_replica_count(
    sizing: PostgresSizing, instances: int, types: tuple
) -> None:
    spec = cnpg_cluster_spec("pg", sizing, PG_IMAGE)
    assert spec["instances"] == instances
    assert "plugins" not in spec and "serviceAccountTemplate" not in spec
    assert "storageClass" not in spec["storage"]  # type: ignore[operator]
    assert tuple(t.value for t in pooler_types(sizing)) == types


def test_pooler_spec() -> None:
    spec = cnpg_pooler_spec("pg", PoolerSizing(), PoolerType.RO, BOUNCER_IMAGE)
    assert pooler_name("pg", PoolerType.RO) == "pg-pooler-ro"
    assert spec["cluster"] == {"name": "pg"}
    assert spec["instances"] == 2
    assert spec["type"] == "ro"
    assert spec["pgbouncer"] == {
        "poolMode": "transaction",
        "parameters": {
            "max_client_conn": "1000",
            "default_pool_size": "50",
            "min_pool_size": "10",
            "reserve_pool_size": "5",
            "reserve_pool_timeout": "5",
            "max_db_connections": "55",
            "ignore_startup_parameters": "extra_float_digits",
            "log_pooler_errors": "1",
            "stats_period": "60",
        },
    }
    pod = spec["template"]["spec"]  # type: ignore[index]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 998
    [container] = pod["containers"]
    assert container["name"] == "pgbouncer"
    assert container["image"] == BOUNCER_IMAGE
    assert (
        container["resources"]["requests"]
        == container["resources"]["limits"]
        == {"cpu": "500m", "memory": "256Mi"}
    )
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {"cnpg.io/poolerName": "pg-pooler-ro"}
    }


def test_pooler_parameters_are_strings_and_prepared_statements_optional() -> None:
    params = pgbouncer_parameters(PoolerSizing(max_prepared_statements=100))
    assert params["max_prepared_statements"] == "100"
    assert all(isinstance(v, str) for v in params.values())


def test_scheduled_backup_spec() -> None:
    assert scheduled_backup_spec("pg") == {
        "cluster": {"name": "pg"},
        "schedule": "0 0 3 * * *",
        "immediate": True,
        "backupOwnerReference": "self",
        "method": "plugin",
        "pluginConfiguration": {"name": BARMAN_PLUGIN},
    }


@pytest.mark.parametrize(
    ("store", "credentials"),
    [
        (
            BackupStore("s3://backups/pg", BackupCredentials.AWS_IAM_ROLE),
            {"s3Credentials": {"inheritFromIAMRole": True}},
        ),
        (
            BackupStore("gs://backups/pg", BackupCredentials.GKE_WORKLOAD_IDENTITY),
            {"googleCredentials": {"gkeEnvironment": True}},
        ),
        (
            BackupStore("s3://backups/pg", BackupCredentials.SECRET, "http://minio.minio:9000", "minio-pg"),
            {
                "endpointURL": "http://minio.minio:9000",
                "s3Credentials": {
                    "accessKeyId": {"name": "minio-pg", "key": "ACCESS_KEY_ID"},
                    "secretAccessKey": {"name": "minio-pg", "key": "ACCESS_SECRET_KEY"},
                },
            },
        ),
    ],
)
def test_object_store_spec(store: BackupStore, credentials: dict) -> None:
    spec = object_store_spec(store)
    assert spec["retentionPolicy"] == "30d"
    config = spec["configuration"]
    assert config == {  # type: ignore[comparison-overlap]
        "destinationPath": store.destination_path,
        "wal": {"compression": "gzip", "maxParallel": 4},
        "data": {"compression": "gzip", "jobs": 2},
        **credentials,
    }
    resources = spec["instanceSidecarConfiguration"]["resources"]  # type: ignore[index]
    assert resources["requests"] == resources["limits"]
    assert backup_problems(store, "phasescale:backups") == []


def test_backup_problems() -> None:
    bad = BackupStore("s3://b/pg", BackupCredentials.GKE_WORKLOAD_IDENTITY, retention_days=0)
    assert [(p.path, p.expected) for p in backup_problems(bad, "x")] == [
        ("x.destinationPath", "credentials gke-workload-identity need a gs:// path"),
        ("x.retentionDays", "1 or more"),
    ]
    minio = BackupStore("gs://b", BackupCredentials.SECRET)
    assert sorted(p.path for p in backup_problems(minio, "x")) == ["x.destinationPath", "x.secretName"]
