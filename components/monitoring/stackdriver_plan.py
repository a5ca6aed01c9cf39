"""Pure planning for StackdriverExporter (no Pulumi imports): prometheus-community/stackdriver_exporter
as one hardened Deployment in the monitoring namespace, reading the Cloud Monitoring metrics of the
region's Memorystore cluster and Cloud Run services (``managed_metrics.ManagedSources``), its
ServiceAccount (workload identity), Service, NetworkPolicy and ServiceMonitor.

Flags (stackdriver_exporter v0.19.0 README "Flags" and ``stackdriver_exporter.go``; defaults in
``config/config.go``):

- ``--google.project-ids``: the stack's project only (default: auto-discovery);
- ``--monitoring.metrics-prefixes`` (repeatable): exactly the metric types the rules read, so each scrape
  lists a handful of descriptors, not a whole service's;
- ``--monitoring.filters`` (``<prefix>:<filter>``, README "Using filters"): this region's cluster and services;
- ``--monitoring.metrics-interval=10m`` (default 5m): the window each scrape asks for; "only the most
  recent data point is used", and Memorystore Cluster's points become visible up to 300 s after their
  60 s sample (Cloud Run's 120 s), so a 5 m window can hold no visible point yet: 10 m always holds one;
- ``--monitoring.metrics-offset=0s`` (the default, kept): the offset moves the window into the past "to
  handle latency in published metrics", but as only the newest point is used, an offset could only
  return an older one; the window above already covers the publication lag;
- ``--monitoring.aggregate-deltas``: DELTA metrics (request counts, latency distributions, keyspace hits)
  become counters and cumulative histograms, so ``rate()`` works (README "What to know about
  Aggregating DELTA Metrics": as gauges they are "wildly inaccurate"); ``--monitoring.aggregate-deltas-ttl``
  keeps its 30 m default (a Cloud Run service without traffic keeps its counter instead of restarting it);
- ``--monitoring.descriptor-cache-ttl=1h`` (default 0s: every scrape lists the descriptors again): a metric
  type's descriptor does not change, so each scrape makes one time-series call per metric type instead of two;
- ``--stackdriver.max-retries=3`` with the default retry status 503 and backoff.

The ServiceMonitor scrapes every 60 s (the metrics' sample period: a faster scrape returns the same
point and spends API quota) with ``honorTimestamps: false``: the exporter stamps each sample with its
point's end time (``NewMetricWithTimestamp``), minutes old, which Prometheus' 5 m lookback would drop, and
with aggregated deltas the README warns of rejected samples when timestamps are honoured.
Image: ``USER nobody`` (65534) and port 9255 (``Dockerfile``); ``/`` is its landing page (the chart's probes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components import kube
from components.monitoring.managed_metrics import ManagedSources

NAME = "stackdriver-exporter"
COMPONENT = "stackdriver-exporter"
PORT = 9255
PORT_NAME = "metrics"
UID = 65534
SCRAPE_INTERVAL = "60s"
SCRAPE_TIMEOUT = "50s"
METRICS_INTERVAL = "10m"
METRICS_OFFSET = "0s"
DESCRIPTOR_CACHE_TTL = "1h"
MAX_RETRIES = 3
IAM_ROLE = "roles/monitoring.viewer"
"""README "Credentials and Permissions": ``roles/monitoring.viewer`` contains the required permissions."""


@dataclass(frozen=True)
class StackdriverPlan:
    project: str
    sources: ManagedSources
    image: str
    namespace: str = "monitoring"
    monitor_labels: Mapping[str, str] = field(default_factory=lambda: {"release": "monitoring"})

    @property
    def labels(self) -> dict[str, str]:
        return kube.labels(NAME, COMPONENT)

    @property
    def selector(self) -> dict[str, str]:
        return {**kube.selector(NAME), "app.kubernetes.io/component": COMPONENT}


def args(plan: StackdriverPlan) -> list[str]:
    out = [f"--google.project-ids={plan.project}"]
    out += [f"--monitoring.metrics-prefixes={m}" for m in plan.sources.metric_types]
    out += [f"--monitoring.filters={f}" for f in plan.sources.filters]
    return [
        *out,
        f"--monitoring.metrics-interval={METRICS_INTERVAL}",
        f"--monitoring.metrics-offset={METRICS_OFFSET}",
        "--monitoring.aggregate-deltas",
        f"--monitoring.descriptor-cache-ttl={DESCRIPTOR_CACHE_TTL}",
        f"--stackdriver.max-retries={MAX_RETRIES}",
        f"--web.listen-address=:{PORT}",
    ]


def deployment_spec(plan: StackdriverPlan) -> dict[str, object]:
    probe = {"httpGet": {"path": "/", "port": PORT_NAME}, "periodSeconds": 20, "timeoutSeconds": 5}
    return {
        "replicas": 1,
        "selector": {"matchLabels": plan.selector},
        "template": {
            "metadata": {"labels": plan.labels},
            "spec": {
                "serviceAccountName": NAME,
                # The GKE metadata server answers the pod's token requests for its ServiceAccount;
                # the pod itself never calls the Kubernetes API (as the Redis backup job).
                "automountServiceAccountToken": False,
                "securityContext": kube.pod_security_context(UID),
                "containers": [{
                    "name": NAME,
                    "image": plan.image,
                    "imagePullPolicy": "IfNotPresent",
                    "args": args(plan),
                    "ports": [{"name": PORT_NAME, "containerPort": PORT, "protocol": "TCP"}],
                    "resources": kube.resources(50, 64, 200, 128),
                    "securityContext": kube.container_security_context(UID),
                    "livenessProbe": probe,
                    "readinessProbe": probe,
                }],
            },
        },
    }  # fmt: skip


def service_spec(plan: StackdriverPlan) -> dict[str, object]:
    return {
        "selector": plan.selector,
        "ports": [{"name": PORT_NAME, "port": PORT, "targetPort": PORT_NAME, "protocol": "TCP"}],
    }


def network_policy_spec(plan: StackdriverPlan) -> dict[str, object]:
    """Only Prometheus (same namespace) reaches the exporter, on its port."""
    spec = kube.network_policy_spec(NAME, PORT, [], {"prometheus": plan.namespace})
    spec["podSelector"] = {"matchLabels": plan.selector}
    return spec


def service_monitor(plan: StackdriverPlan) -> dict[str, object]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": NAME, "namespace": plan.namespace, "labels": {**plan.labels, **plan.monitor_labels}},
        "spec": {
            "selector": {"matchLabels": plan.selector},
            "namespaceSelector": {"matchNames": [plan.namespace]},
            "endpoints": [{"port": PORT_NAME, "interval": SCRAPE_INTERVAL, "scrapeTimeout": SCRAPE_TIMEOUT,
                           "honorTimestamps": False}],
        },
    }  # fmt: skip


def account_id(cluster_name: str) -> str:
    """The Google service account id: 6-30 characters, from the cluster name (unique per stack and region)."""
    base = f"{cluster_name}-metrics"
    return base if len(base) <= 30 else f"{base[:21].rstrip('-')}-metrics"
