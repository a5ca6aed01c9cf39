"""Pure planning of a Worker: a queue consumer with no Service, no Ingress and no HTTP probes, scaled
by KEDA on its queue's own scaler (RabbitMQ queue length, Kafka consumer lag, Redis list length).

Probes: a worker listens on no port, so there is no HTTP probe. With ``livenessCommand`` it gets an
exec liveness probe (``celery -A app inspect ping -d celery@$HOSTNAME``, say); without one it gets none:
the kubelet restarts the container when its process exits, and a consumer that is alive but stuck
shows up as a growing queue (the queue part's lag and depth alerts). No readiness probe: nothing
routes traffic to a worker.

NetworkPolicy: no ingress at all; egress to DNS (kube-system, 53), to pods of its own namespace (the
brokers, poolers and Redis run there), to the cluster's private address ranges (managed brokers,
databases and caches sit in the VPC or its peered service ranges) and to the worker's ``egressCidrs``.
"""

from __future__ import annotations

from dataclasses import dataclass

from components import kube
from components.queue.connection import Trigger
from components.service.stateless_plan import KEDA_API, behavior, env_of

__all__ = ["KEDA_API", "WorkerPlan", "deployment_spec", "scaled_object_spec", "trigger_auth_spec"]

PRIVATE_CIDRS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
"""RFC 1918 and RFC 6598: where VPCs, their managed services and Google's private service ranges live."""


@dataclass(frozen=True)
class WorkerPlan:
    name: str
    namespace: str
    image: str
    min_replicas: int
    max_replicas: int
    trigger: Trigger
    cpu_m: int = 250
    memory_mib: int = 512
    cpu_limit_m: int | None = None
    memory_limit_mib: int | None = None
    command: tuple[str, ...] = ()
    liveness_command: tuple[str, ...] = ()
    termination_grace_s: int = 60
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[tuple[str, str, str], ...] = ()
    egress_cidrs: tuple[str, ...] = ()
    scale_down_stabilization_s: int = 300

    @property
    def wants_pdb(self) -> bool:
        return self.max_replicas >= 2

    @property
    def auth_name(self) -> str:
        return f"{self.name}-queue-auth"


def deployment_spec(plan: WorkerPlan) -> dict[str, object]:
    """No ``replicas`` (KEDA owns it), no ports, no HTTP probes; the pod hardened like a service's."""
    container: dict[str, object] = {
        "name": plan.name,
        "image": plan.image,
        "imagePullPolicy": "IfNotPresent",
        "env": env_of(plan),
        "resources": kube.resources(plan.cpu_m, plan.memory_mib, plan.cpu_limit_m, plan.memory_limit_mib),
        "securityContext": kube.container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if plan.command:
        container["command"] = list(plan.command)
    if plan.liveness_command:
        container["livenessProbe"] = {
            "exec": {"command": list(plan.liveness_command)},
            "initialDelaySeconds": 30,
            "periodSeconds": 30,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        }
    if not container["env"]:
        del container["env"]
    return kube.deployment_spec(plan.name, kube.labels(plan.name, "worker", {"worker": plan.name}), plan.name, container, plan.termination_grace_s)


def trigger_auth_spec(plan: WorkerPlan) -> dict[str, object]:
    """The scaler's credentials, read by KEDA from the connection Secrets (never copied)."""
    return {
        "secretTargetRef": [
            {"parameter": param, "name": secret, "key": key} for param, secret, key in plan.trigger.secret_refs
        ],
    }


def scaled_object_spec(plan: WorkerPlan) -> dict[str, object]:
    """One trigger, the queue's own; KEDA reads ``*FromEnv`` metadata from the worker's container."""
    spec: dict[str, object] = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": plan.name,
                           "envSourceContainerName": plan.name},
        "minReplicaCount": plan.min_replicas,
        "maxReplicaCount": plan.max_replicas,
        "pollingInterval": 15,
        "advanced": {"horizontalPodAutoscalerConfig": {"name": plan.name, "behavior": behavior(plan)}},
        "triggers": [{
            "type": plan.trigger.type,
            "name": "queue",
            "metadata": dict(plan.trigger.metadata),
            "authenticationRef": {"name": plan.auth_name},
        }],
    }
    if plan.min_replicas == 0:
        spec["cooldownPeriod"] = plan.scale_down_stabilization_s
    return spec


def pdb_spec(plan: WorkerPlan) -> dict[str, object]:
    return {"maxUnavailable": 1, "selector": {"matchLabels": kube.selector(plan.name)}}


def network_policy_spec(plan: WorkerPlan) -> dict[str, object]:
    dns = {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}}],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    inside: dict[str, object] = {"to": [{"podSelector": {}}]}
    private = {"to": [{"ipBlock": {"cidr": c}} for c in (*PRIVATE_CIDRS, *plan.egress_cidrs)]}
    return {
        "podSelector": {"matchLabels": kube.selector(plan.name)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [],
        "egress": [dns, inside, private],
    }


KEDA_NAMESPACE = "keda"
"""Where ClusterAddons installs KEDA (components/cluster/addons.py): its operator polls the scalers."""


def keda_access_spec(pod_selector: dict[str, object], ports: tuple[int, ...]) -> dict[str, object]:
    """An extra NetworkPolicy admitting KEDA's operator to a broker's pods (policies add up, so the
    broker's own policy stays as it is): for the in-cluster Redis, whose policy admits only the app
    namespace, the operator and Prometheus."""
    return {
        "podSelector": pod_selector,
        "policyTypes": ["Ingress"],
        "ingress": [{
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": KEDA_NAMESPACE}}}],
            "ports": [{"protocol": "TCP", "port": port} for port in ports],
        }],
    }
