"""The gpu part: one vLLM pool per region (components/gpu/pool.py), sized by the catalog.

The pool spec comes from the phase's ``gpu`` row (``infra/catalog.py``, overridable with
``phasescale:overrides.gpu``) and the stack's target: GKE uses ``gkeAccelerator`` and
``gkeMachineType``, EKS ``eksInstanceType``; an existing cluster is assumed to have the GKE
choice's GPU (its ``nvidia.com/gpu.product`` label, memory and GPUs per node) and gets no nodes,
only node selectors and tolerations.

Zones: the pools go only to the zones of each region that sell the GPU
(:mod:`components.gpu.zones`); a region that sells it nowhere is a config error naming the regions
that do. The vLLM image's CUDA build is checked against the driver the nodes get
(:mod:`components.gpu.driver`).

Namespace: the app namespace. It already enforces the ``restricted`` Pod Security Standard, which
the non-root vLLM pod meets; the services that call the LLM live there, so the NetworkPolicy admits
the namespace's pods; and the KEDA and DCGM queries select one namespace. The node agents (device
plugin, DCGM exporter) need host access and go to their own namespace.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi

from components.gpu import validate as vv
from components.gpu import vllm_plan as vp
from components.gpu import zones as gz
from components.gpu.catalog import GKE_MACHINES
from components.gpu.driver import EKS_GPU_AMI, GKE_DRIVER_VERSION, driver_problem
from components.gpu.pool import EksNodes, GkeNodes, VllmGpuPool, VllmGpuPoolArgs, pool_capacities
from components.gpu.presets import PhasePreset
from components.gpu.workload import APP, deployment_spec, node_labels
from components.nodes import Capacity
from components.nodes import Cloud as NodeCloud
from components.problems import Problem
from components.scheduling import NodePool, PodGroup, Taint, pod_group
from components.versions import IMAGES
from infra.config import Target
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, PROMETHEUS_URL, RegionContext
from infra.settings import Settings
from infra.targets import zones_of

SIZES_PATH = "phasescale:overrides.gpu"
TOKEN_KEY = "hfToken"
CLOUDS = {Target.GKE: vp.Cloud.GKE, Target.EKS: vp.Cloud.EKS, Target.EXISTING: vp.Cloud.EXISTING}
EXISTING_GPU = {name: "gkeMachineType" for name in ("accelerator", "gpu_memory_gib", "gpus_per_node")}
KEYS = {
    vp.Cloud.GKE: {"accelerator": "gkeAccelerator", "machine_type": "gkeMachineType"},
    vp.Cloud.EKS: {"accelerator": "eksInstanceType"},
    vp.Cloud.EXISTING: EXISTING_GPU,
}
"""Spec field -> config key under ``overrides.gpu`` where it differs from the camelCase field name.
On an existing cluster the GPU is the one of ``gkeMachineType``."""


def spec(settings: Settings) -> vp.VllmPoolSpec:
    """The region's pool: the catalog row (with overrides) on the stack's target."""
    g = settings.sizes.gpu
    preset = PhasePreset(
        tensor_parallel_size=g.tensor_parallel_size,
        pipeline_parallel_size=g.pipeline_parallel_size,
        min_replicas=g.min_replicas,
        max_replicas=g.max_replicas,
        spot_max_nodes=g.spot_max_nodes,
        gke_accelerator=g.gke_accelerator,
        gke_machine_type=g.gke_machine_type,
        eks_instance_type=g.eks_instance_type,
        model=g.model,
    )
    base = preset.spec(CLOUDS[settings.stack.cluster.target])
    return dataclasses.replace(base, spot_only_accepted=settings.stack.gpu.spot_only_accepted)


def validate(settings: Settings) -> list[Problem]:
    g = settings.sizes.gpu
    problems: list[Problem] = []
    if settings.stack.cluster.target is Target.EXISTING and g.gke_machine_type not in GKE_MACHINES:
        msg = "on an existing cluster, a GKE machine type whose GPU the cluster has: " + ", ".join(
            GKE_MACHINES
        )
        problems.append(Problem(f"{SIZES_PATH}.gkeMachineType", g.gke_machine_type, msg))
    else:
        s = spec(settings)
        spec_problems = vv.validate(s, SIZES_PATH, keys=KEYS[s.cloud])
        problems += spec_problems
        if not spec_problems:
            problems += _zone_problems(settings, s) + _driver_problems(s)
    if not settings.secrets.get(TOKEN_KEY):
        problems.append(
            Problem(
                f"phasescale:{TOKEN_KEY}",
                None,
                "required with parts.gpu: a Hugging Face token with access to the model "
                "(`pulumi config set --secret phasescale:hfToken hf_...`)",
            )
        )
    if not settings.stack.parts.monitoring:
        problems.append(
            Problem(
                "phasescale:parts.monitoring",
                False,
                "required with parts.gpu: the GPU autoscaler (KEDA) reads vLLM and DCGM metrics from Prometheus",
            )
        )
    return problems


def _zone_problems(settings: Settings, s: vp.VllmPoolSpec) -> list[Problem]:
    """Every listed region (all of them serve from the multi-region phase) must sell the GPU in one
    of its node zones."""
    out: list[Problem] = []
    for key, region in settings.stack.regions.items():
        try:
            if s.cloud == vp.Cloud.GKE:
                gz.gke_zones(region.location, s.accelerator, region.zones)
            elif s.cloud == vp.Cloud.EKS:
                gz.eks_zone_ids(region.location, s.accelerator)
        except gz.ZoneError as e:
            at: dict[str, tuple[str, object]] = {
                "region": (f"phasescale:regions.{key}.location", region.location),
                "zones": (f"phasescale:regions.{key}.zones", region.zones),
                "accelerator": (f"{SIZES_PATH}.{KEYS[s.cloud]['accelerator']}", s.accelerator),
            }
            out.append(Problem(*at[e.culprit], str(e)))
    return out


def _driver_problems(s: vp.VllmPoolSpec) -> list[Problem]:
    """The pinned vLLM image must run on the driver the cloud's GPU nodes get."""
    node_driver = {vp.Cloud.GKE: f"gke:{GKE_DRIVER_VERSION}", vp.Cloud.EKS: f"eks:{EKS_GPU_AMI}"}.get(s.cloud)
    why = driver_problem(IMAGES["vllm"].tag, node_driver) if node_driver else None
    return [Problem('components/versions.py IMAGES["vllm"]', IMAGES["vllm"].ref, why)] if why else []


def build(ctx: RegionContext) -> dict[str, Any]:
    s = spec(ctx.settings)
    rc = ctx.cluster
    cfg = ctx.settings.stack
    gke = eks = None
    region = cfg.regions[ctx.key]
    if rc.gke is not None:
        assert cfg.cluster.gcp_project is not None  # checked by the settings
        gke = GkeNodes(
            cluster=rc.gke.cluster,
            node_account_email=rc.gke.node_account.email,
            project=cfg.cluster.gcp_project,
            location=rc.location,
            node_locations=gz.gke_zones(rc.location, s.accelerator, region.zones),  # validated
        )
    if rc.eks is not None:
        eks = EksNodes(
            cluster=rc.eks.cluster,
            cluster_name=rc.cluster_name,
            node_role_arn=rc.eks.node_role.arn,
            subnet_ids=rc.eks.private_subnet_ids,
            zones=zones_of(region.location, region.zones, rc.target),  # the order of the subnets
            zone_ids=gz.eks_zone_ids(rc.location, s.accelerator),  # validated
        )
    providers: list[pulumi.ProviderResource] = [rc.provider]
    if rc.aws_provider is not None:
        providers.append(rc.aws_provider)
    monitoring = cfg.parts.monitoring
    VllmGpuPool(
        f"{ctx.key}-vllm",
        VllmGpuPoolArgs(
            spec=s,
            namespace=ctx.app_namespace,
            hf_token=pulumi.Output.secret(ctx.settings.secrets.get(TOKEN_KEY, "")),
            prometheus_url=PROMETHEUS_URL,
            gke=gke,
            eks=eks,
            monitor_labels=MONITOR_LABELS if monitoring else None,
            monitoring_namespace=MONITORING_NAMESPACE if monitoring else None,
            # An existing cluster with GPUs usually runs the GPU Operator, which brings its own exporter.
            dcgm_exporter=rc.target is not Target.EXISTING,
            k8s_depends_on=[ctx.namespace, *ctx.crd_dependencies],
        ),
        opts=pulumi.ResourceOptions(providers=providers),
    )
    return summary(s)


def pods(settings: Settings) -> list[PodGroup]:
    """The vLLM Deployment's pods, between the autoscaler's bounds."""
    s = spec(settings)
    if vp.node_shape(s) is None:
        return []  # validate() names the hardware problem
    dep: dict[str, Any] = deployment_spec(s, IMAGES["vllm"].ref, f"{APP}-hf-token", surge=False)
    return [pod_group(f"{settings.stack.namespace}/Deployment/{APP}", dep["template"]["spec"],
                      s.min_replicas, s.max_replicas, SIZES_PATH)]


def node_pools(settings: Settings, cloud: NodeCloud, allocatable: Any, zones: int) -> list[NodePool]:
    """The on-demand and spot GPU pools as the scheduling check sees them: the labels the pods
    select (ours and the cloud's hardware label), the GPU taint (and spot taint) and max nodes.
    ``allocatable(machine_name) -> Capacity | None``: the node's allocatable after reserve and DaemonSets."""
    s = spec(settings)
    shape = vp.node_shape(s)
    if shape is None or shape.machine is None:
        return []
    per_node: Capacity | None = allocatable(shape.machine.name)
    if per_node is None:
        return []
    per_node = Capacity(per_node.cpu_m, per_node.memory_mib, shape.gpus_per_node or per_node.gpus)
    out = []
    for capacity, _lo, hi, taints in pool_capacities(vp.node_pools(s), vp.Cloud(cloud.value)):
        labels = {**node_labels(capacity, vp.pool_shape(s)), **shape.node_selector}
        out.append(NodePool(
            name=f"gpu-{capacity}", machine=shape.machine.name, allocatable=per_node, max_nodes=hi,
            path=SIZES_PATH, zones=zones, labels=tuple(sorted(labels.items())),
            taints=tuple(Taint(t["key"], t["value"], "NoSchedule") for t in taints),
        ))
    return out


def summary(s: vp.VllmPoolSpec) -> dict[str, Any]:
    """The stack output of a region's pool."""
    pools = vp.node_pools(s)
    return {
        "model": s.model,
        "tp": s.tensor_parallel_size,
        "pp": s.pipeline_parallel_size,
        "gpusPerReplica": vp.gpus_per_replica(s),
        "replicas": f"{s.min_replicas}-{s.max_replicas}",
        "hardware": f"{s.accelerator} on {s.machine_type}" if s.machine_type else s.accelerator,
        "nodePools": {
            "onDemand": f"{pools.on_demand_min}-{pools.on_demand_max}",
            "spot": f"{pools.spot_min}-{pools.spot_max}",
        },
    }
