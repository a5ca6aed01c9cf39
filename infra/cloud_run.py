"""Cloud Run services' reach: which region resources they need, checked and built (GKE stacks only).

A Cloud Run service that declares ``database`` or ``cache``, or runs in a stack with the GPU part
(vLLM: every app of the namespace may call it, in the cluster as on Cloud Run), gets Direct VPC
egress into its region's GKE VPC and the same connection settings as the in-cluster services
(``components/service/cloud_run_plan.py`` has the rules and their sources):

- PostgreSQL: the region's poolers (CNPG ``-pooler-rw``/``-ro``, or the PgBouncer in front of Cloud
  SQL) behind internal load balancers; the password is ``phasescale:dbPassword``.
- Redis: Memorystore on its private IP (basic/HA: AUTH string and CA; cluster: IAM auth).
- vLLM: ``LLM_BASE_URL`` on its internal load balancer.
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import kube
from components.gpu.specs import VLLM_PORT
from components.gpu.workload import APP as VLLM_APP
from components.gpu.workload import HTTP_PORT_NAME
from components.postgres import cnpg_plan as cp
from components.postgres import connection as pg_connection
from components.postgres import pgbouncer_plan
from components.postgres.pgbouncer import LISTEN_PORT, SERVICE_PORT
from components.postgres.plan import PORT as PG_PORT
from components.problems import Problem
from components.redis import connection as redis_connection
from components.redis import plan as rp
from components.service import cloud_run_plan as crp
from components.service.cloud_run import VpcAccess
from components.service.cloud_run_access import CloudRunAccess, CloudRunAccessArgs
from infra import catalog
from infra.config import PostgresEngine, RedisEngine, Runtime, Service, Target
from infra.parts import RegionContext
from infra.parts import postgres as pg_part
from infra.parts import redis as redis_part
from infra.services import PG_PASSWORD_KEY, postgres_cluster, replica_bounds
from infra.settings import Settings


def reaches(settings: Settings, svc: Service) -> bool:
    """Whether a Cloud Run service needs the VPC: a database, a cache or the stack's vLLM."""
    parts = settings.stack.parts
    return svc.runtime is Runtime.CLOUDRUN and (
        (svc.database is not None and parts.postgres) or (svc.cache and parts.redis) or parts.gpu
    )


def peak_instances(settings: Settings, svc: Service) -> int:
    """The service's largest max instances over every phase (the catalog's, or its own bounds), so the
    subnet sized from it stays put when the stack moves between phases."""
    out = replica_bounds(settings, svc)[1]
    for phase, row in catalog.SERVICES.items():
        if phase in svc.phase_replicas:
            out = max(out, svc.phase_replicas[phase].max)
        elif svc.replicas is not None:
            out = max(out, svc.replicas.max)
        else:  # an override of cloudrunMaxInstances applies to every phase
            out = max(out, row.cloudrun_max_instances, settings.sizes.services.cloudrun_max_instances)
    return out


def problems(settings: Settings) -> list[Problem]:
    """What Cloud Run cannot reach or read, before anything is registered."""
    cfg = settings.stack
    if cfg.cluster.target is not Target.GKE:
        return []  # refused as a whole: "cloudrun needs cluster.target gke" (infra/settings.cross_checks)
    out: list[Problem] = []
    users = []
    for name, svc in cfg.services.items():
        if svc.runtime is not Runtime.CLOUDRUN:
            continue
        if svc.database is not None and cfg.parts.postgres:
            users.append(name)
        if svc.cache and cfg.parts.redis and cfg.redis.engine is RedisEngine.OPERATOR:
            out.append(Problem(
                f"phasescale:services.{name}.cache", True,
                "Cloud Run reaches Redis on Memorystore only (phasescale:redis.engine memorystore): the "
                "operator's Redis hands its clients pod addresses (Sentinel, cluster redirects) that no "
                "load balancer in front of it can stand for; or use runtime kubernetes",
            ))
    if users and not settings.secrets.get(PG_PASSWORD_KEY):
        out.append(Problem(
            f"phasescale:{PG_PASSWORD_KEY}", None,
            f"required when a Cloud Run service declares database ({', '.join(users)}): Cloud Run reads the "
            "password from Secret Manager and cannot read the operator's <cluster>-app Secret: "
            f"pulumi config set --secret phasescale:{PG_PASSWORD_KEY}",
        ))
    peaks = {n: peak_instances(settings, s) for n, s in cfg.services.items() if reaches(settings, s)}
    return out + crp.subnet_problems(peaks, "phasescale:services")


def targets(settings: Settings, region: str) -> list[crp.Target]:
    """The in-cluster endpoints of ``region`` the Cloud Run services need, behind internal load balancers."""
    cfg = settings.stack
    run = [s for s in cfg.services.values() if reaches(settings, s)]
    out = []
    if cfg.parts.postgres and any(s.database is not None for s in run):
        cluster = postgres_cluster(region)
        if cfg.postgres.engine is PostgresEngine.CNPG:
            for kind in cp.pooler_types(pg_part.sizing(settings)):
                pooler = cp.pooler_name(cluster, kind)
                out.append(crp.Target(f"{pooler}-ilb", {"cnpg.io/poolerName": pooler}, PG_PORT, PG_PORT, PG_PORT))
        else:
            bouncer = f"{cluster}-pgbouncer"
            out.append(crp.Target(f"{bouncer}-ilb", kube.selector(bouncer), SERVICE_PORT, "pgbouncer", LISTEN_PORT))
    if cfg.parts.gpu and run:
        out.append(crp.Target(f"{VLLM_APP}-ilb", kube.selector(VLLM_APP), VLLM_PORT, HTTP_PORT_NAME, VLLM_PORT))
    return out


def build_access(ctx: RegionContext) -> CloudRunAccess | None:
    """The region's CloudRunAccess (subnet, internal load balancers, secrets), or None when no Cloud Run
    service of the stack needs the VPC."""
    settings, rc = ctx.settings, ctx.cluster
    cfg = settings.stack
    run = {n: s for n, s in cfg.services.items() if reaches(settings, s)}
    if not run or rc.gke is None or cfg.cluster.gcp_project is None:
        return None
    cidr = crp.subnet_cidr(cfg.regions[rc.key].vpc_cidr, sum(peak_instances(settings, s) for s in run.values()))
    access = CloudRunAccess(
        f"{rc.key}-cloudrun",
        CloudRunAccessArgs(
            project=cfg.cluster.gcp_project, region=rc.location, cluster_name=rc.cluster_name,
            network=rc.gke.network.id, cidr=cidr, namespace=cfg.namespace,
            targets=targets(settings, rc.key), k8s_opts=ctx.k8s_opts(), resource_prefix=rc.key,
        ),
    )
    if cfg.parts.postgres and any(s.database is not None for s in run.values()):
        access.add_secrets("pg", _pg_data(settings, rc.key, access), crp.PG_SECRET_KEYS)
    redis = ctx.built.get("redis")
    if cfg.parts.redis and redis is not None and any(s.cache for s in run.values()):
        access.add_secrets("redis", redis.connection_data, crp.REDIS_SECRET_KEYS)  # type: ignore[attr-defined]
    return access


def _pg_data(settings: Settings, region: str, access: CloudRunAccess) -> dict[str, Any]:
    """The region's connection values with the poolers' internal load balancer IPs as hosts."""
    cfg = settings.stack.postgres
    ilbs = [t.name for t in targets(settings, region) if t.name.startswith(postgres_cluster(region))]
    ro_database = cfg.database if cfg.engine is PostgresEngine.CNPG else pgbouncer_plan.ro_database(cfg.database)
    password = pulumi.Output.secret(settings.secrets.get(PG_PASSWORD_KEY) or "")
    return pg_connection.connection_data(access.hosts[ilbs[0]], access.hosts[ilbs[-1]], cfg.database, ro_database,
                                         cfg.owner, password)


def vpc_access(ctx: RegionContext, access: CloudRunAccess | None, svc: Service) -> VpcAccess | None:
    """What one Cloud Run service of the region gets: the subnet, its env and its grants."""
    settings = ctx.settings
    if access is None or not reaches(settings, svc) or ctx.cluster.gke is None:
        return None
    cfg = settings.stack
    env: tuple[crp.EnvVar, ...] = ()
    roles: tuple[str, ...] = ()
    if svc.database is not None and cfg.parts.postgres:
        spec = pg_connection.env(postgres_cluster(ctx.key), True)
        env += crp.env("pg", spec, _pg_data(settings, ctx.key, access), crp.PG_SECRET_KEYS)
    redis = ctx.built.get("redis")
    if svc.cache and cfg.parts.redis and redis is not None:
        plan: rp.RedisPlan = redis_part.plan(settings)
        data = redis.connection_data  # type: ignore[attr-defined]
        env += crp.env("redis", redis_connection.env(plan), data, crp.REDIS_SECRET_KEYS)
        if redis_connection.needs_identity(plan):
            roles += (redis_connection.IAM_ROLE,)
    if cfg.parts.gpu:
        ilb = access.hosts[f"{VLLM_APP}-ilb"]
        env += (crp.EnvVar("LLM_BASE_URL", value=ilb.apply(lambda ip: f"http://{ip}:{VLLM_PORT}/v1")),)
    return VpcAccess(network=ctx.cluster.gke.network.id, subnetwork=access.subnet.id, env=env,
                     secrets=access.secrets.secrets, versions=access.secrets.versions, iam_roles=roles)
