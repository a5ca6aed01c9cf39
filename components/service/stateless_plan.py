"""Pure planning for StatelessService: the Kubernetes specs of one service, as plain dicts.

Autoscaling rule: CPU and memory alone -> a plain ``autoscaling/v2`` HPA. Any custom metric
(requests per second, concurrent users, queue length) or scale-to-zero -> a KEDA ScaledObject,
which creates and owns the HPA (CPU and memory become KEDA triggers, so there is one HPA only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from components import kube
from components.problems import Problem

HPA_API = "autoscaling/v2"
KEDA_API = "keda.sh/v1alpha1"


class Scaled(Protocol):
    """What the autoscaler's behaviour and the env need of a plan (services and workers alike)."""

    @property
    def scale_down_stabilization_s(self) -> int: ...
    @property
    def env(self) -> tuple[tuple[str, str], ...]: ...
    @property
    def secret_env(self) -> tuple[tuple[str, str, str], ...]: ...


@dataclass(frozen=True)
class CustomMetric:
    """A Prometheus-backed scaling signal: scale so that ``query / replicas`` stays under target."""

    name: str
    query: str
    target_per_pod: int


@dataclass(frozen=True)
class ServicePlan:
    """Everything that decides the objects of one stateless service on Kubernetes."""

    name: str
    namespace: str
    image: str
    port: int
    min_replicas: int
    max_replicas: int
    cpu_percent: int | None = 70
    memory_percent: int | None = None
    custom_metrics: tuple[CustomMetric, ...] = ()
    scale_to_zero: bool = False
    scale_down_stabilization_s: int = 300
    cpu_m: int = 250
    memory_mib: int = 512
    cpu_limit_m: int | None = None
    memory_limit_mib: int | None = None
    callers: tuple[str, ...] = ()
    caller_namespaces: dict[str, str] = field(default_factory=dict)
    health_path: str = "/healthz"
    ready_path: str = "/ready"
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, str, str], ...] = ()
    """``(var, Secret, key)``: connection settings read with ``secretKeyRef`` (database, cache)."""

    @property
    def uses_keda(self) -> bool:
        return bool(self.custom_metrics) or self.scale_to_zero

    @property
    def wants_pdb(self) -> bool:
        """A PDB only makes sense when the service can run two or more replicas."""
        return self.max_replicas >= 2


def custom_metrics(
    service: str,
    namespace: str,
    rps_per_pod: int | None,
    concurrent_users_per_pod: int | None,
    queue_length_per_pod: int | None,
) -> tuple[CustomMetric, ...]:
    """The seeds' custom signals as Prometheus queries over the metrics every service exports:
    ``http_requests_total``, ``app_concurrent_users`` and ``app_queue_length`` (see README)."""
    sel = f'namespace="{namespace}",service="{service}"'
    out = []
    if rps_per_pod:
        out.append(CustomMetric("rps", f"sum(rate(http_requests_total{{{sel}}}[2m]))", rps_per_pod))
    if concurrent_users_per_pod:
        out.append(
            CustomMetric("concurrent-users", f"sum(app_concurrent_users{{{sel}}})", concurrent_users_per_pod)
        )
    if queue_length_per_pod:
        out.append(CustomMetric("queue-length", f"sum(app_queue_length{{{sel}}})", queue_length_per_pod))
    return tuple(out)


def validate(plan: ServicePlan, path: str) -> list[Problem]:
    """Problems with one service's scaling, reported against its config ``path``."""
    problems = []
    if plan.min_replicas > plan.max_replicas:
        problems.append(
            Problem(f"{path}.replicas", {"min": plan.min_replicas, "max": plan.max_replicas},
                    "min must not be above max")
        )
    if plan.min_replicas == 0 and not plan.scale_to_zero:
        problems.append(
            Problem(f"{path}.replicas.min", 0,
                    "0 needs autoscaling.scaleToZero: true (KEDA scales to zero); else 1 or more")
        )
    if plan.scale_to_zero and plan.min_replicas != 0:
        problems.append(
            Problem(f"{path}.autoscaling.scaleToZero", True,
                    f"needs replicas.min 0 (got {plan.min_replicas})")
        )
    if plan.scale_to_zero and not plan.custom_metrics:
        problems.append(
            Problem(f"{path}.autoscaling.scaleToZero", True,
                    "needs a custom metric (rpsPerPod, concurrentUsersPerPod or queueLengthPerPod): "
                    "CPU and memory cannot wake a service from zero")
        )
    if not (plan.cpu_percent or plan.memory_percent or plan.custom_metrics):
        problems.append(
            Problem(f"{path}.autoscaling", None,
                    "at least one of cpuPercent, memoryPercent, rpsPerPod, concurrentUsersPerPod, "
                    "queueLengthPerPod")
        )
    return problems


def behavior(plan: Scaled) -> dict[str, object]:
    """Scale up fast (double or +4 pods a minute), scale down slowly after a stabilisation window
    (the seeds' 5-minute scale-down delay), at most half the pods a minute."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Percent", "value": 100, "periodSeconds": 60},
                {"type": "Pods", "value": 4, "periodSeconds": 60},
            ],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": plan.scale_down_stabilization_s,
            "selectPolicy": "Min",
            "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
        },
    }


def _resource_metric(resource: str, percent: int) -> dict[str, object]:
    return {
        "type": "Resource",
        "resource": {"name": resource, "target": {"type": "Utilization", "averageUtilization": percent}},
    }


def hpa_spec(plan: ServicePlan) -> dict[str, object]:
    metrics = []
    if plan.cpu_percent:
        metrics.append(_resource_metric("cpu", plan.cpu_percent))
    if plan.memory_percent:
        metrics.append(_resource_metric("memory", plan.memory_percent))
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name},
        "minReplicas": plan.min_replicas,
        "maxReplicas": plan.max_replicas,
        "metrics": metrics,
        "behavior": behavior(plan),
    }


def scaled_object_spec(plan: ServicePlan, prometheus_url: str) -> dict[str, object]:
    triggers: list[dict[str, object]] = []
    if plan.cpu_percent:
        triggers.append({"type": "cpu", "metricType": "Utilization", "metadata": {"value": str(plan.cpu_percent)}})
    if plan.memory_percent:
        triggers.append(
            {"type": "memory", "metricType": "Utilization", "metadata": {"value": str(plan.memory_percent)}}
        )
    for metric in plan.custom_metrics:
        triggers.append(
            {
                "type": "prometheus",
                "name": metric.name,
                "metricType": "AverageValue",
                "metadata": {
                    "serverAddress": prometheus_url,
                    "query": metric.query,
                    "threshold": str(metric.target_per_pod),
                },
            }
        )
    spec: dict[str, object] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name},
        "minReplicaCount": plan.min_replicas,
        "maxReplicaCount": plan.max_replicas,
        "pollingInterval": 15,
        "advanced": {
            "horizontalPodAutoscalerConfig": {"name": plan.name, "behavior": behavior(plan)},
        },
        "triggers": triggers,
    }
    if plan.scale_to_zero:
        spec["cooldownPeriod"] = plan.scale_down_stabilization_s
    return spec


def env_of(plan: Scaled) -> list[dict[str, object]]:
    """Plain values first, then every connection setting from its Secret (never a plain value)."""
    out: list[dict[str, object]] = [{"name": k, "value": v} for k, v in plan.env]
    out += [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
        for var, secret, key in plan.secret_env
    ]
    return out


def deployment_spec(plan: ServicePlan, service_account: str) -> dict[str, object]:
    """Replicas are left to the autoscaler (no ``replicas`` field), so a deploy never resets them."""
    container = {
        "name": plan.name,
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": plan.port, "protocol": "TCP"}],
        "env": env_of(plan),
        "resources": kube.resources(plan.cpu_m, plan.memory_mib, plan.cpu_limit_m, plan.memory_limit_mib),
        "securityContext": kube.container_security_context(),
        "startupProbe": {
            "httpGet": {"path": plan.health_path, "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 30,
        },
        "livenessProbe": {
            "httpGet": {"path": plan.health_path, "port": "http"},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": plan.ready_path, "port": "http"},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if not container["env"]:
        del container["env"]
    return kube.deployment_spec(plan.name, kube.labels(plan.name, "api", {"service": plan.name}), service_account, container)


def service_spec(plan: ServicePlan) -> dict[str, object]:
    return {
        "type": "ClusterIP",
        "selector": kube.selector(plan.name),
        "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
    }


def pdb_spec(plan: ServicePlan) -> dict[str, object]:
    """One pod at a time may be evicted: node drains proceed, capacity never drops by more."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": kube.selector(plan.name)}}


def network_policy_spec(plan: ServicePlan) -> dict[str, object]:
    return kube.network_policy_spec(plan.name, plan.port, list(plan.callers), plan.caller_namespaces)


def ingress_spec(
    plan: ServicePlan, host: str, path_prefix: str, tls_secret: str, ingress_class: str
) -> dict[str, object]:
    return {
        "ingressClassName": ingress_class,
        "tls": [{"hosts": [host], "secretName": tls_secret}],
        "rules": [
            {
                "host": host,
                "http": {
                    "paths": [
                        {
                            "path": path_prefix,
                            "pathType": "Prefix",
                            "backend": {"service": {"name": plan.name, "port": {"name": "http"}}},
                        }
                    ]
                },
            }
        ],
    }


def vpa_spec(plan: ServicePlan) -> dict[str, object]:
    """Recommendations only (``updateMode: Off``): the HPA scales on CPU, so VPA must not resize."""
    return {
        "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name},
        "updatePolicy": {"updateMode": "Off"},
        "resourcePolicy": {
            "containerPolicies": [
                {"containerName": plan.name, "controlledResources": ["cpu", "memory"]}
            ]
        },
    }
