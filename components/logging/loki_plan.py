"""The Loki backend's Helm values (pure): Loki in Monolithic mode, Grafana Alloy as the DaemonSet, and
Loki as a datasource of the MonitoringStack's Grafana.

Every key is in the pinned charts' values.yaml: grafana-community/helm-charts charts/loki/values.yaml @
3386a115 (loki-18.11.0) and grafana/alloy operations/helm/charts/alloy/values.yaml @ 233907cf
(helm-chart/1.11.1), checked with the shared check_values.py over copies of those files.

decided: Monolithic at every phase, one replica then three (replication factor 3). SimpleScalable is
deprecated (loki chart 6.52.0 CHANGELOG; "removed in Loki 4", values.yaml ``deploymentMode``) and a
mode change replaces every workload (``loki-0`` becomes ``loki-write-0``, ``loki-read-...``), so the
names would not stay stable across phases; the chart puts Monolithic at "up to a few tens of GB/day".
Beyond that, Distributed mode is a migration (README 'Logs: when ECK, when Loki').
"""

from __future__ import annotations

from typing import Any

from components import kube
from components.logging.plan import NAMESPACE, SHIPPER_NAMESPACE, LoggingPlan, ObjectStore

RELEASE = "loki"
"""Release name = chart name: the Service is ``loki`` (port 3100), pods ``loki-0``..."""
ALLOY_RELEASE = "alloy"
HTTP_PORT = 3100
GRPC_PORT = 9095
MEMBERLIST_PORT = 7946
ALLOY_PORT = 12345
URL = f"http://{RELEASE}.{NAMESPACE}.svc:{HTTP_PORT}"
SCHEMA_FROM = "2024-04-01"
"""The schema's start date: fixed forever (a new schema is a new entry with a later date)."""
DATASOURCE_LABEL = {"grafana_datasource": "1"}
"""The label kube-prometheus-stack's Grafana sidecar loads datasources by (grafana chart values.yaml
``sidecar.datasources.label: grafana_datasource``, any value; searched in Grafana's own namespace)."""
SHIPPER_SKIPS = (
    ("CKV_K8S_23", "reads the node's /var/log/pods (root-owned 0640 container logs): runs as root"),
    ("CKV_K8S_40", "runs as root (UID 0) to read the node's container logs"),
    ("CKV_K8S_38", "discovery.kubernetes lists this node's pods from the API (its own ServiceAccount)"),
)
MINUTES_PER_DAY = 24 * 60


def _storage(plan: LoggingPlan) -> dict[str, Any]:
    if plan.object_store is ObjectStore.FILESYSTEM:
        return {"type": "filesystem"}
    assert plan.bucket is not None
    out: dict[str, Any] = {
        "type": plan.object_store.value,
        "bucketNames": {"chunks": plan.bucket, "ruler": plan.bucket, "admin": plan.bucket},
    }
    if plan.object_store is ObjectStore.S3:
        out["s3"] = {"region": plan.region}
    return out


def loki_values(plan: LoggingPlan, service_account_annotations: dict[str, Any] | None = None) -> dict[str, Any]:
    """Monolithic Loki: single tenant, TSDB v13 index, retention by the compactor."""
    store = plan.object_store.value
    replicas = plan.loki_replicas
    single: dict[str, Any] = {
        "replicas": replicas,
        "resources": kube.resources(plan.loki_cpu_m, plan.loki_memory_gib * 1024),
        # Go's soft limit under the container limit (the chart's monolithic-values.yaml does the same).
        "extraEnv": [{"name": "GOMEMLIMIT", "value": f"{int(plan.loki_memory_gib * 1024 * 0.9)}MiB"}],
        "persistence": {"enabled": True, "size": f"{plan.loki_storage_gib}Gi",
                        **({"storageClass": plan.storage_class} if plan.storage_class else {})},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
    }
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "loki": {
            "auth_enabled": False,
            "commonConfig": {"replication_factor": plan.loki_replication_factor},
            "storage": _storage(plan),
            "schemaConfig": {"configs": [{
                "from": SCHEMA_FROM, "store": "tsdb", "object_store": store, "schema": "v13",
                "index": {"prefix": "loki_index_", "period": "24h"},
            }]},
            # Retention (grafana.com/docs/loki/latest/operations/storage/retention): the compactor deletes
            # chunks older than limits_config.retention_period; deletes need a delete_request_store.
            "compactor": {
                "working_directory": "/var/loki/compactor",
                "retention_enabled": True,
                "delete_request_store": store,
            },
            "limits_config": {"retention_period": f"{plan.retention_days * 24}h"},
        },
        "singleBinary": single,
        **{role: {"replicas": 0} for role in ("backend", "read", "write")},
        # Small installs: no memcached (the chunks cache asks 8 GiB by default), no canary DaemonSet,
        # no nginx gateway (Grafana and Alloy call the Service), no Helm test pod, no ruler.
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "test": {"enabled": False},
        "gateway": {"enabled": False},
        "ruler": {"enabled": False},
        "serviceAccount": {"annotations": dict(service_account_annotations or {})},
    }
    if plan.monitoring:
        values["monitoring"] = {"serviceMonitor": {"enabled": True, "labels": dict(plan.monitor_labels)}}
    return values


def alloy_config(plan: LoggingPlan) -> str:
    """Alloy's pipeline: this node's pods from the API, their files under /var/log/pods, the CRI
    format unwrapped, JSON lines parsed (``level`` becomes a label, every other field stays in the line
    for LogQL's ``| json``), pushed to Loki. Grafana's "Collect Kubernetes logs" recipe, node-local."""
    return f"""discovery.kubernetes "pods" {{
  role = "pod"
  selectors {{
    role  = "pod"
    field = "spec.nodeName=" + sys.env("NODE_NAME")
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
  rule {{
    source_labels = ["__meta_kubernetes_namespace"]
    target_label  = "namespace"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_name"]
    target_label  = "pod"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_container_name"]
    target_label  = "container"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_label_app_kubernetes_io_name"]
    target_label  = "app"
  }}
  rule {{
    source_labels = ["__meta_kubernetes_pod_uid", "__meta_kubernetes_pod_container_name"]
    separator     = "/"
    target_label  = "__path__"
    replacement   = "/var/log/pods/*$1/*.log"
  }}
}}

local.file_match "pods" {{
  path_targets = discovery.relabel.pods.output
}}

loki.source.file "pods" {{
  targets    = local.file_match.pods.targets
  forward_to = [loki.process.pods.receiver]
}}

loki.process "pods" {{
  stage.cri {{}}
  stage.json {{
    expressions = {{ level = "level" }}
  }}
  stage.labels {{
    values = {{ level = "" }}
  }}
  forward_to = [loki.write.default.receiver]
}}

loki.write "default" {{
  endpoint {{
    url = "{URL}/loki/api/v1/push"
  }}
}}
"""


def alloy_values(plan: LoggingPlan) -> dict[str, Any]:
    """Alloy as a DaemonSet on every node (every taint tolerated), /var/log read-only."""
    return {
        "alloy": {
            "configMap": {"create": True, "content": alloy_config(plan)},
            "mounts": {"varlog": True, "extra": [{"name": "storage", "mountPath": "/var/lib/alloy"}]},
            "storagePath": "/var/lib/alloy",
            "enableReporting": False,
            "extraEnv": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "resources": kube.resources(plan.shipper_cpu_m, plan.shipper_memory_mib),
            "securityContext": {
                "runAsUser": 0,
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "privileged": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            },
        },
        "controller": {
            "type": "daemonset",
            "tolerations": [{"operator": "Exists"}],
            "podAnnotations": kube.checkov_skips(*SHIPPER_SKIPS),
            # The positions file: an emptyDir (a replaced pod re-reads its node's files; Loki drops the
            # exact duplicates and lines older than reject_old_samples_max_age).
            "volumes": {"extra": [{"name": "storage", "emptyDir": {}}]},
        },
        **({"serviceMonitor": {"enabled": True, "additionalLabels": dict(plan.monitor_labels)}} if plan.monitoring else {}),
    }


def datasource_config_map_data() -> str:
    """Grafana's provisioning file for Loki (grafana.com/docs/grafana/latest/datasources/loki)."""
    return (
        "apiVersion: 1\n"
        "datasources:\n"
        "  - name: Loki\n"
        "    type: loki\n"
        "    uid: loki\n"
        "    access: proxy\n"
        f"    url: {URL}\n"
        "    jsonData:\n"
        "      maxLines: 1000\n"
    )


def network_policies(plan: LoggingPlan) -> dict[str, Any]:
    """Loki's HTTP from Alloy's namespace and the monitoring namespace (Grafana, Prometheus); gRPC and
    memberlist between Loki's own pods."""
    loki = {"app.kubernetes.io/name": RELEASE, "app.kubernetes.io/component": "single-binary"}
    peers = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
             for ns in sorted({SHIPPER_NAMESPACE, plan.monitoring_namespace})]
    return {
        "podSelector": {"matchLabels": loki},
        "policyTypes": ["Ingress"],
        "ingress": [
            {"from": peers, "ports": [{"protocol": "TCP", "port": HTTP_PORT}]},
            {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": RELEASE}}}],
             "ports": [{"protocol": "TCP", "port": p} for p in (HTTP_PORT, GRPC_PORT, MEMBERLIST_PORT)]},
        ],
    }


def shipper_network_policy(plan: LoggingPlan) -> dict[str, Any]:
    """Alloy takes its metrics scrape from the monitoring namespace only."""
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": ALLOY_RELEASE}},
        "policyTypes": ["Ingress"],
        "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": plan.monitoring_namespace}}}],
            "ports": [{"protocol": "TCP", "port": ALLOY_PORT}],
        }] if plan.monitoring else [],
    }
