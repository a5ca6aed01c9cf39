"""VllmGpuPool: one vLLM server pool on GPU nodes, with spot burst capacity, autoscaled by KEDA.

Children (names derive from the component's name, never from the phase, so a phase change updates
them in place):

- GPU nodes. GKE: an on-demand and a spot ``NodePool`` (driver installed by GKE); EKS: an
  on-demand and a spot managed ``NodeGroup`` on the AL2023 NVIDIA AMI plus the NVIDIA device
  plugin chart (that AMI carries the driver and container toolkit, not the plugin); existing:
  no nodes, only node selectors and tolerations. Pools are named by their shape
  (``<name>-gpu-on-demand-g2-standard-48``, cloud name ``gpu-on-demand-g2-standard-48``): a phase
  move that changes the machine creates the new pools first, the Deployment (which depends on them
  and selects the shape label) rolls onto them, and Pulumi deletes the old pools last. They are
  placed only in the zones that sell the GPU (:mod:`components.gpu.zones`). Every GPU node has the
  ``nvidia.com/gpu=present:NoSchedule`` taint, spot nodes also a spot taint, so only pods that
  ask for them land there. The on-demand pool holds the base (``min_replicas``), the spot pool the
  burst (sizes from :func:`components.gpu.vllm_plan.node_pools`).
- The DCGM exporter chart on the GPU nodes, whose ServiceMonitor keeps the exporter's ``namespace``
  and ``pod`` labels (``honorLabels``) so the KEDA GPU trigger can select the pool's pods.
- The workload: ServiceAccount, HF token Secret, Deployment of ``vllm/vllm-openai``, Service
  (port 8000), PodDisruptionBudget, NetworkPolicy, ServiceMonitor and the KEDA ScaledObject.

The pure specs are in :mod:`components.gpu.workload` (pod, Deployment, NetworkPolicy, node labels
and tolerations, node-agent chart values, with the model cache and security choices) and
:mod:`components.gpu.specs` (vLLM arguments and resources, the KEDA ScaledObject).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.eks import node_group_scaling
from components.gpu import specs as vs
from components.gpu import vllm_plan as vp
from components.gpu import zones as gz
from components.gpu.driver import EKS_GPU_AMI, GKE_DRIVER_VERSION
from components.gpu.vllm_plan import Cloud, VllmPoolSpec
from components.gpu.workload import (
    APP,
    GPU_TAINT,
    HTTP_PORT_NAME,
    ON_DEMAND,
    POOL_LABEL,
    SPOT,
    SPOT_TAINT_KEY,
    dcgm_values,
    deployment_spec,
    device_plugin_values,
    gpu_node_selector,
    network_policy_spec,
    node_labels,
)
from components.helm import release
from components.sdk import aws, gcp
from components.versions import IMAGES

TYPE = "phasescale:components:VllmGpuPool"
NODE_AGENTS_NAMESPACE = "nvidia"
"""Device plugin and DCGM exporter: node agents with host access, kept out of the app namespace."""

# fmt: off
CHECKOV_SKIPS = (
    kube.CHECKOV_DIGEST_SKIP,
    ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for the immutable pinned vLLM tag"),
    ("CKV_K8S_35", "vLLM's Hugging Face client reads the token from HF_TOKEN; the Secret is only "
                   "referenced by this pod and the service account cannot read Secrets"),
    ("CKV_K8S_11", "no CPU limit: throttling stalls vLLM's scheduler and tokenizer between GPU steps; "
                   "the pod requests its node share pro rata to its GPUs"),
)
# fmt: on


# --- Cloud targets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GkeNodes:
    """Where GKE GPU node pools go."""

    cluster: gcp.container.Cluster
    node_account_email: pulumi.Input[str]
    project: str
    location: str
    node_locations: tuple[str, ...] = ()
    """Zones that sell the accelerator (:func:`components.gpu.zones.gke_zones`); empty: the cluster's."""


@dataclass(frozen=True)
class EksNodes:
    """Where EKS GPU node groups go."""

    cluster: aws.eks.Cluster
    cluster_name: str
    """The cluster's physical name (the live node groups are read by it on phase moves)."""
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]
    zones: Sequence[str] = ()
    """AZ name of each of ``subnet_ids``; with ``zone_ids``, the node groups get only the subnets
    whose AZ sells the instance type."""
    zone_ids: Sequence[str] = ()
    """AZ IDs that sell the instance type (:func:`components.gpu.zones.eks_zone_ids`); empty: every subnet."""


def pool_capacities(
    pools: vp.NodePools, cloud: Cloud
) -> list[tuple[str, int, int, list[dict[str, str]]]]:
    """``(capacity, min, max, taints)`` of the on-demand and spot pools that may hold a node; the
    cloud APIs spell the effect ``NO_SCHEDULE``."""
    out = []
    for capacity, lo, hi in ((ON_DEMAND, pools.on_demand_min, pools.on_demand_max), (SPOT, pools.spot_min, pools.spot_max)):
        if hi < 1:
            continue
        taints = [{"key": GPU_TAINT["key"], "value": GPU_TAINT["value"], "effect": "NO_SCHEDULE"}]
        if capacity == SPOT:
            taints.append({"key": SPOT_TAINT_KEY[cloud], "value": "true", "effect": "NO_SCHEDULE"})
        out.append((capacity, lo, hi, taints))
    return out


@dataclass(frozen=True)
class VllmGpuPoolArgs:
    spec: VllmPoolSpec
    """Checked by :func:`components.gpu.validate.validate` before this component is built."""
    namespace: str
    hf_token: pulumi.Input[str]
    """Hugging Face token (Llama 2 is gated); pass it wrapped in ``pulumi.Output.secret``."""
    prometheus_url: str
    """KEDA's Prometheus server address."""
    image: str = IMAGES["vllm"].ref
    gke: GkeNodes | None = None
    """Set exactly when ``spec.cloud`` is gke."""
    eks: EksNodes | None = None
    """Set exactly when ``spec.cloud`` is eks."""
    monitor_labels: dict[str, str] | None = None
    """Labels the Prometheus selects ServiceMonitors by; None: no ServiceMonitors."""
    monitoring_namespace: str | None = None
    """Admitted to port 8000 by the NetworkPolicy (Prometheus)."""
    dcgm_exporter: bool = True
    """Install the DCGM exporter chart (off where the cluster already runs one, e.g. GPU Operator)."""
    node_disk_gib: int = 200
    """GPU node boot disk: images (vLLM is ~10 GB) and every pod's model cache."""
    autoscaling: vs.GpuAutoscaling = field(default_factory=vs.GpuAutoscaling)
    k8s_depends_on: Sequence[pulumi.Resource] = ()
    """The namespace and the CRD-bearing releases (KEDA, Prometheus operator)."""


class VllmGpuPool(pulumi.ComponentResource):
    """Give ``opts.providers`` the Kubernetes provider and, on EKS, the regional AWS provider."""

    def __init__(self, name: str, args: VllmGpuPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        spec = args.spec
        if (spec.cloud == Cloud.GKE) != (args.gke is not None) or (spec.cloud == Cloud.EKS) != (
            args.eks is not None
        ):
            raise ValueError(f"VllmGpuPool {name}: give gke/eks node targets exactly for cloud {spec.cloud}")
        pools = vp.node_pools(spec)
        self.node_pools: list[pulumi.CustomResource] = []
        if args.gke is not None:
            self.node_pools = self._gke_pools(name, spec, pools, args.gke, args.node_disk_gib)
        if args.eks is not None:
            self.node_pools = self._eks_groups(name, spec, pools, args.eks, args.node_disk_gib)
        ours = spec.cloud in (Cloud.GKE, Cloud.EKS)
        agent_selector = {POOL_LABEL: "gpu"} if ours else gpu_node_selector(spec)
        k8s_deps = list(args.k8s_depends_on)
        agents = pulumi.ResourceOptions(parent=self, depends_on=[*k8s_deps, *self.node_pools])
        ready: list[pulumi.Resource] = list(self.node_pools)
        if spec.cloud == Cloud.EKS:  # the AL2023 NVIDIA AMI has no device plugin (Bottlerocket's has)
            ready.append(release(f"{name}-device-plugin", "nvidia-device-plugin", NODE_AGENTS_NAMESPACE,
                                 device_plugin_values(spec, agent_selector), agents))  # fmt: skip
        if args.dcgm_exporter:  # after the device plugin: one creator of the namespace at a time
            after_plugin = pulumi.ResourceOptions(parent=self, depends_on=[*k8s_deps, *ready])
            release(f"{name}-dcgm-exporter", "dcgm-exporter", NODE_AGENTS_NAMESPACE,
                    dcgm_values(spec, args.monitor_labels, agent_selector), after_plugin)  # fmt: skip
        self._workload(name, args, pools, k8s_deps, ready)
        self.register_outputs({"service": self.service.metadata.name})

    # --- nodes --------------------------------------------------------------------------------
    def _gke_pools(
        self, name: str, spec: VllmPoolSpec, pools: vp.NodePools, gke: GkeNodes, disk_gib: int
    ) -> list[pulumi.CustomResource]:
        shape = vp.node_shape(spec)
        assert shape is not None and spec.machine_type is not None  # validated
        pool_shape = vp.pool_shape(spec)
        out: list[pulumi.CustomResource] = []
        for capacity, lo, hi, taints in pool_capacities(pools, Cloud.GKE):
            out.append(gcp.container.NodePool(
                f"{name}-gpu-{capacity}-{pool_shape}",
                name=f"gpu-{capacity}-{pool_shape}",
                project=gke.project,
                location=gke.location,
                cluster=gke.cluster.name,
                node_locations=list(gke.node_locations) or None,
                autoscaling={"total_min_node_count": lo, "total_max_node_count": hi, "location_policy": "ANY"},
                management={"auto_repair": True, "auto_upgrade": True},
                upgrade_settings={"max_surge": 1, "max_unavailable": 0},
                node_config={
                    "machine_type": spec.machine_type,
                    "spot": capacity == SPOT,
                    "guest_accelerators": [{
                        "type": spec.accelerator,
                        "count": shape.gpus_per_node,
                        # checked against the vLLM image's CUDA by components/gpu/driver.py
                        "gpu_driver_installation_config": {"gpu_driver_version": GKE_DRIVER_VERSION},
                    }],
                    "disk_size_gb": disk_gib,
                    "disk_type": "pd-balanced",
                    "image_type": "COS_CONTAINERD",
                    "service_account": gke.node_account_email,
                    "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    "workload_metadata_config": {"mode": "GKE_METADATA"},
                    "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                    "metadata": {"disable-legacy-endpoints": "true"},
                    "labels": node_labels(capacity, pool_shape),
                    "taints": taints,
                },
                # the pool before shape naming: its first move replaces it (new name) create-first
                opts=pulumi.ResourceOptions(parent=self, aliases=[pulumi.Alias(name=f"{name}-gpu-{capacity}")]),
            ))  # fmt: skip
        return out

    def _eks_groups(
        self, name: str, spec: VllmPoolSpec, pools: vp.NodePools, eks: EksNodes, disk_gib: int
    ) -> list[pulumi.CustomResource]:
        out: list[pulumi.CustomResource] = []
        tags = {"k8s.io/cluster-autoscaler/enabled": "true"}
        pool_shape = vp.pool_shape(spec)
        subnets = self._gpu_subnets(eks)
        for capacity, lo, hi, taints in pool_capacities(pools, Cloud.EKS):
            # minSize rises on 3 -> 4 (one base replica per node): the desired size must rise with it.
            scaling = node_group_scaling(self, eks.cluster_name, f"gpu-{capacity}-{pool_shape}", lo, hi)
            out.append(aws.eks.NodeGroup(
                f"{name}-gpu-{capacity}-{pool_shape}",
                cluster_name=eks.cluster.name,
                node_group_name=f"gpu-{capacity}-{pool_shape}",
                node_role_arn=eks.node_role_arn,
                subnet_ids=subnets,
                ami_type=EKS_GPU_AMI,
                capacity_type="SPOT" if capacity == SPOT else "ON_DEMAND",
                instance_types=[spec.accelerator],
                disk_size=disk_gib,
                scaling_config=scaling.scaling_config,
                update_config={"max_unavailable": 1},
                labels=node_labels(capacity, pool_shape),
                taints=taints,
                tags=tags,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    ignore_changes=scaling.ignore_changes,
                    aliases=[pulumi.Alias(name=f"{name}-gpu-{capacity}")],
                ),
            ))  # fmt: skip
        return out

    def _gpu_subnets(self, eks: EksNodes) -> pulumi.Input[Sequence[pulumi.Input[str]]]:
        """The subnets whose AZ sells the instance type. AZ names map to physical AZs per account,
        so the account's own name -> ID mapping is read (EC2 DescribeAvailabilityZones)."""
        if not eks.zone_ids:
            return list(eks.subnet_ids)
        azs = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOutputOptions(parent=self))
        zones, wanted = list(eks.zones), list(eks.zone_ids)

        def pick(args: list[Any]) -> list[str]:
            names, ids, *subnet_ids = args
            mapping = dict(zip(names, ids, strict=True)) if names is not None and ids is not None else None
            return gz.eks_subnets(zones, subnet_ids, mapping, wanted)

        return pulumi.Output.all(azs.names, azs.zone_ids, *eks.subnet_ids).apply(pick)

    # --- workload -----------------------------------------------------------------------------
    def _workload(
        self,
        name: str,
        args: VllmGpuPoolArgs,
        pools: vp.NodePools,
        k8s_deps: list[pulumi.Resource],
        ready: list[pulumi.Resource],
    ) -> None:
        spec, ns = args.spec, args.namespace
        child = pulumi.ResourceOptions(parent=self, depends_on=k8s_deps)
        base_labels = kube.labels(APP, "llm")
        secret_name = f"{APP}-hf-token"

        def meta(name_: str = APP, **extra: Any) -> dict[str, Any]:
            return {"name": name_, "namespace": ns, "labels": base_labels, **extra}

        k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(), automount_service_account_token=False, opts=child
        )
        secret = k8s.core.v1.Secret(
            f"{name}-hf-token",
            metadata=meta(secret_name),
            type="Opaque",
            string_data={"token": pulumi.Output.secret(args.hf_token)},
            opts=child,
        )
        # Room for a surge pod: spot capacity, or on-demand nodes above the base.
        surge = pools.spot_max > 0 or pools.on_demand_max > vp.nodes_for(spec, spec.min_replicas)
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta(annotations=kube.checkov_skips(*CHECKOV_SKIPS)),
            spec=deployment_spec(spec, args.image, secret_name, surge),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[*k8s_deps, secret, *ready],
                custom_timeouts=pulumi.CustomTimeouts(create="45m", update="45m"),
            ),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta(),
            spec={
                "selector": kube.selector(APP),
                "ports": [
                    {
                        "name": HTTP_PORT_NAME,
                        "port": vs.VLLM_PORT,
                        "targetPort": HTTP_PORT_NAME,
                        "protocol": "TCP",
                    }
                ],
            },
            opts=child,
        )
        if spec.max_replicas >= 2:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata=meta(),
                spec={"maxUnavailable": 1, "selector": {"matchLabels": kube.selector(APP)}},
                opts=child,
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(), spec=network_policy_spec(args.monitoring_namespace), opts=child
        )
        if args.monitor_labels is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="ServiceMonitor",
                metadata=meta(labels={**base_labels, **args.monitor_labels}),
                spec={
                    "selector": {"matchLabels": kube.selector(APP)},
                    "endpoints": [{"port": HTTP_PORT_NAME, "path": "/metrics", "interval": "15s"}],
                },
                opts=child,
            )
        self.scaled_object = k8s.apiextensions.CustomResource(
            f"{name}-scaler",
            api_version="keda.sh/v1alpha1",
            kind="ScaledObject",
            metadata=meta(),
            spec=vs.keda_scaled_object_spec(spec, APP, ns, args.prometheus_url, args.autoscaling),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*k8s_deps, self.deployment]),
        )
