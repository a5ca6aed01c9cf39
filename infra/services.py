"""The application services of a stack: their replica bounds at the phase and their plans.

Pure functions of the settings, used by the composition, by the parts that size for the services
(PostgreSQL's connection budget) and by the offline plan's summary.
"""

from __future__ import annotations

from typing import Any

from components.postgres import connection as pg_connection
from components.problems import Problem
from components.redis import connection as redis_connection
from components.redis import plan as rp
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


PG_PASSWORD_KEY = "dbPassword"


def postgres_cluster(region: str) -> str:
    """The PostgresCluster (and CNPG Cluster) of a region: ``<region>-pg``."""
    return f"{region}-pg"


def connection_env(
    settings: Settings, region: str, svc: Service, redis: rp.RedisPlan | None
) -> tuple[tuple[str, str, str], ...]:
    """The ``secretKeyRef`` env of one service in one region: DATABASE_* when it declares
    ``database``, REDIS_* when ``cache`` (``redis``: the region's Redis plan). Wired from the service's
    own declaration: a declaration without its part is refused by ``connection_problems``, and a pod
    reading a Secret nothing creates is what ``infra.secret_check`` finds."""
    out: tuple[tuple[str, str, str], ...] = ()
    if svc.database is not None:
        out += pg_connection.env(postgres_cluster(region), bool(settings.secrets.get(PG_PASSWORD_KEY)))
    if svc.cache and redis is not None:
        out += redis_connection.env(redis)
    return out


def connection_problems(settings: Settings) -> list[Problem]:
    """A service may only ask for a database or a cache the stack runs and can wire."""
    problems = []
    for name, svc in settings.stack.services.items():
        path = f"phasescale:services.{name}"
        if svc.database is not None and not settings.stack.parts.postgres:
            problems.append(Problem(f"{path}.database", svc.database.model_dump(by_alias=True),
                                    "needs phasescale:parts.postgres true (no database to connect to)"))
        if svc.cache and not settings.stack.parts.redis:
            problems.append(Problem(f"{path}.cache", True, "needs phasescale:parts.redis true (no Redis to connect to)"))
        # Cloud Run's reach (Direct VPC egress, what it cannot reach): infra/cloud_run.problems.
    return problems
