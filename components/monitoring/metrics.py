"""Which scrape produces which metric names, and which names a rule or a KEDA trigger reads (pure).

The registry ``PRODUCES`` lists, per producer, the series the stack's rules (``alert_rules``) and the
services' KEDA triggers read, with where each name is defined. ``producers(manifests, releases, services)``
finds the producers a plan really deploys (a ServiceMonitor / PodMonitor, or a chart's scrape switched
on); ``unproduced(...)`` names every metric a rule or trigger reads that nothing deployed produces, so
an alert that could never fire (no exporter for a managed database, GPU rules without a GPU pool) is
a test failure instead of a silent gap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from components.monitoring import managed_metrics


class Producer(StrEnum):
    SERVICES = "services"
    """The stack's API services (their ServiceMonitors): the README's metric contract."""
    KUBE_STATE_METRICS = "kube-state-metrics"
    NODE_EXPORTER = "node-exporter"
    KUBELET = "kubelet"
    CNPG = "cnpg"
    POSTGRES_EXPORTER = "postgres-exporter"
    REDIS_EXPORTER = "redis-exporter"
    DCGM = "dcgm-exporter"
    VLLM = "vllm"
    STACKDRIVER = "stackdriver-exporter"
    """Cloud Monitoring's metrics of Memorystore Cluster and Cloud Run (``managed_metrics``)."""
    LOKI = "loki"
    ALLOY = "alloy"
    KAFKA_EXPORTER = "kafka-exporter"
    RABBITMQ = "rabbitmq"


PRODUCES: Mapping[Producer, frozenset[str]] = {
    # README "Services are expected to export ..." plus the product KPIs (alert_rules module docstring).
    Producer.SERVICES: frozenset({
        "http_requests_total", "http_request_duration_seconds_bucket", "app_concurrent_users", "app_queue_length",
        "phasescale_users_registered", "phasescale_daily_active_users", "phasescale_revenue_usd_30d",
        "phasescale_infra_cost_usd_30d", "phasescale_paid_conversion_ratio", "phasescale_churn_ratio_30d",
        "phasescale_nps",
    }),
    # kube-state-metrics docs/metrics/workload/horizontalpodautoscaler-metrics.md
    Producer.KUBE_STATE_METRICS: frozenset({
        "kube_horizontalpodautoscaler_status_current_replicas", "kube_horizontalpodautoscaler_status_desired_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas", "kube_horizontalpodautoscaler_spec_min_replicas",
    }),
    # node_exporter collector/netdev_common.go: node_network_<stat>_total; cpu_linux.go: node_cpu_seconds_total;
    # meminfo.go: node_memory_<field>_bytes (NodeCPUHigh / NodeMemoryHigh, when a stack gives them a level)
    Producer.NODE_EXPORTER: frozenset({"node_network_receive_bytes_total", "node_network_transmit_bytes_total",
                                       "node_cpu_seconds_total", "node_memory_MemAvailable_bytes",
                                       "node_memory_MemTotal_bytes"}),
    # kubelet pkg/kubelet/metrics/collectors/volume_stats.go
    Producer.KUBELET: frozenset({"kubelet_volume_stats_used_bytes", "kubelet_volume_stats_capacity_bytes"}),
    # CloudNativePG docs "Monitoring": predefined metrics of the instance manager (cnpg_ prefix)
    Producer.CNPG: frozenset({
        "cnpg_backends_total", "cnpg_pg_settings_setting", "cnpg_pg_stat_database_xact_commit",
        "cnpg_pg_stat_database_xact_rollback", "cnpg_pg_replication_lag",
    }),
    # prometheus-community/postgres_exporter collector/: pg_stat_activity (count), pg_settings,
    # pg_stat_database (xact_commit, xact_rollback), replication (pg_replication_lag_seconds)
    Producer.POSTGRES_EXPORTER: frozenset({
        "pg_stat_activity_count", "pg_settings_max_connections", "pg_stat_database_xact_commit",
        "pg_stat_database_xact_rollback", "pg_replication_lag_seconds", "pg_up",
    }),
    # oliver006/redis_exporter exporter/info.go (INFO memory / stats / keyspace)
    Producer.REDIS_EXPORTER: frozenset({
        "redis_memory_used_bytes", "redis_memory_max_bytes", "redis_keyspace_hits_total",
        "redis_keyspace_misses_total", "redis_up",
    }),
    # NVIDIA dcgm-exporter etc/default-counters.csv
    Producer.DCGM: frozenset({"DCGM_FI_DEV_GPU_UTIL"}),
    # vLLM docs "Production metrics" (vllm: prefix)
    Producer.VLLM: frozenset({
        "vllm:num_requests_waiting", "vllm:request_queue_time_seconds_sum",
        "vllm:request_queue_time_seconds_count", "vllm:request_queue_time_seconds_bucket",
        "vllm:e2e_request_latency_seconds_sum", "vllm:e2e_request_latency_seconds_count",
    }),
    # prometheus-community/stackdriver_exporter collectors/monitoring_metrics.go buildFQName (managed_metrics)
    Producer.STACKDRIVER: managed_metrics.PRODUCED,
    # grafana/loki pkg/util/server instrumentation (the mixin's LokiRequestErrors reads it), Loki chart ServiceMonitor
    Producer.LOKI: frozenset({"loki_request_duration_seconds_count"}),
    # grafana/alloy internal/component/common/loki/client/metrics.go (loki.write), Alloy chart ServiceMonitor
    Producer.ALLOY: frozenset({"loki_write_dropped_entries_total"}),
    # Strimzi's Kafka Exporter (danielqsj/kafka_exporter: kafka_topic_partition_*, kafka_consumergroup_lag),
    # the series the release's prometheus-kafka-exporter-topic-rules-group.yaml reads
    Producer.KAFKA_EXPORTER: frozenset({
        "kafka_topic_partition_under_replicated_partition", "kafka_topic_partition_in_sync_replica",
        "kafka_topic_partition_replicas", "kafka_consumergroup_lag",
    }),
    # rabbitmq_prometheus: /metrics (rabbitmq_alarms_*) and /metrics/detailed?family=queue_coarse_metrics
    # (rabbitmq_detailed_queue_messages*), as cluster-operator observability/prometheus/rules read them
    Producer.RABBITMQ: frozenset({
        "rabbitmq_alarms_memory_used_watermark", "rabbitmq_detailed_queue_messages_ready",
        "rabbitmq_detailed_queue_messages",
    }),
}  # fmt: skip

_KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                       "bool", "offset", "inf", "nan"})  # fmt: skip
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w:.])[A-Za-z_:][\w:]*")


def metric_names(expr: str) -> set[str]:
    """The metric (and recorded series) names a PromQL expression selects."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    text = re.sub(r"\boffset\s+\w+", "", text)
    names = set()
    for m in _NAME.finditer(text):
        is_call = text[m.end():].lstrip().startswith("(")
        if not is_call and m.group().lower() not in _KEYWORDS:
            names.add(m.group())
    return names


def _selector(monitor: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = monitor.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return labels


def _ports(monitor: dict[str, Any]) -> set[str]:
    spec = monitor.get("spec", {})
    return {e.get("port", "") for e in [*spec.get("endpoints", []), *spec.get("podMetricsEndpoints", [])]}


def producers(
    manifests: Iterable[dict[str, Any]], releases: Iterable[dict[str, Any]], services: Iterable[str]
) -> set[Producer]:
    """The producers of one cluster: its monitors and its charts' switched-on scrapes."""
    found: set[Producer] = set()
    names = set(services)
    for obj in manifests:
        if obj.get("kind") not in ("ServiceMonitor", "PodMonitor"):
            continue
        sel, ports = _selector(obj), _ports(obj)
        component = sel.get("app.kubernetes.io/component")
        if str(sel.get("strimzi.io/name", "")).endswith("-kafka-exporter"):
            found.add(Producer.KAFKA_EXPORTER)
        elif component == "rabbitmq" and "prometheus" in ports:
            found.add(Producer.RABBITMQ)
        elif "cnpg.io/cluster" in sel and sel.get("cnpg.io/podRole") == "instance":
            found.add(Producer.CNPG)
        elif "redis-exporter" in ports or component == "redis-exporter":
            found.add(Producer.REDIS_EXPORTER)
        elif component == "stackdriver-exporter":
            found.add(Producer.STACKDRIVER)
        elif component == "postgres-exporter":
            found.add(Producer.POSTGRES_EXPORTER)
        elif sel.get("app.kubernetes.io/name") == "vllm":
            found.add(Producer.VLLM)
        elif sel.get("app.kubernetes.io/name") in names:
            found.add(Producer.SERVICES)
    for rel in releases:
        values = rel.get("values", {})
        if rel.get("chart") == "dcgm-exporter" and values.get("serviceMonitor", {}).get("enabled"):
            found.add(Producer.DCGM)
        if rel.get("chart") == "loki" and values.get("monitoring", {}).get("serviceMonitor", {}).get("enabled"):
            found.add(Producer.LOKI)
        if rel.get("chart") == "alloy" and values.get("serviceMonitor", {}).get("enabled"):
            found.add(Producer.ALLOY)
        if rel.get("chart") == "kube-prometheus-stack":
            if values.get("kubelet", {}).get("enabled", True):
                found.add(Producer.KUBELET)
            if values.get("nodeExporter", {}).get("enabled", True):
                found.add(Producer.NODE_EXPORTER)
            if values.get("kubeStateMetrics", {}).get("enabled", True):
                found.add(Producer.KUBE_STATE_METRICS)
    return found


def unproduced(
    groups: Iterable[dict[str, Any]], keda_queries: Mapping[str, str], found: Iterable[Producer]
) -> list[str]:
    """``"<rule or trigger>: <metric>"`` for every name read that no producer in ``found`` and no
    recording rule of ``groups`` produces."""
    rules = [r for g in groups for r in g["rules"]]
    produced = {r["record"] for r in rules if "record" in r}
    for p in found:
        produced |= PRODUCES[p]
    out = []
    for r in rules:
        for name in sorted(metric_names(r["expr"]) - produced):
            out.append(f"{r.get('alert') or r.get('record')}: {name}")
    for where, query in sorted(keda_queries.items()):
        for name in sorted(metric_names(query) - produced):
            out.append(f"{where}: {name}")
    return sorted(set(out))
