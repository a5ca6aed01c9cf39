"""Pure planning for ManagedExporter (no Pulumi imports): postgres_exporter or redis_exporter as one
hardened Deployment beside a managed database or cache (Cloud SQL, RDS, Memorystore, ElastiCache),
its Service, NetworkPolicy and ServiceMonitor.

The exporter reads its credentials as files from a Secret mounted read-only (``SECRET_DIR``; keys
``SECRET_KEYS``), never from environment values. Variables are the exporters' own:
prometheus-community/postgres_exporter README (``DATA_SOURCE_URI_FILE``, ``DATA_SOURCE_USER_FILE``,
``DATA_SOURCE_PASS_FILE``), oliver006/redis_exporter README (``REDIS_ADDR``, a ``rediss://`` address
for TLS, ``REDIS_PASSWORD_FILE``, a JSON map of address to password, and
``REDIS_EXPORTER_TLS_CA_CERT_FILE``, the CA that signs a private server certificate such as
Memorystore's; without it the image's own system roots verify the server, ``docker/Dockerfile``
copies ``/etc/ssl/certs`` into it, which covers ElastiCache's Amazon-issued certificate). Ports: 9187
(postgres_exporter) and 9121 (redis_exporter), their defaults.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from components import kube

METRICS_PORT_NAME = "metrics"
EXPORTER_UID = 10001
SCRAPE_INTERVAL = "30s"


class ExporterKind(StrEnum):
    POSTGRES = "postgres-exporter"
    REDIS = "redis-exporter"


PORTS = {ExporterKind.POSTGRES: 9187, ExporterKind.REDIS: 9121}
SECRET_DIR = "/etc/exporter"
SECRET_KEYS: Mapping[ExporterKind, Mapping[str, str]] = {
    # env var -> key (file name) of the exporter's Secret
    ExporterKind.POSTGRES: {"DATA_SOURCE_URI_FILE": "uri", "DATA_SOURCE_USER_FILE": "user",
                            "DATA_SOURCE_PASS_FILE": "password"},
    ExporterKind.REDIS: {"REDIS_PASSWORD_FILE": "password-file"},
}  # fmt: skip
CA_ENV, CA_KEY = "REDIS_EXPORTER_TLS_CA_CERT_FILE", "ca.crt"
"""Redis with ``ExporterPlan.ca``: the private CA the server certificate is verified against."""


@dataclass(frozen=True)
class ExporterPlan:
    name: str
    """Kubernetes name of the Deployment, Service, Secret, NetworkPolicy and ServiceMonitor."""
    kind: ExporterKind
    namespace: str
    image: str
    monitor_labels: Mapping[str, str] = field(default_factory=lambda: {"release": "monitoring"})
    prometheus_namespace: str = "monitoring"
    ca: bool = False
    """Redis only: the Secret holds ``CA_KEY``, the server's private CA (Memorystore)."""

    @property
    def port(self) -> int:
        return PORTS[self.kind]

    @property
    def labels(self) -> dict[str, str]:
        return kube.labels(self.name, self.kind.value)

    @property
    def selector(self) -> dict[str, str]:
        return {**kube.selector(self.name), "app.kubernetes.io/component": self.kind.value}


def secret_keys(plan: ExporterPlan) -> dict[str, str]:
    """Env var -> key of the exporter's Secret: ``SECRET_KEYS`` and, with ``plan.ca``, the CA."""
    keys = dict(SECRET_KEYS[plan.kind])
    if plan.ca:
        if plan.kind is not ExporterKind.REDIS:
            raise ValueError("only redis_exporter reads a CA file")
        keys[CA_ENV] = CA_KEY
    return keys


def postgres_uri(host: str, port: int, database: str) -> str:
    """``DATA_SOURCE_URI``: host, port and database; TLS required (Cloud SQL ENCRYPTED_ONLY, RDS force_ssl)."""
    return f"{host}:{port}/{database}?sslmode=require"


def redis_address(endpoint: str, tls: bool) -> str:
    """``REDIS_ADDR``: ``rediss://`` when the cache requires TLS in transit."""
    return f"{'rediss' if tls else 'redis'}://{endpoint}"


def redis_password_file(address: str, password: str) -> str:
    """``REDIS_PASSWORD_FILE`` content: the password of the one address the exporter scrapes."""
    return json.dumps({address: password})


def deployment_spec(plan: ExporterPlan, redis_addr: object = None) -> dict[str, object]:
    """``redis_addr`` (redis only): the ``REDIS_ADDR`` value (an address is not a secret)."""
    env: list[dict[str, object]] = [
        {"name": var, "value": f"{SECRET_DIR}/{key}"} for var, key in secret_keys(plan).items()
    ]
    if plan.kind is ExporterKind.REDIS:
        env.insert(0, {"name": "REDIS_ADDR", "value": redis_addr})
    probe = {"tcpSocket": {"port": METRICS_PORT_NAME}, "periodSeconds": 20}
    return {
        "replicas": 1,
        "selector": {"matchLabels": plan.selector},
        "template": {
            "metadata": {"labels": plan.labels},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": kube.pod_security_context(EXPORTER_UID),
                "containers": [{
                    "name": plan.kind.value,
                    "image": plan.image,
                    "imagePullPolicy": "IfNotPresent",
                    "ports": [{"name": METRICS_PORT_NAME, "containerPort": plan.port, "protocol": "TCP"}],
                    "env": env,
                    "resources": kube.resources(50, 64, 200, 128),
                    "securityContext": kube.container_security_context(EXPORTER_UID),
                    "livenessProbe": probe,
                    "readinessProbe": probe,
                    "volumeMounts": [{"name": "credentials", "mountPath": SECRET_DIR, "readOnly": True}],
                }],
                "volumes": [{"name": "credentials", "secret": {"secretName": plan.name, "defaultMode": 0o440}}],
            },
        },
    }  # fmt: skip


def service_spec(plan: ExporterPlan) -> dict[str, object]:
    return {
        "selector": plan.selector,
        "ports": [{"name": METRICS_PORT_NAME, "port": plan.port, "targetPort": METRICS_PORT_NAME, "protocol": "TCP"}],
    }


def network_policy_spec(plan: ExporterPlan) -> dict[str, object]:
    """Only Prometheus reaches the exporter, on its metrics port."""
    spec = kube.network_policy_spec(plan.name, plan.port, [], {"prometheus": plan.prometheus_namespace})
    spec["podSelector"] = {"matchLabels": plan.selector}
    return spec


def service_monitor(plan: ExporterPlan) -> dict[str, object]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": plan.name, "namespace": plan.namespace, "labels": {**plan.labels, **plan.monitor_labels}},
        "spec": {
            "selector": {"matchLabels": plan.selector},
            "namespaceSelector": {"matchNames": [plan.namespace]},
            "endpoints": [{"port": METRICS_PORT_NAME, "interval": SCRAPE_INTERVAL}],
        },
    }
