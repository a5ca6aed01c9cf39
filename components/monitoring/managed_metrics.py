"""Rules on the metrics Google Cloud Monitoring keeps for managed services, read into Prometheus by
stackdriver_exporter (pure: no Pulumi imports): Memorystore for Redis **Cluster** (IAM auth, which
redis_exporter cannot send) and Cloud Run services.

Metric types, kinds and labels: Google Cloud "Google Cloud metrics" list
(cloud.google.com/monitoring/api/metrics_gcp_p_z), sections ``redis`` and ``run``:

- ``redis.googleapis.com/cluster/memory/maximum_utilization``: GAUGE DOUBLE 0.0-1.0, resource
  ``redis.googleapis.com/Cluster`` (labels ``cluster_id``, ``location``), "Maximum memory utilization
  across the cluster"; sampled every 60 s, visible after up to 300 s;
- ``redis.googleapis.com/cluster/node/stats/keyspace_{hits,misses}_count``: DELTA INT64, resource
  ``redis.googleapis.com/ClusterNode``, label ``role``;
- ``run.googleapis.com/request_count``: DELTA INT64, labels ``response_code``, ``response_code_class``
  (``2xx`` ... ``5xx``); ``run.googleapis.com/request_latencies``: DELTA DISTRIBUTION in **ms**;
  ``run.googleapis.com/container/instance_count``: GAUGE INT64, label ``state`` (active, idle); resource
  ``cloud_run_revision`` (labels ``service_name``, ``revision_name``, ``location``); visible after up to 120 s.

How the exporter names and types them (prometheus-community/stackdriver_exporter v0.19.0):
``collectors/monitoring_metrics.go`` ``buildFQName`` = ``stackdriver_`` + the normalised monitored
resource type + ``_`` + the normalised metric type, where ``normalizeMetricName`` splits at case changes
and punctuation (``fatih/camelcase``), lower-cases and joins the words with ``_``; labels are ``unit``,
the metric's labels and the resource's labels (``collectors/monitoring_collector.go``
``reportTimeSeriesMetrics``); GAUGE is a gauge, DELTA a counter with ``--monitoring.aggregate-deltas``
(``delta/counter.go`` adds each newer point), DISTRIBUTION a histogram with cumulative ``_bucket``
series (``generateHistogramBuckets``), so ``rate()`` and ``histogram_quantile`` apply as usual.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.monitoring.thresholds import CACHE_MISS, REDIS_MEMORY, AlertThresholds, duration

CACHE_GROUP = "phasescale.cache"
"""The in-cluster / redis_exporter cache group of ``alert_rules``, replaced on Memorystore Cluster."""
CLOUD_RUN_GROUP = "phasescale.cloudrun"

REDIS_CLUSTER = "redis.googleapis.com/Cluster"
REDIS_NODE = "redis.googleapis.com/ClusterNode"
CLOUD_RUN = "cloud_run_revision"
MEMORY_MAX_UTILIZATION = "redis.googleapis.com/cluster/memory/maximum_utilization"
KEYSPACE_HITS = "redis.googleapis.com/cluster/node/stats/keyspace_hits_count"
KEYSPACE_MISSES = "redis.googleapis.com/cluster/node/stats/keyspace_misses_count"
RUN_REQUESTS = "run.googleapis.com/request_count"
RUN_LATENCIES = "run.googleapis.com/request_latencies"
RUN_INSTANCES = "run.googleapis.com/container/instance_count"

CACHE_METRIC_TYPES = (MEMORY_MAX_UTILIZATION, KEYSPACE_HITS, KEYSPACE_MISSES)
CLOUD_RUN_METRIC_TYPES = (RUN_REQUESTS, RUN_LATENCIES, RUN_INSTANCES)

CLOUD_RUN_P95_S = 0.5
"""Cloud Run p95 alert: 000's thresholds table, p95 warning at 500 ms (the in-cluster HighLatency reads
the p99 of the services' own histogram, which Cloud Run does not export; its distribution gives p95)."""

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def normalize(text: str) -> str:
    """The exporter's ``normalizeMetricName``: words at case changes and punctuation, lower case, ``_``."""
    return "_".join(w.lower() for w in _WORD.findall(text))


def prometheus_name(resource_type: str, metric_type: str, suffix: str = "") -> str:
    """``stackdriver_<resource type>_<metric type>`` as the exporter renders it (``_bucket`` etc. via ``suffix``)."""
    return f"stackdriver_{normalize(resource_type)}_{normalize(metric_type)}{suffix}"


MEMORY = prometheus_name(REDIS_CLUSTER, MEMORY_MAX_UTILIZATION)
HITS = prometheus_name(REDIS_NODE, KEYSPACE_HITS)
MISSES = prometheus_name(REDIS_NODE, KEYSPACE_MISSES)
REQUESTS = prometheus_name(CLOUD_RUN, RUN_REQUESTS)
LATENCY_BUCKETS = prometheus_name(CLOUD_RUN, RUN_LATENCIES, "_bucket")
INSTANCES = prometheus_name(CLOUD_RUN, RUN_INSTANCES)
PRODUCED = frozenset({MEMORY, HITS, MISSES, REQUESTS, LATENCY_BUCKETS, INSTANCES})
"""Every series name the rules of this module read (the metric producer registry's entry)."""


@dataclass(frozen=True)
class CloudRunAlertSpec:
    """One Cloud Run service of the region: its name, location and instance bounds."""

    service: str
    location: str
    min_instances: int
    max_instances: int


@dataclass(frozen=True)
class ManagedSources:
    """What the region's stackdriver_exporter reads: the Memorystore cluster (its ``cluster_id``) and
    the Cloud Run services, all in ``location``."""

    location: str | None = None
    memorystore_cluster: str | None = None
    cloud_run: tuple[CloudRunAlertSpec, ...] = ()

    @property
    def needed(self) -> bool:
        return self.memorystore_cluster is not None or bool(self.cloud_run)

    @property
    def metric_types(self) -> tuple[str, ...]:
        """``--monitoring.metrics-prefixes``: exactly the metric types the rules read."""
        out: tuple[str, ...] = ()
        if self.memorystore_cluster is not None:
            out += CACHE_METRIC_TYPES
        if self.cloud_run:
            out += CLOUD_RUN_METRIC_TYPES
        return out

    @property
    def filters(self) -> tuple[str, ...]:
        """``--monitoring.filters`` (``<metric prefix>:<filter>``, README "Using filters"): this region's
        cluster and services only, so two regions (or stacks) sharing the project never read each other's."""
        out: list[str] = []
        if self.memorystore_cluster is not None:
            # cluster_id only: ClusterNode's ``location`` need not be the region (a node sits in a zone),
            # and the id (``<stack>-<region>-redis``) is unique in the project.
            out.append(f'redis.googleapis.com/cluster:resource.labels.cluster_id="{self.memorystore_cluster}"')
        if self.cloud_run:
            names = "|".join(sorted(s.service for s in self.cloud_run))  # DNS labels: nothing to escape
            out.append(f'run.googleapis.com:resource.labels.location="{self.location}" '
                       f'AND resource.labels.service_name=monitoring.regex.full_match("{names}")')  # fmt: skip
        return tuple(out)


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _rule(
    t: AlertThresholds, runbook: str | None, name: str, expr: str, for_s: int, severity: str, summary: str,
    description: str, labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """An alert shaped like ``alert_rules._Alerts`` builds them (labels, annotations, runbook)."""
    rule: dict[str, Any] = {"alert": name, "expr": expr, "for": duration(for_s),
                            "labels": {"severity": severity, **(labels or {})},
                            "annotations": {"summary": summary, "description": description}}  # fmt: skip
    if runbook:
        rule["annotations"]["runbook_url"] = f"{runbook.rstrip('/')}/{name.lower()}"
    return rule


def signals(src: ManagedSources, rate_window_s: int) -> dict[str, str]:
    """The cache trigger signals on Memorystore Cluster (one unlabelled series each)."""
    sel = _sel(cluster_id=src.memorystore_cluster or "")
    w = duration(rate_window_s)
    return {
        REDIS_MEMORY: f"max({MEMORY}{sel})",
        CACHE_MISS: f"sum(rate({MISSES}{sel}[{w}])) / (sum(rate({HITS}{sel}[{w}])) + sum(rate({MISSES}{sel}[{w}])))",
    }


def cache_group(t: AlertThresholds, src: ManagedSources, runbook: str | None = None) -> dict[str, Any]:
    """CacheScaleUpNeeded from the cluster's maximum memory utilisation (the busiest node)."""
    sel = _sel(cluster_id=src.memorystore_cluster or "")
    return {"name": CACHE_GROUP, "rules": [
        _rule(t, runbook, "CacheScaleUpNeeded",
              f"max by (location, cluster_id) ({MEMORY}{sel}) > {t.cache_memory_ratio:g}",
              t.cache_memory_for_s, "warning",
              f"Memorystore cluster memory above {t.cache_memory_ratio:.0%} on its fullest node",
              "Memorystore cluster {{ $labels.location }}/{{ $labels.cluster_id }} uses {{ $value | humanizePercentage }} "
              "of a node's memory; add shards or move up a phase."),
    ]}  # fmt: skip


def cloud_run_group(
    t: AlertThresholds, services: Sequence[CloudRunAlertSpec], runbook: str | None = None
) -> dict[str, Any]:
    """Per service: the 5xx share of requests, the p95 latency from the latency distribution's buckets
    (ms), and instances at the service's max instances (only when it can scale)."""
    w = duration(t.rate_window_s)
    rules = []
    for s in sorted(services, key=lambda x: x.service):
        sel = _sel(location=s.location, service_name=s.service)
        five = sel[:-1] + ',response_code_class="5xx"}'
        where = f"Cloud Run {s.location}/{s.service}"
        label = {"service": s.service}
        p95_ms = CLOUD_RUN_P95_S * 1000
        rules += [
            _rule(t, runbook, "CloudRunHighErrorRate",
                  f"sum by (service_name) (rate({REQUESTS}{five}[{w}])) / sum by (service_name) (rate({REQUESTS}{sel}[{w}]))"
                  f" > {t.error_ratio:g}",
                  t.error_for_s, "critical", f"{s.service} (Cloud Run) answers more than {t.error_ratio:.0%} with 5xx",
                  f"{{{{ $value | humanizePercentage }}}} of {where} requests failed with 5xx over {w}.", label),
            _rule(t, runbook, "CloudRunHighLatency",
                  f"histogram_quantile(0.95, sum by (service_name, le) (rate({LATENCY_BUCKETS}{sel}[{w}]))) > {p95_ms:g}",
                  t.latency_for_s, "warning", f"{s.service} (Cloud Run) p95 latency is above {p95_ms:g} ms",
                  f"{where} p95 request latency is {{{{ $value | humanize }}}} ms over {w}.", label),
        ]  # fmt: skip
        if s.max_instances > s.min_instances:
            rules.append(_rule(
                t, runbook, "CloudRunMaxedOut", f"sum by (service_name) ({INSTANCES}{sel}) >= {s.max_instances}",
                t.hpa_maxed_out_for_s, "warning", f"{s.service} (Cloud Run) runs at its maximum instances",
                f"{where} has run {{{{ $value }}}} instances, its maximum ({s.max_instances}), for "
                f"{duration(t.hpa_maxed_out_for_s)}; raise max instances or move up a phase.", label,
            ))  # fmt: skip
    return {"name": CLOUD_RUN_GROUP, "rules": rules}


def adapt(
    groups: list[dict[str, Any]], t: AlertThresholds, src: ManagedSources, runbook: str | None = None
) -> list[dict[str, Any]]:
    """The stack's rule groups with the managed sources: on Memorystore Cluster the cache group and the
    cache signals of the phase group read the exporter's series; Cloud Run services add their group."""
    out = []
    for g in groups:
        if src.memorystore_cluster is not None:
            if g["name"] == CACHE_GROUP:
                g = cache_group(t, src, runbook)
            else:
                sig = signals(src, t.rate_window_s)
                g = {**g, "rules": [{**r, "expr": sig[r["record"]]} if r.get("record") in sig else r
                                    for r in g["rules"]]}  # fmt: skip
        out.append(g)
    if src.cloud_run:
        out.append(cloud_run_group(t, src.cloud_run, runbook))
    return out
