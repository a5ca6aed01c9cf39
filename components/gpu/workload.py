"""Pure Kubernetes specs of VllmGpuPool: the vLLM pod and its Deployment, the NetworkPolicy, the
GPU node labels, selectors and tolerations, and the values of the node-agent charts (DCGM
exporter, NVIDIA device plugin). Pure module: no Pulumi imports; the component in
:mod:`components.gpu.pool` wraps them in resources.

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
from collections.abc import Mapping
from typing import Any

from components import kube
from components.gpu import specs as vs
from components.gpu import vllm_plan as vp
from components.gpu.catalog import GIB, MODELS
from components.gpu.vllm_plan import Cloud, VllmPoolSpec
from components.versions import IMAGES

APP = "vllm"
"""Kubernetes name of the Deployment, Service, ScaledObject, ... (``vllm.<namespace>.svc:8000``)."""

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SPOT_TAINT_KEY = {Cloud.GKE: "cloud.google.com/gke-spot", Cloud.EKS: "phasescale/spot"}
"""GKE's documented taint for Spot pools; on EKS our own (its capacity-type label is set by EKS)."""
POOL_LABEL = "phasescale/pool"
CAPACITY_LABEL = "phasescale/capacity"
SHAPE_LABEL = "phasescale/gpu-shape"
"""The node's :func:`components.gpu.vllm_plan.pool_shape`: vLLM selects it, so on a phase move the
new pods land only on the new pool while the old pool keeps serving until they are ready."""
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
    """Where the pool's pods run: the pool's hardware label and, on the nodes we make, its shape
    (an existing cluster's node agents use this selector too)."""
    shape = vp.node_shape(spec)
    if shape is None:
        raise ValueError(f"unknown hardware {spec.accelerator!r}: call validate() before planning")
    if spec.cloud in (Cloud.GKE, Cloud.EKS):
        return {**shape.node_selector, SHAPE_LABEL: vp.pool_shape(spec)}
    return dict(shape.node_selector)


def node_labels(capacity: str, shape: str) -> dict[str, str]:
    """Labels of our GPU nodes; ``nvidia.com/gpu.present`` is what the device plugin chart selects."""
    return {POOL_LABEL: "gpu", CAPACITY_LABEL: capacity, SHAPE_LABEL: shape, "nvidia.com/gpu.present": "true"}


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
    res = vs.container_resources(spec)
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
        "args": vs.vllm_args(spec),
        "ports": [{"name": HTTP_PORT_NAME, "containerPort": vs.VLLM_PORT, "protocol": "TCP"}],
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
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": vs.VLLM_PORT}]}],
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
