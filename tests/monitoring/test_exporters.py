"""ManagedExporter: exact children and inputs, the Secret-only credentials, the strict Kubernetes
schemas and checkov, and that the metric registry counts its ServiceMonitor as the producer."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from components.monitoring import exporters_plan as xp
from components.monitoring.exporters import ManagedExporter, ManagedExporterArgs
from components.monitoring.metrics import Producer, producers
from components.versions import IMAGES
from infra import plan as planner
from tests.infra.test_manifests import K8S_VERSION

PG = xp.ExporterPlan("seoul-pg-exporter", xp.ExporterKind.POSTGRES, "phasescale", IMAGES["postgres-exporter"].ref)
REDIS = xp.ExporterPlan("seoul-redis-exporter", xp.ExporterKind.REDIS, "phasescale", IMAGES["redis-exporter"].ref)


def build(plan: xp.ExporterPlan, secret: dict[str, Any]) -> dict[tuple[str, str], planner.Record]:
    records = planner.record(lambda: ManagedExporter(plan.name, ManagedExporterArgs(plan=plan, secret=secret)))
    return {(r.type, r.name): r for r in records}


def pg_secret() -> dict[str, Any]:
    return {"uri": xp.postgres_uri("t-seoul-pg.abc.ap-northeast-2.rds.amazonaws.com", 5432, "app"),
            "user": "app", "password": "pw"}  # fmt: skip


def manifests(got: dict[tuple[str, str], planner.Record]) -> list[dict[str, Any]]:
    return [r.manifest() for r in got.values() if r.is_kubernetes_object]


def test_postgres_exporter_children_and_inputs() -> None:
    got = build(PG, pg_secret())
    assert sorted(got) == [
        ("kubernetes:apps/v1:Deployment", "seoul-pg-exporter"),
        ("kubernetes:core/v1:Secret", "seoul-pg-exporter-secret"),
        ("kubernetes:core/v1:Service", "seoul-pg-exporter-svc"),
        ("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-pg-exporter-monitor"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-exporter-netpol"),
        ("phasescale:components:ManagedExporter", "seoul-pg-exporter"),
    ]
    secret = got[("kubernetes:core/v1:Secret", "seoul-pg-exporter-secret")].inputs
    assert secret["stringData"] == {"password": planner.REDACTED, "uri": planner.REDACTED, "user": planner.REDACTED}
    pod = got[("kubernetes:apps/v1:Deployment", "seoul-pg-exporter")].inputs["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "quay.io/prometheuscommunity/postgres-exporter:v0.20.1"
    # Credentials as files of the mounted Secret, never as environment values.
    assert container["env"] == [
        {"name": "DATA_SOURCE_URI_FILE", "value": "/etc/exporter/uri"},
        {"name": "DATA_SOURCE_USER_FILE", "value": "/etc/exporter/user"},
        {"name": "DATA_SOURCE_PASS_FILE", "value": "/etc/exporter/password"},
    ]
    assert container["volumeMounts"] == [{"name": "credentials", "mountPath": "/etc/exporter", "readOnly": True}]
    assert pod["volumes"] == [{"name": "credentials", "secret": {"secretName": "seoul-pg-exporter", "defaultMode": 0o440}}]
    assert container["ports"] == [{"name": "metrics", "containerPort": 9187, "protocol": "TCP"}]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True and pod["automountServiceAccountToken"] is False
    netpol = got[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-pg-exporter-netpol")].inputs["spec"]
    assert netpol["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": 9187}],
    }]  # fmt: skip
    monitor = got[("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-pg-exporter-monitor")].inputs
    assert monitor["metadata"]["labels"]["release"] == "monitoring"
    assert producers([monitor], [], []) == {Producer.POSTGRES_EXPORTER}
    svc = got[("kubernetes:core/v1:Service", "seoul-pg-exporter-svc")].inputs
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()


def test_redis_exporter_reads_a_tls_address_and_is_the_redis_producer() -> None:
    assert xp.redis_address("master.x.cache.amazonaws.com:6379", tls=True) == "rediss://master.x.cache.amazonaws.com:6379"
    addr = xp.redis_address("10.0.0.5:6378", tls=True)
    assert xp.redis_password_file(addr, "pw") == '{"rediss://10.0.0.5:6378": "pw"}'
    records = planner.record(lambda: ManagedExporter(REDIS.name, ManagedExporterArgs(
        plan=REDIS, secret={"password-file": xp.redis_password_file(addr, "pw")}, redis_addr=addr)))
    got = {(r.type, r.name): r for r in records}
    dep = got[("kubernetes:apps/v1:Deployment", "seoul-redis-exporter")].inputs
    env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "REDIS_ADDR", "value": "rediss://10.0.0.5:6378"},
                   {"name": "REDIS_PASSWORD_FILE", "value": "/etc/exporter/password-file"}]
    monitor = got[("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-redis-exporter-monitor")].inputs
    assert producers([monitor], [], []) == {Producer.REDIS_EXPORTER}


def test_a_secret_without_the_exporters_keys_is_refused() -> None:
    # Breaks: a redis secret given to the postgres exporter (no uri/user).
    with pytest.raises(Exception, match="uri"):
        build(PG, {"password-file": "{}"})


def test_exporter_objects_pass_the_strict_schemas() -> None:
    # checkov runs over the real plans' exporters (tests/infra/test_manifests.py checks they are there).
    def meta(p: xp.ExporterPlan) -> dict[str, Any]:
        return {"name": p.name, "namespace": p.namespace, "labels": p.labels}

    objs = [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(p),
         "spec": xp.deployment_spec(p, "rediss://10.0.0.5:6378")} for p in (PG, REDIS)
    ] + [
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(p),
         "spec": xp.network_policy_spec(p)} for p in (PG, REDIS)
    ] + [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(p), "spec": xp.service_spec(p)} for p in (PG, REDIS)
    ]  # fmt: skip
    for obj in objs:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_a_private_ca_is_a_file_of_the_secret_and_only_for_redis() -> None:
    memorystore = xp.ExporterPlan("redis-exporter", xp.ExporterKind.REDIS, "phasescale", IMAGES["redis-exporter"].ref,
                                  ca=True)
    addr = xp.redis_address("10.0.0.5:6378", tls=True)
    assert xp.secret_keys(memorystore) == {"REDIS_PASSWORD_FILE": "password-file",
                                           "REDIS_EXPORTER_TLS_CA_CERT_FILE": "ca.crt"}
    env = xp.deployment_spec(memorystore, addr)["template"]["spec"]["containers"][0]["env"]  # type: ignore[index]
    assert env[-1] == {"name": "REDIS_EXPORTER_TLS_CA_CERT_FILE", "value": "/etc/exporter/ca.crt"}
    # Breaks: a CA plan whose Secret has no CA; a postgres plan asking for a CA file.
    with pytest.raises(ValueError, match=r"ca\.crt"):
        planner.record(lambda: ManagedExporter(memorystore.name, ManagedExporterArgs(
            plan=memorystore, secret={"password-file": xp.redis_password_file(addr, "pw")}, redis_addr=addr)))
    with pytest.raises(ValueError, match="only redis_exporter"):
        xp.secret_keys(xp.ExporterPlan("pg", xp.ExporterKind.POSTGRES, "phasescale", "img", ca=True))
