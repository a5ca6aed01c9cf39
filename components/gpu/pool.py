"""VllmGpuPool: one vLLM server pool on GPU nodes, with spot burst capacity, autoscaled by KEDA.

Children (names derive from the component's name, never from the phase, so a phase change updates
them in place):

- GPU nodes. GKE: an on-demand and a spot ``NodePool`` (driver installed by GKE); EKS: an
  on-demand and a spot managed ``NodeGroup`` on the AL2023 NVIDIA AMI plus the NVIDIA device
  plugin chart (that AMI carries the driver and container toolkit, not the plugin); existing:
  no nodes, only node selectors and tolerations. Every GPU node has the
  ``nvidia.com/gpu=present:NoSchedule`` taint, spot nodes also a spot taint, so only pods that
  ask for them land there. The on-demand pool holds the base (``min_replicas``), the spot pool the
  burst (sizes from :func:`components.gpu.vllm_plan.node_pools`).
- The DCGM exporter chart on the GPU nodes, whose ServiceMonitor keeps the exporter's ``namespace``
  and ``pod`` labels (``honorLabels``) so the KEDA GPU trigger can select the pool's pods.
- The workload: ServiceAccount, HF token Secret, Deployment of ``vllm/vllm-openai``, Service
  (port 8000), PodDisruptionBudget, NetworkPolicy, ServiceMonitor and the KEDA ScaledObject.

Model cache: a per-pod ``emptyDir`` on the node's disk with a size limit, not a PVC. KEDA scales
the Deployment across nodes and zones, which a ReadWriteOnce volume cannot follow, and a
ReadWriteMany share (Filestore, EFS) costs more than it saves for one 26 GB download per pod
start at cloud bandwidth (a few minutes, inside the 30-minute start-up budget). Spot pods are
short-lived anyway.

Security: vLLM's image runs as root; here it runs as UID 10001 with a read-only root file system.
Everything it writes goes to mounted volumes: ``HOME`` (Triton, torch compile, FlashInfer caches)
on ``/tmp``, ``HF_HOME`` and ``VLLM_CACHE_ROOT`` on the cache volume, NCCL on ``/dev/shm``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from components import kube
from components.gpu import vllm_plan as vp
from components.gpu.catalog import GIB, MODELS
from components.gpu.vllm_plan import Cloud, VllmPoolSpec
from components.helm import release
from components.versions import IMAGES

TYPE = "phasescale:components:VllmGpuPool"
APP = "vllm"
"""Kubernetes name of the Deployment, Service, ScaledObject, ... (``vllm.<namespace>.svc:8000``)."""
NODE_AGENTS_NAMESPACE = "nvidia"
"""Device plugin and DCGM exporter: node agents with host access, kept out of the app namespace."""

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SPOT_TAINT_KEY = {Cloud.GKE: "cloud.google.com/gke-spot", Cloud.EKS: "phasescale/spot"}
"""GKE's documented taint for Spot pools; on EKS our own (its capacity-type label is set by EKS)."""
POOL_LABEL = "phasescale/pool"
CAPACITY_LABEL = "phasescale/capacity"
ON_DEMAND, SPOT = "on-demand", "spot"

HTTP_PORT_NAME = "http"
STARTUP_BUDGET_S = 1800
"""Model download and load: 26 GB of Llama-2-13b weights plus CUDA graph capture."""
PROBE_PERIOD_S = 10
SHM_GIB_PER_GPU = 2
"""NCCL and the tensor-parallel workers exchange through /dev/shm (memory-backed, counted in the
pod's memory limit)."""
CACHE_HEADROOM = 1.25
"""Model cache size limit over the weights: tokenizer, config and a partial download in flight."""
TMP_GIB = 10
"""/tmp holds ``HOME``: Triton, torch.compile and FlashInfer kernel caches."""
GRACE_S = 120
"""Time for in-flight generations to finish on scale-down (AWS gives a spot node 2 minutes)."""

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


# --- Pure specs ------------------------------------------------------------------------------------
def cache_gib(spec: VllmPoolSpec) -> int:
    """Size limit of the model cache volume: the weights with :data:`CACHE_HEADROOM`."""
    model = MODELS[spec.model]
    return math.ceil(model.weights_bytes / GIB * CACHE_HEADROOM)


def shm_gib(spec: VllmPoolSpec) -> int:
    return SHM_GIB_PER_GPU * spec.tensor_parallel_size


def gpu_tolerations(cloud: Cloud) -> list[dict[str, str]]:
    """Tolerate the GPU taint, and on clouds where we make spot nodes, the spot taint."""
    out = [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}]
    if cloud in SPOT_TAINT_KEY:
        out.append(
            {"key": SPOT_TAINT_KEY[cloud], "operator": "Equal", "value": "true", "effect": "NoSchedule"}
        )
    return out


def gpu_node_selector(spec: VllmPoolSpec) -> dict[str, str]:
    """Where the pool's pods (and the GPU node agents) run: the pool's hardware label."""
    shape = vp.node_shape(spec)
    if shape is None:
        raise ValueError(f"unknown hardware {spec.accelerator!r}: call validate() before planning")
    return dict(shape.node_selector)


def node_labels(capacity: str) -> dict[str, str]:
    """Labels of our GPU nodes; ``nvidia.com/gpu.present`` is what the device plugin chart selects."""
    return {POOL_LABEL: "gpu", CAPACITY_LABEL: capacity, "nvidia.com/gpu.present": "true"}


def affinity() -> dict[str, Any]:
    """Prefer on-demand nodes: the base replicas land there, the burst spills onto spot."""
    return {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "preference": {
                        "matchExpressions": [{"key": CAPACITY_LABEL, "operator": "In", "values": [ON_DEMAND]}]
                    },
                }
            ]
        }
    }


def env(spec: VllmPoolSpec, secret_name: str) -> list[dict[str, Any]]:
    return [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "token"}}},
        {"name": "HOME", "value": "/tmp/home"},
        {"name": "HF_HOME", "value": "/models/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": "/models/vllm"},
        {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
        {"name": "DO_NOT_TRACK", "value": "1"},
    ]


def container(spec: VllmPoolSpec, image: str, secret_name: str) -> dict[str, Any]:
    res = vp.container_resources(spec)
    res["requests"]["ephemeral-storage"] = f"{cache_gib(spec) + TMP_GIB}Gi"
    probe = {
        "httpGet": {"path": "/health", "port": HTTP_PORT_NAME},
        "periodSeconds": PROBE_PERIOD_S,
        "timeoutSeconds": 5,
    }
    return {
        "name": "vllm",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": vp.vllm_args(spec),
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": vp.VLLM_PORT, "protocol": "TCP"}],
        "env": env(spec, secret_name),
        "resources": res,
        "startupProbe": {**probe, "failureThreshold": STARTUP_BUDGET_S // PROBE_PERIOD_S},
        "readinessProbe": {**probe, "failureThreshold": 3},
        "livenessProbe": {**probe, "failureThreshold": 6},
        "securityContext": kube.container_security_context(),
        "volumeMounts": [
            {"name": "dshm", "mountPath": "/dev/shm"},
            {"name": "models", "mountPath": "/models"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }


def deployment_spec(spec: VllmPoolSpec, image: str, secret_name: str, surge: bool) -> dict[str, Any]:
    """Replicas are left to the ScaledObject. ``surge``: a rollout may start one extra pod first
    (there is node room for it, on spot), else it replaces one pod at a time."""
    rolling = {"maxSurge": 1, "maxUnavailable": 0} if surge else {"maxSurge": 0, "maxUnavailable": 1}
    return {
        "selector": {"matchLabels": kube.selector(APP)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": rolling},
        "template": {
            "metadata": {"labels": kube.labels(APP, "llm")},
            "spec": {
                "serviceAccountName": APP,
                "automountServiceAccountToken": False,
                "securityContext": kube.pod_security_context(),
                "terminationGracePeriodSeconds": GRACE_S,
                "nodeSelector": gpu_node_selector(spec),
                "tolerations": gpu_tolerations(spec.cloud),
                "affinity": affinity(),
                "topologySpreadConstraints": kube.zone_spread(APP),
                "containers": [container(spec, image, secret_name)],
                "volumes": [
                    {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": f"{shm_gib(spec)}Gi"}},
                    {"name": "models", "emptyDir": {"sizeLimit": f"{cache_gib(spec)}Gi"}},
                    {"name": "tmp", "emptyDir": {"sizeLimit": f"{TMP_GIB}Gi"}},
                ],
            },
        },
    }


def network_policy_spec(monitoring_namespace: str | None) -> dict[str, Any]:
    """Port 8000 from every pod of the app namespace (the services that call the LLM) and from
    Prometheus' namespace; nothing else."""
    peers: list[dict[str, Any]] = [{"podSelector": {}}]
    if monitoring_namespace:
        peers.append(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": monitoring_namespace}}}
        )
    return {
        "podSelector": {"matchLabels": kube.selector(APP)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": vp.VLLM_PORT}]}],
    }


def dcgm_values(
    spec: VllmPoolSpec, monitor_labels: Mapping[str, str] | None, node_selector: dict[str, str]
) -> dict[str, Any]:
    """dcgm-exporter chart values: on the GPU nodes only, scraped with the pods' labels kept.
    Default counters only (no profiling metrics), so no SYS_ADMIN. On GKE the driver lives on the
    host under /home/kubernetes/bin/nvidia (GKE's own DCGM instructions mount it) and device IDs
    are reported by name."""
    values: dict[str, Any] = {
        "image": {"tag": IMAGES["dcgm-exporter"].tag},
        "securityContext": {
            "runAsNonRoot": False,
            "runAsUser": 0,
            # the chart adds SYS_ADMIN for profiling metrics, which the default counters do not read
            "capabilities": {"add": [], "drop": ["ALL"]},
            "allowPrivilegeEscalation": False,
        },
        "serviceMonitor": {
            "enabled": monitor_labels is not None,
            "interval": "15s",
            "honorLabels": True,
            "additionalLabels": dict(monitor_labels or {}),
        },
        "nodeSelector": node_selector,
        "tolerations": gpu_tolerations(spec.cloud),
    }
    if spec.cloud == Cloud.GKE:
        # The pod asks for no GPU, so GKE's device plugin mounts none: it reaches them privileged
        # (Helm merges this over the default, and privileged excludes allowPrivilegeEscalation false).
        values["securityContext"] |= {"privileged": True, "allowPrivilegeEscalation": True}
        values["extraHostVolumes"] = [
            {"name": "nvidia-install-dir-host", "hostPath": "/home/kubernetes/bin/nvidia"}
        ]
        values["extraVolumeMounts"] = [
            # the chart's default mount (a list value replaces the default list)
            {"name": "exporter-metrics-volume", "mountPath": "/etc/dcgm-exporter/default-counters.csv",
             "subPath": "default-counters.csv"},
            {"name": "nvidia-install-dir-host", "mountPath": "/usr/local/nvidia", "readOnly": True},
        ]  # fmt: skip
        values["extraEnv"] = [
            {"name": "LD_LIBRARY_PATH", "value": "/usr/local/nvidia/lib64"},
            {"name": "DCGM_EXPORTER_KUBERNETES_GPU_ID_TYPE", "value": "device-name"},
        ]
    return values


def device_plugin_values(spec: VllmPoolSpec, node_selector: dict[str, str]) -> dict[str, Any]:
    return {"nodeSelector": node_selector, "tolerations": gpu_tolerations(spec.cloud)}


# --- Cloud targets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class GkeNodes:
    """Where GKE GPU node pools go."""

    cluster: gcp.container.Cluster
    node_account_email: pulumi.Input[str]
    project: str
    location: str
    node_locations: tuple[str, ...] = ()
    """Zones with the accelerator; empty: the cluster's."""


@dataclass(frozen=True)
class EksNodes:
    """Where EKS GPU node groups go."""

    cluster: aws.eks.Cluster
    node_role_arn: pulumi.Input[str]
    subnet_ids: Sequence[pulumi.Input[str]]


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
    """Checked by :func:`components.gpu.vllm_plan.validate` before this component is built."""
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
    autoscaling: vp.GpuAutoscaling = field(default_factory=vp.GpuAutoscaling)
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
        out: list[pulumi.CustomResource] = []
        for capacity, lo, hi, taints in pool_capacities(pools, Cloud.GKE):
            out.append(gcp.container.NodePool(
                f"{name}-gpu-{capacity}",
                name=f"gpu-{capacity}",
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
                        # LATEST: the vLLM image's CUDA 13 build needs a recent driver (see versions.py)
                        "gpu_driver_installation_config": {"gpu_driver_version": "LATEST"},
                    }],
                    "disk_size_gb": disk_gib,
                    "disk_type": "pd-balanced",
                    "image_type": "COS_CONTAINERD",
                    "service_account": gke.node_account_email,
                    "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                    "workload_metadata_config": {"mode": "GKE_METADATA"},
                    "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
                    "metadata": {"disable-legacy-endpoints": "true"},
                    "labels": node_labels(capacity),
                    "taints": taints,
                },
                opts=pulumi.ResourceOptions(parent=self),
            ))  # fmt: skip
        return out

    def _eks_groups(
        self, name: str, spec: VllmPoolSpec, pools: vp.NodePools, eks: EksNodes, disk_gib: int
    ) -> list[pulumi.CustomResource]:
        out: list[pulumi.CustomResource] = []
        tags = {"k8s.io/cluster-autoscaler/enabled": "true"}
        for capacity, lo, hi, taints in pool_capacities(pools, Cloud.EKS):
            out.append(aws.eks.NodeGroup(
                f"{name}-gpu-{capacity}",
                cluster_name=eks.cluster.name,
                node_group_name=f"gpu-{capacity}",
                node_role_arn=eks.node_role_arn,
                subnet_ids=list(eks.subnet_ids),
                ami_type="AL2023_x86_64_NVIDIA",
                capacity_type="SPOT" if capacity == SPOT else "ON_DEMAND",
                instance_types=[spec.accelerator],
                disk_size=disk_gib,
                scaling_config={"min_size": lo, "desired_size": lo, "max_size": hi},
                update_config={"max_unavailable": 1},
                labels=node_labels(capacity),
                taints=taints,
                tags=tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["scalingConfig.desiredSize"]),
            ))  # fmt: skip
        return out

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
                        "port": vp.VLLM_PORT,
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
            spec=vp.keda_scaled_object_spec(spec, APP, ns, args.prometheus_url, args.autoscaling),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*k8s_deps, self.deployment]),
        )
