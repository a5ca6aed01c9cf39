"""The stack's workers (queue consumers): their bounds at the phase, their plans and their checks.

A worker runs at the phases its broker runs: a kafka or rabbitmq worker while the queue part runs
(``parts.queue`` and the catalog's ``queue.enabled``), a redis worker while ``parts.redis`` is on.
At a phase without its broker it is not deployed (nothing to consume); the plan's summary says so.
"""

from __future__ import annotations

from typing import Any

from components.postgres import connection as pg_connection
from components.problems import Problem
from components.queue import connection as qc
from components.queue import plan as qp
from components.redis import connection as redis_connection
from components.redis import operator as ro
from components.redis import plan as rp
from components.scheduling import PodGroup, pod_group
from components.service import worker_plan as wp
from infra.config import Runtime
from infra.config_queue import BrokerKind, Worker
from infra.parts import queue as queue_part
from infra.services import PG_PASSWORD_KEY, postgres_cluster
from infra.settings import Settings

PATH = "phasescale:workers"


def bounds(settings: Settings, w: Worker) -> tuple[int, int]:
    if settings.phase in w.phase_replicas:
        r = w.phase_replicas[settings.phase]
        return r.min, r.max
    if w.replicas is not None:
        return w.replicas.min, w.replicas.max
    return settings.sizes.services.min_replicas, settings.sizes.services.max_replicas


def runs(settings: Settings, w: Worker) -> bool:
    """Whether the worker's broker runs at this phase."""
    if w.queue.broker is BrokerKind.REDIS:
        return settings.stack.parts.redis
    return queue_part.running(settings)


def trigger(settings: Settings, name: str, w: Worker, redis: rp.RedisPlan | None) -> qc.Trigger:
    q = w.queue
    if q.broker is BrokerKind.REDIS:
        assert redis is not None
        access = redis_connection.access(redis)
        return qc.redis_trigger(redis_connection.secret_name(redis), redis.mode is rp.Mode.CLUSTER, access.tls,
                                q.name, q.target_per_pod, q.activation)
    if q.broker is BrokerKind.RABBITMQ:
        return qc.rabbitmq_trigger(settings.stack.namespace, q.name, q.target_per_pod, q.activation)
    engine = qp.Engine(settings.stack.queue.engine.value)
    return qc.kafka_trigger(engine, q.name, q.consumer_group or name, q.target_per_pod, q.activation)


def queue_env(settings: Settings) -> tuple[tuple[str, str, str], ...]:
    """The queue's connection env (services with ``queue`` and kafka/rabbitmq workers), while it runs."""
    if not queue_part.running(settings):
        return ()
    return qc.env(qp.Engine(settings.stack.queue.engine.value))


def plan(settings: Settings, region: str, name: str, w: Worker, redis: rp.RedisPlan | None) -> wp.WorkerPlan:
    lo, hi = bounds(settings, w)
    secret_env: tuple[tuple[str, str, str], ...] = ()
    if w.database is not None and settings.stack.parts.postgres:
        secret_env += pg_connection.env(postgres_cluster(region), bool(settings.secrets.get(PG_PASSWORD_KEY)))
    if (w.cache or w.queue.broker is BrokerKind.REDIS) and redis is not None and settings.stack.parts.redis:
        secret_env += redis_connection.env(redis)
    if w.queue.broker is not BrokerKind.REDIS:
        secret_env += queue_env(settings)
    return wp.WorkerPlan(
        name=name,
        namespace=settings.stack.namespace,
        image=w.image,
        min_replicas=lo,
        max_replicas=hi,
        trigger=trigger(settings, name, w, redis),
        cpu_m=w.resources.cpu_millicores,
        memory_mib=w.resources.memory_mib,
        cpu_limit_m=w.resources.cpu_limit_millicores,
        memory_limit_mib=w.resources.memory_limit_mib,
        command=tuple(w.command),
        liveness_command=tuple(w.liveness_command),
        termination_grace_s=w.termination_grace_s,
        env=tuple(sorted(w.env.items())),
        secret_env=secret_env,
        egress_cidrs=tuple(w.egress_cidrs),
    )


def problems(settings: Settings, redis: rp.RedisPlan | None) -> list[Problem]:
    """A worker's broker, database and cache must be parts the stack runs and KEDA can read."""
    cfg = settings.stack
    out = []
    for name, w in cfg.workers.items():
        path = f"{PATH}.{name}"
        if name in cfg.services:
            out.append(Problem(path, name, "a name no service has (both become Deployments in the app namespace)"))
        broker = w.queue.broker
        if broker is BrokerKind.REDIS and not cfg.parts.redis:
            out.append(Problem(f"{path}.queue.broker", broker.value, "needs phasescale:parts.redis true"))
        if broker is BrokerKind.REDIS and redis is not None and redis.engine is rp.Engine.MEMORYSTORE:
            out.append(Problem(
                f"{path}.queue.broker", broker.value,
                "kafka or rabbitmq with redis.engine memorystore: KEDA's redis scaler can neither send Memorystore "
                "cluster's IAM tokens nor trust Memorystore's private CA (its TLS auth needs a tls: enable key the "
                "connection Secret does not hold); use redis.engine operator",
            ))
        if broker is not BrokerKind.REDIS:
            engine = cfg.queue.engine.value
            kind = "rabbitmq" if engine == "rabbitmq" else "kafka"
            if not cfg.parts.queue:
                out.append(Problem(f"{path}.queue.broker", broker.value, "needs phasescale:parts.queue true"))
            elif broker.value != kind:
                out.append(Problem(f"{path}.queue.broker", broker.value,
                                   f"{kind} (phasescale:queue.engine is {engine})"))
            elif kind == "kafka" and w.queue.name not in cfg.queue.topics:
                out.append(Problem(f"{path}.queue.name", w.queue.name,
                                   f"one of phasescale:queue.topics ({', '.join(cfg.queue.topics)})"))
        if w.database is not None and not cfg.parts.postgres:
            out.append(Problem(f"{path}.database", w.database.model_dump(by_alias=True), "needs phasescale:parts.postgres true"))
        if w.cache and not cfg.parts.redis:
            out.append(Problem(f"{path}.cache", True, "needs phasescale:parts.redis true"))
        if w.cache and redis is not None and redis_connection.needs_identity(redis):
            out.append(Problem(f"{path}.cache", True, "not with a Memorystore cluster (IAM auth): workers get no Google "
                                                      "identity; use redis.engine operator or Memorystore basic/HA"))
        lo, hi = bounds(settings, w)
        if lo > hi:
            out.append(Problem(f"{path}.replicas", {"min": lo, "max": hi}, "min must not be above max"))
    return out


def service_problems(settings: Settings) -> list[Problem]:
    """A service in ``queue.clients`` needs the queue part, and Kubernetes (Cloud Run has no path into the cluster)."""
    out = []
    cfg = settings.stack
    path = "phasescale:queue.clients"
    for name in cfg.queue.clients:
        svc = cfg.services.get(name)
        if svc is None:
            out.append(Problem(path, name, f"a service of phasescale:services ({', '.join(cfg.services) or 'none'})"))
        elif not cfg.parts.queue:
            out.append(Problem(path, name, "needs phasescale:parts.queue true (no queue to connect to)"))
        elif svc.runtime is not Runtime.KUBERNETES:
            out.append(Problem(path, name, "runtime kubernetes only (Cloud Run has no path to the cluster's queue)"))
    return out


def pods(settings: Settings, redis: rp.RedisPlan | None) -> list[PodGroup]:
    out = []
    for name, w in settings.stack.workers.items():
        if not runs(settings, w):
            continue
        p = plan(settings, next(iter(settings.stack.regions)), name, w, redis)
        dep: dict[str, Any] = wp.deployment_spec(p)
        out.append(pod_group(f"{p.namespace}/Deployment/{name}", dep["template"]["spec"], p.min_replicas,
                             p.max_replicas, f"{PATH}.{name}"))
    return out


def polls_redis(settings: Settings) -> bool:
    """KEDA polls the in-cluster Redis for a running redis worker."""
    return settings.stack.redis.engine.value == "operator" and any(
        w.queue.broker is BrokerKind.REDIS and runs(settings, w) for w in settings.stack.workers.values()
    )


def redis_keda_policy(redis: rp.RedisPlan) -> dict[str, object]:
    """KEDA's operator may reach the operator Redis pods on the client port (the Redis policy's selector)."""
    own: dict[str, Any] = ro.network_policy_spec(redis)
    return wp.keda_access_spec(own["podSelector"], (rp.REDIS_PORT,))
