"""The composition: what a stack builds, from its validated settings.

Order matters only in one way: every check runs first (``validate``), and resources are registered
only when there is no problem at all.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import tls_plan
from components.cluster.addons import (
    CERT_MANAGER_NAMESPACE,
    INGRESS_CLASS,
    LEAST_CONN,
    ClusterAddons,
    ClusterAddonsArgs,
)
from components.cluster.eks import cluster_autoscaler_policy
from components.cluster.gke import workload_identity_account
from components.problems import Problem, raise_if_any
from components.sdk import aws, gcp
from components.service import cloud_run_plan as crp
from components.service import stateless_plan as sp
from components.service.cloud_run import CloudRunService, CloudRunServiceArgs
from components.service.stateless import IngressOptions, StatelessService, StatelessServiceArgs
from components.service.worker import Worker, WorkerArgs
from infra import cloud_run, ordering, tls, workers
from infra.apis import enable_apis
from infra.charts import needs_cert_manager
from infra.config import Runtime, Target
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, PROMETHEUS_URL, RegionContext
from infra.scheduling import problems as scheduling_problems
from infra.services import connection_env, connection_problems, replica_bounds, service_plan
from infra.settings import Settings, has_ingress
from infra.targets import RegionCluster, build_cluster

PART_ORDER = ("monitoring", "postgres", "redis", "milvus", "gpu", "cdn", "logging", "queue")
"""Build order of the optional parts: monitoring, then the cluster add-ons (KEDA, ingress), then the rest."""
PARTS: dict[str, Any] = {name: importlib.import_module(f"infra.parts.{name}") for name in PART_ORDER}


def validate(settings: Settings) -> list[Problem]:
    """Every cross-field check of the stack, before anything is registered."""
    problems: list[Problem] = connection_problems(settings) + cloud_run.problems(settings)
    for part, module in PARTS.items():
        if getattr(settings.stack.parts, part):
            problems += module.validate(settings)
    for name, svc in settings.stack.services.items():
        if svc.runtime is Runtime.KUBERNETES:
            problems += sp.validate(service_plan(settings, name, svc), f"phasescale:services.{name}")
        else:
            lo, hi = replica_bounds(settings, svc)
            if lo > hi:
                problems.append(
                    Problem(f"phasescale:services.{name}.replicas", {"min": lo, "max": hi}, "min must not be above max")
                )
    redis = PARTS["redis"].plan(settings) if settings.stack.parts.redis else None
    problems += workers.problems(settings, redis) + workers.service_problems(settings)
    if not problems:  # placing pods needs a config that is valid otherwise
        problems += scheduling_problems(settings)
    return problems


def _namespace(settings: Settings, rc: RegionCluster) -> k8s.core.v1.Namespace:
    """The app namespace enforces the ``restricted`` Pod Security Standard."""
    return k8s.core.v1.Namespace(
        f"{rc.key}-ns",
        metadata={
            "name": settings.stack.namespace,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
        },
        opts=pulumi.ResourceOptions(provider=rc.provider),
    )


def _certificates(
    settings: Settings, rc: RegionCluster, ctx: RegionContext, issuer: pulumi.Resource | None
) -> dict[str, str]:
    """One cert-manager Certificate per service ingress host of this region (and Grafana's), issued by the
    ClusterIssuer; returns each service host's TLS Secret. No issuer (no ACME e-mail, development): no Certificate."""
    cfg = settings.stack
    if issuer is None:
        return {}
    secrets = {host: tls_plan.host_secret(host) for host in tls.certificate_hosts(cfg, rc.key)}
    wanted = [(host, secret, cfg.namespace) for host, secret in secrets.items()]
    if cfg.monitoring.grafana_host is not None and cfg.parts.monitoring:
        wanted.append((cfg.monitoring.grafana_host, "grafana-tls", MONITORING_NAMESPACE))
    for host, secret, namespace in wanted:
        k8s.apiextensions.CustomResource(
            f"{rc.key}-{secret.removesuffix('-tls')}-cert",
            api_version=tls_plan.CERT_MANAGER_API,
            kind="Certificate",
            metadata={"name": secret, "namespace": namespace},
            spec=tls_plan.certificate_spec(host, secret),
            opts=ctx.k8s_opts(issuer),
        )
    return secrets


def _dns01(
    settings: Settings, rc: RegionCluster
) -> tuple[dict[str, Any] | None, dict[str, pulumi.Input[str]], tuple[pulumi.Resource, ...]]:
    """With ``cluster.dnsZone`` and an issuer: the DNS-01 provider block and the identity cert-manager
    writes the zone with (its ServiceAccount's annotations). GKE: a Google service account that only
    ``cert-manager/cert-manager`` may act as (Workload Identity), granted ``roles/dns.admin`` on the
    zone's project (cert-manager's Cloud DNS guide). EKS: an IRSA role for the same ServiceAccount with
    the Route53 guide's policy on the hosted zone."""
    cfg = settings.stack
    zone = cfg.cluster.dns_zone
    if zone is None or not has_ingress(cfg) or not cfg.cluster.acme_email:
        return None, {}, ()
    sa = tls_plan.CERT_MANAGER_SERVICE_ACCOUNT
    if rc.gke is not None:
        assert cfg.cluster.gcp_project is not None and zone.managed_zone is not None  # checked by infra/tls.py
        project = zone.gcp_project or cfg.cluster.gcp_project
        # The binding's member lives in the project's Workload Identity pool, which exists only once a
        # cluster with workload identity does ("Identity Pool does not exist" before): after the cluster.
        opts = pulumi.ResourceOptions(parent=rc.gke, depends_on=[rc.gke.cluster])
        account, binding = workload_identity_account(
            f"{rc.cluster_name}-cert-manager", cfg.cluster.gcp_project, tls_plan.dns01_account_id(rc.cluster_name),
            f"cert-manager DNS-01 solver of {rc.cluster_name}", CERT_MANAGER_NAMESPACE, sa, opts,
        )
        admin = gcp.projects.IAMMember(
            f"{rc.cluster_name}-cert-manager-dns-admin", project=project, role=tls_plan.GKE_DNS_ROLE,
            member=account.email.apply(lambda e: f"serviceAccount:{e}"), opts=opts,
        )
        annotations: dict[str, pulumi.Input[str]] = {tls_plan.WORKLOAD_IDENTITY_ANNOTATION: account.email}
        return tls_plan.cloud_dns_solver(project, zone.managed_zone), annotations, (binding, admin)
    if rc.eks is not None:
        assert zone.route53_hosted_zone_id is not None  # checked by infra/tls.py
        policy = aws.iam.Policy(
            f"{rc.cluster_name}-cert-manager-route53",
            policy=tls_plan.route53_policy(zone.route53_hosted_zone_id),
            opts=pulumi.ResourceOptions(parent=rc.eks, provider=rc.aws_provider),
        )
        role = rc.eks.irsa_role(f"{rc.cluster_name}-cert-manager", CERT_MANAGER_NAMESPACE, sa, [policy.arn])
        return tls_plan.route53_solver(zone.route53_hosted_zone_id), {tls_plan.IRSA_ANNOTATION: role.arn}, (role,)
    return None, {}, ()


def build_region(
    settings: Settings, rc: RegionCluster, primary: bool, contexts: list[RegionContext] | None = None
) -> dict[str, Any]:
    """One region. ``contexts``: the regions built so far (the first is the primary), for parts that
    link a region to the primary (RDS cross-region replica and VPC peering); this one is appended."""
    cfg = settings.stack
    autoscaler_role = None
    if rc.eks is not None:
        policy = aws.iam.Policy(
            f"{rc.cluster_name}-cluster-autoscaler",
            policy=cluster_autoscaler_policy(rc.cluster_name),
            opts=pulumi.ResourceOptions(parent=rc.eks, provider=rc.aws_provider),
        )
        autoscaler_role = rc.eks.irsa_role(
            f"{rc.cluster_name}-cluster-autoscaler", "kube-system", "cluster-autoscaler", [policy.arn]
        ).arn
    dns01, cert_manager_annotations, dns01_grants = _dns01(settings, rc)
    namespace = _namespace(settings, rc)
    ctx = RegionContext(settings, rc, namespace, primary, crd_dependencies=list(rc.ready))
    if contexts is not None:
        ctx.primary_region = contexts[0] if contexts else None
        contexts.append(ctx)
    outputs: dict[str, Any] = {"cluster": rc.cluster_name}
    # Monitoring first: its chart brings the ServiceMonitor/PodMonitor CRDs that KEDA and the other
    # parts' monitors need; it appends its release to ctx.crd_dependencies.
    if cfg.parts.monitoring:
        outputs["monitoring"] = PARTS["monitoring"].build(ctx)
    addons = ClusterAddons(
        f"{rc.key}-addons",
        ClusterAddonsArgs(
            cluster_name=rc.cluster_name,
            eks_region=rc.location if rc.target is Target.EKS else None,
            autoscaler_role_arn=autoscaler_role,
            kubernetes_version=cfg.cluster.kubernetes_version,
            ingress=has_ingress(cfg),
            service_monitors=cfg.parts.monitoring,
            cert_manager=needs_cert_manager(cfg),
            acme_email=cfg.cluster.acme_email,
            # cert-manager was the postgres part's top-level release `<region>-cert-manager` until it moved here.
            cert_manager_aliases=(pulumi.Alias(name=f"{rc.key}-cert-manager", parent=pulumi.ROOT_STACK_RESOURCE),),
            dns01=dns01,
            dns_zone=cfg.cluster.dns_zone.domain if dns01 is not None and cfg.cluster.dns_zone else None,
            cert_manager_annotations=cert_manager_annotations,
            dns01_grants=dns01_grants,
        ),
        opts=pulumi.ResourceOptions(provider=rc.provider, depends_on=list(ctx.crd_dependencies)),
    )
    ctx.crd_dependencies += addons.releases
    tls_secrets = _certificates(settings, rc, ctx, addons.cluster_issuer)
    for part, module in PARTS.items():
        if part != "monitoring" and getattr(cfg.parts, part):
            outputs[part] = module.build(ctx)
    after_addons = ctx.k8s_opts()
    # Queue clients and workers read the queue's connection Secret, which exists only once the broker
    # does (MSK and Managed Kafka take tens of minutes): they wait for the whole QueueCluster.
    after_queue = ctx.k8s_opts(*([ctx.built["queue"]] if "queue" in ctx.built else []))
    run_access = cloud_run.build_access(ctx)
    services: dict[str, str] = {}
    redis = PARTS["redis"].plan(settings)
    for name, svc in cfg.services.items():
        plan = service_plan(settings, name, svc)
        if svc.runtime is Runtime.KUBERNETES:
            queue_env = workers.queue_env(settings) if name in cfg.queue.clients else ()
            plan = dataclasses.replace(plan, secret_env=connection_env(settings, rc.key, svc, redis) + queue_env)
        if svc.runtime is Runtime.CLOUDRUN:
            assert cfg.cluster.gcp_project is not None
            CloudRunService(
                f"{rc.key}-{name}",
                CloudRunServiceArgs(
                    service=name,
                    project=cfg.cluster.gcp_project,
                    location=rc.location,
                    image=svc.image,
                    port=svc.port,
                    min_instances=plan.min_replicas,
                    max_instances=plan.max_replicas,
                    concurrency=svc.concurrency,
                    cpu=f"{max(1, svc.resources.cpu_millicores // 1000)}",
                    memory=f"{svc.resources.memory_mib}Mi",
                    timeout_s=svc.timeout_s,
                    health_path=svc.health_path,
                    env=plan.env,
                    deletion_protection=cfg.protect_stateful,
                    vpc=cloud_run.vpc_access(ctx, run_access, svc),
                    account_id=crp.account_id(name, rc.key, primary),
                ),
            )
            services[name] = f"cloudrun {plan.min_replicas}-{plan.max_replicas}"
            continue
        ingress = None
        host = tls.route_host(svc.ingress, rc.key) if svc.ingress is not None else None
        if svc.ingress is not None and host is not None:
            ingress = IngressOptions(
                host=host,
                path_prefix=svc.ingress.path_prefix,
                tls_secret=svc.ingress.tls_secret or tls_secrets.get(host, f"{name}-tls"),
                ingress_class=INGRESS_CLASS,
                load_balance_annotations=LEAST_CONN,
            )
        StatelessService(
            f"{rc.key}-{name}",
            StatelessServiceArgs(
                plan=plan,
                prometheus_url=PROMETHEUS_URL,
                ingress=ingress,
                vpa=svc.vpa,
                service_monitor_labels=MONITOR_LABELS if cfg.parts.monitoring else None,
                metrics_path=svc.metrics_path,
                service_account_annotations=(
                    PARTS["redis"].client_identity(ctx, name) if svc.cache and cfg.parts.redis else None
                ),
            ),
            opts=after_queue if name in cfg.queue.clients else after_addons,
        )
        services[name] = f"{plan.min_replicas}-{plan.max_replicas}"
    outputs["services"] = services
    running: dict[str, str] = {}
    for name, w in cfg.workers.items():
        if not workers.runs(settings, w):
            running[name] = "off at this phase (its broker does not run)"
            continue
        wplan = workers.plan(settings, rc.key, name, w, redis if cfg.parts.redis else None)
        Worker(f"{rc.key}-{name}", WorkerArgs(plan=wplan), opts=after_queue)
        running[name] = f"{wplan.min_replicas}-{wplan.max_replicas} on {wplan.trigger.type}"
    if running:
        outputs["workers"] = running
    if redis is not None and cfg.parts.redis and workers.polls_redis(settings):
        k8s.networking.v1.NetworkPolicy(
            f"{rc.key}-redis-keda",
            metadata={"name": "redis-keda", "namespace": cfg.namespace},
            spec=workers.redis_keda_policy(redis),
            opts=after_addons,
        )
    return outputs


def build(settings: Settings) -> None:
    """Register every resource of the stack (after every check has passed)."""
    raise_if_any(validate(settings))
    ordering.register()
    stack_name = pulumi.get_stack()
    if settings.stack.cluster.target is Target.GKE:
        assert settings.stack.cluster.gcp_project is not None  # checked by StackConfig
        enable_apis(settings.stack.cluster.gcp_project)
    regions = {}
    contexts: list[RegionContext] = []
    for i, key in enumerate(settings.active_regions):
        rc = build_cluster(settings, key, stack_name)
        regions[key] = build_region(settings, rc, primary=i == 0, contexts=contexts)
    pulumi.export("phase", settings.phase)
    pulumi.export("regions", regions)
