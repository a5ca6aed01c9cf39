"""The ECK backend's specs (pure): the operator's values, Elasticsearch, Kibana, the Filebeat ``Beat``
and its ILM policy. Fields checked against the CRDs of ECK 3.5.0 (validation/crds) and the chart's
values.yaml at tag v3.5.0 (deploy/eck-operator/values.yaml @ 386c7b14).

Retention, declaratively and on the Basic license: Elasticsearch's spec takes no ILM, and ECK's
``StackConfigPolicy`` is Enterprise-only, so Filebeat loads the policy itself at every start
(``setup.ilm.policy_file`` with ``setup.ilm.overwrite: true``; elastic.co/docs/reference/beats/filebeat/ilm).
The policy file is a ConfigMap built from the catalog's retention: a phase change updates it, the
Beat's pods roll and the policy is overwritten. The user ECK creates for the Beat holds ``manage_ilm``
and ``manage_index_templates`` (pkg/controller/elasticsearch/user/roles.go @ v3.5.0, beat roles).
"""

from __future__ import annotations

import json
from typing import Any

from components import kube
from components.logging.plan import ILM_POLICY, NAME, NAMESPACE, LoggingPlan
from components.scheduling import data_placement

ES_API = "elasticsearch.k8s.elastic.co/v1"
KIBANA_API = "kibana.k8s.elastic.co/v1"
BEAT_API = "beat.k8s.elastic.co/v1beta1"
ES_UID = 1000
"""The Elasticsearch, Kibana and Filebeat images' own user (``elasticsearch``/``kibana``, UID 1000)."""
ES_CLUSTER_LABEL = "elasticsearch.k8s.elastic.co/cluster-name"
KIBANA_LABEL = "kibana.k8s.elastic.co/name"
BEAT_LABEL = "beat.k8s.elastic.co/name"
ILM_DIR = "/usr/share/filebeat/ilm"
ILM_FILE = "policy.json"
ROLLOVER_MAX_AGE = "1d"
ROLLOVER_MAX_PRIMARY_SHARD = "50gb"
"""Elastic's default rollover for logs (ILM ``logs`` policy): 30 days or 50 GB per primary shard; a day
here so the delete phase frees space daily."""
KIBANA_MEMORY_MIB = 1024
"""ECK's default Kibana memory (1 GiB request = limit); 500m CPU."""
SHIPPER_SKIPS = (
    ("CKV_K8S_23", "reads the node's /var/log (root-owned 0640 container logs): runs as root"),
    ("CKV_K8S_40", "runs as root (UID 0) to read the node's container logs"),
    ("CKV_K8S_38", "add_kubernetes_metadata reads pods and namespaces from the API (its own ServiceAccount)"),
)
"""The log shipper's checkov skips, as annotations on its pod template (components/kube.checkov_skips)."""


def operator_values() -> dict[str, Any]:
    """eck-operator chart values; every key exists in deploy/eck-operator/values.yaml @ v3.5.0."""
    return {
        "installCRDs": True,
        "replicaCount": 1,
        "resources": {"requests": {"cpu": "100m", "memory": "150Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "telemetry": {"disabled": True},
        # Its ServiceMonitor carries no labels key for the MonitoringStack's selector: off.
        "serviceMonitor": {"enabled": False},
        "config": {"validateStorageClass": True},
    }


def _container_security() -> dict[str, Any]:
    return kube.container_security_context(ES_UID, read_only_root=True)


def elasticsearch_spec(plan: LoggingPlan) -> dict[str, Any]:
    """One node set of master+data+ingest nodes, one per Kubernetes node, on the data pool."""
    resources = kube.resources(plan.es_cpu_m, plan.es_memory_gib * 1024)
    heap = f"-Xms{plan.es_heap_gib}g -Xmx{plan.es_heap_gib}g"
    pod_spec: dict[str, Any] = {
        "containers": [{
            "name": "elasticsearch",
            "resources": resources,
            "env": [{"name": "ES_JAVA_OPTS", "value": heap}],
            "securityContext": _container_security(),
        }],
        "securityContext": kube.pod_security_context(ES_UID),
        "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {ES_CLUSTER_LABEL: NAME}},
            "topologyKey": "kubernetes.io/hostname",
        }]}},
        **(data_placement() if plan.data_pool else {}),
    }
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": f"{plan.es_storage_gib}Gi"}},
    }
    if plan.storage_class:
        claim["storageClassName"] = plan.storage_class
    node_set: dict[str, Any] = {
        "name": "default",
        "count": plan.es_nodes,
        "config": {
            "node.roles": ["master", "data", "ingest"],
            # No vm.max_map_count sysctl (a privileged init container): Lucene uses NIO instead of mmap
            # (ECK docs "Virtual memory"; slower on large indices, acceptable for logs).
            "node.store.allow_mmap": False,
        },
        "podTemplate": {"metadata": {"labels": kube.labels(NAME, "logs-store")}, "spec": pod_spec},
        # ECK's default claim name, so the operator grows it in place (it refuses to shrink it).
        "volumeClaimTemplates": [{"metadata": {"name": "elasticsearch-data"}, "spec": claim}],
    }
    if plan.zone_aware:
        # ECK >= 3.4: a DoNotSchedule zone spread (maxSkew 1) and node.attr.zone + allocation awareness
        # (pkg/controller/elasticsearch/nodespec/podspec.go zoneAwarenessSchedulingDirectives @ v3.5.0).
        node_set["zoneAwareness"] = {}
    return {
        "version": plan.es_version,
        "nodeSets": [node_set],
        # ECK's default PDB (Basic): no disruption unless green, at most one node at a time.
    }


def kibana_spec(plan: LoggingPlan) -> dict[str, Any]:
    return {
        "version": plan.es_version,
        "count": plan.kibana_replicas,
        "elasticsearchRef": {"name": NAME},
        "podTemplate": {
            "metadata": {"labels": kube.labels(f"{NAME}-kibana", "logs-ui")},
            "spec": {
                "containers": [{
                    "name": "kibana",
                    "resources": kube.resources(500, KIBANA_MEMORY_MIB),
                    "securityContext": _container_security(),
                }],
                "securityContext": kube.pod_security_context(ES_UID),
            },
        },
    }


def ilm_policy(plan: LoggingPlan) -> dict[str, Any]:
    """Roll over daily (or at 50 GB per primary), delete ``retention_days`` after rollover."""
    return {
        "policy": {
            "phases": {
                "hot": {"min_age": "0ms", "actions": {"rollover": {
                    "max_age": ROLLOVER_MAX_AGE, "max_primary_shard_size": ROLLOVER_MAX_PRIMARY_SHARD,
                }}},
                "delete": {"min_age": f"{plan.retention_days}d", "actions": {"delete": {}}},
            }
        }
    }


def ilm_policy_json(plan: LoggingPlan) -> str:
    return json.dumps(ilm_policy(plan), indent=2, sort_keys=True)


def filebeat_config(plan: LoggingPlan) -> dict[str, Any]:
    """Container logs of this node, Kubernetes metadata, JSON lines decoded into fields (the seeds'
    ``decode_json_fields`` on ``message``), ILM from the mounted policy file."""
    return {
        "filebeat.inputs": [{
            "type": "filestream",
            "id": "kubernetes-container-logs",
            "paths": ["/var/log/containers/*.log"],
            "prospector.scanner.symlinks": True,
            "parsers": [{"container": {}}],
            "processors": [
                {"add_kubernetes_metadata": {
                    "host": "${NODE_NAME}",
                    "matchers": [{"logs_path": {"logs_path": "/var/log/containers/"}}],
                }},
                {"decode_json_fields": {
                    "fields": ["message"], "target": "", "overwrite_keys": True, "add_error_key": True,
                }},
            ],
        }],
        "setup.ilm.enabled": True,
        "setup.ilm.policy_name": ILM_POLICY,
        "setup.ilm.policy_file": f"{ILM_DIR}/{ILM_FILE}",
        "setup.ilm.overwrite": True,
        # One template at every phase: a replica per shard whenever a second node exists, none on one
        # node (auto_expand_replicas follows the node count, so a 1 -> 3 move gains replicas and a
        # 3 -> 1 move can drain), reloaded at every Filebeat start (overwrite).
        "setup.template.overwrite": True,
        "setup.template.settings": {"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"},
    }


def beat_spec(plan: LoggingPlan, service_account: str, ilm_config_map: str) -> dict[str, Any]:
    """Filebeat on every node (every taint tolerated), reading ``/var/log`` read-only. ECK adds its
    ``beat-data`` hostPath (``/var/lib/<namespace>/<name>/filebeat-data``) for the registry."""
    return {
        "type": "filebeat",
        "version": plan.es_version,
        "elasticsearchRef": {"name": NAME, "namespace": NAMESPACE},
        "config": filebeat_config(plan),
        "daemonSet": {"podTemplate": {
            "metadata": {
                "labels": kube.labels(f"{NAME}-filebeat", "log-shipper"),
                "annotations": kube.checkov_skips(*SHIPPER_SKIPS),
            },
            "spec": {
                "serviceAccountName": service_account,
                "automountServiceAccountToken": True,
                "tolerations": [{"operator": "Exists"}],
                "securityContext": {"runAsUser": 0, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": "filebeat",
                    "resources": kube.resources(plan.shipper_cpu_m, plan.shipper_memory_mib),
                    "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "securityContext": {
                        "runAsUser": 0,
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "privileged": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [
                        {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
                        {"name": "ilm", "mountPath": ILM_DIR, "readOnly": True},
                    ],
                }],
                "volumes": [
                    {"name": "varlog", "hostPath": {"path": "/var/log", "type": "Directory"}},
                    {"name": "ilm", "configMap": {"name": ilm_config_map}},
                ],
            },
        }},
    }


def shipper_rules() -> list[dict[str, Any]]:
    """What add_kubernetes_metadata reads (Filebeat's reference manifest filebeat-kubernetes.yaml ClusterRole)."""
    return [
        {"apiGroups": [""], "resources": ["namespaces", "pods", "nodes"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]},
    ]


def network_policies(plan: LoggingPlan) -> dict[str, dict[str, Any]]:
    """Ingress: Elasticsearch's HTTP (9200) from Kibana, the Filebeat namespace and the operator; its
    transport (9300) between its own nodes; Kibana (5601) from the operator only (users port-forward).
    The Filebeat pods take no ingress."""
    from_ns = [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
        for ns in sorted(("elastic-system", "log-shipper"))
    ]
    es = {ES_CLUSTER_LABEL: NAME}
    return {
        "es": {
            "podSelector": {"matchLabels": es},
            "policyTypes": ["Ingress"],
            "ingress": [
                {"from": [{"podSelector": {"matchLabels": {KIBANA_LABEL: NAME}}}, *from_ns],
                 "ports": [{"protocol": "TCP", "port": 9200}]},
                {"from": [{"podSelector": {"matchLabels": es}}], "ports": [{"protocol": "TCP", "port": 9300}]},
            ],
        },
        "kibana": {
            "podSelector": {"matchLabels": {KIBANA_LABEL: NAME}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [from_ns[0]], "ports": [{"protocol": "TCP", "port": 5601}]}],
        },
    }


def shipper_network_policy() -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {BEAT_LABEL: NAME}}, "policyTypes": ["Ingress"], "ingress": []}


def kibana_pdb() -> dict[str, Any]:
    """With two or more Kibana instances: one at a time may go (ECK makes no Kibana PDB)."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": {KIBANA_LABEL: NAME}}}
