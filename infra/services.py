"""The application services of a stack: their replica bounds at the phase and their plans.

Pure functions of the settings, used by the composition, by the parts that size for the services
(PostgreSQL's connection budget) and by the offline plan's summary.
"""

from __future__ import annotations

from typing import Any

from components.scheduling import PodGroup, pod_group
from components.service import stateless_plan as sp
from infra.config import Runtime, Service
from infra.parts import MONITORING_NAMESPACE
from infra.settings import Settings


def replica_bounds(settings: Settings, svc: Service) -> tuple[int, int]:
    """Per-phase bounds win over fixed bounds, which win over the catalog's defaults."""
    if settings.phase in svc.phase_replicas:
        r = svc.phase_replicas[settings.phase]
        return r.min, r.max
    if svc.replicas is not None:
        return svc.replicas.min, svc.replicas.max
    if svc.runtime is Runtime.CLOUDRUN:
        return settings.sizes.services.cloudrun_min_instances, settings.sizes.services.cloudrun_max_instances
    return settings.sizes.services.min_replicas, settings.sizes.services.max_replicas


def service_plan(settings: Settings, name: str, svc: Service) -> sp.ServicePlan:
    ns = settings.stack.namespace
    lo, hi = replica_bounds(settings, svc)
    a = svc.autoscaling
    callers = tuple(c for c in svc.callers if c in settings.stack.services)
    caller_ns = {}
    if "ingress" in svc.callers:
        caller_ns["ingress"] = "ingress"
    if settings.stack.parts.monitoring:
        caller_ns["monitoring"] = MONITORING_NAMESPACE
    return sp.ServicePlan(
        name=name,
        namespace=ns,
        image=svc.image,
        port=svc.port,
        min_replicas=lo,
        max_replicas=hi,
        cpu_percent=a.cpu_percent,
        memory_percent=a.memory_percent,
        custom_metrics=sp.custom_metrics(
            name, ns, a.rps_per_pod, a.concurrent_users_per_pod, a.queue_length_per_pod
        ),
        scale_to_zero=a.scale_to_zero,
        scale_down_stabilization_s=a.scale_down_stabilization_s,
        cpu_m=svc.resources.cpu_millicores,
        memory_mib=svc.resources.memory_mib,
        cpu_limit_m=svc.resources.cpu_limit_millicores,
        memory_limit_mib=svc.resources.memory_limit_mib,
        callers=callers,
        caller_namespaces=caller_ns,
        health_path=svc.health_path,
        ready_path=svc.ready_path,
        env=tuple(sorted(svc.env.items())),
    )


def pods(settings: Settings) -> list[PodGroup]:
    """The Deployment pods of the Kubernetes services, between their autoscaler's bounds."""
    out = []
    for name, svc in settings.stack.services.items():
        if svc.runtime is not Runtime.KUBERNETES:
            continue
        plan = service_plan(settings, name, svc)
        dep: dict[str, Any] = sp.deployment_spec(plan, name)
        out.append(pod_group(f"{plan.namespace}/Deployment/{name}", dep["template"]["spec"],
                             plan.min_replicas, plan.max_replicas, f"phasescale:services.{name}"))
    return out
