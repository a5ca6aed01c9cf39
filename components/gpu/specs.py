"""Kubernetes specs of the vLLM server: its container arguments and resources, and the KEDA
ScaledObject that autoscales it. Pure module: no Pulumi imports.

Autoscaling (seed 001): scale up when GPU utilisation > 85% or queue > 20 or mean latency > 5 s for
three checks in a row, checks every 30 s, scale down after a 10-minute cool-down, 1 to 5 workers.
See :func:`keda_scaled_object_spec`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.gpu.catalog import MODELS, LlmModel
from components.gpu.vllm_plan import VllmPoolSpec, node_shape

VLLM_PORT = 8000
REQUEST_SHARE = 0.75
"""Share of a node's CPU and memory (pro rata to the GPUs a pod takes) that the pod requests;
the rest is left for the kubelet reserve and daemonsets (GPU and node exporters, logging)."""


def _model_of(spec: VllmPoolSpec) -> LlmModel:
    model = MODELS.get(spec.model)
    if model is None:
        raise ValueError(f"unknown model {spec.model!r}: call validate() before planning")
    return model


def vllm_args(spec: VllmPoolSpec) -> list[str]:
    """Arguments of the ``vllm/vllm-openai`` container (its entrypoint is the API server). One
    replica is one node: ``validate`` refuses pipeline parallelism across nodes."""
    model = _model_of(spec)
    if spec.pipeline_parallel_size != 1:
        raise ValueError("pipeline parallelism across nodes is refused: call validate() before planning")
    return [
        "--model", model.hf_id,
        "--served-model-name", model.key,
        "--tensor-parallel-size", str(spec.tensor_parallel_size),
        "--gpu-memory-utilization", f"{spec.gpu_memory_utilization:g}",
        "--max-model-len", str(spec.max_model_len),
        "--port", str(VLLM_PORT),
    ]  # fmt: skip


def container_resources(spec: VllmPoolSpec) -> dict[str, dict[str, str]]:
    """Requests and limits of one vLLM pod (one pipeline stage): ``tp`` GPUs, and when the machine
    is known, :data:`REQUEST_SHARE` of its CPU and memory pro rata to those GPUs (memory limit =
    request, so a pod is never OOM-killed for its neighbour's use)."""
    gpus = str(spec.tensor_parallel_size)
    out: dict[str, dict[str, str]] = {
        "requests": {"nvidia.com/gpu": gpus},
        "limits": {"nvidia.com/gpu": gpus},
    }
    shape = node_shape(spec)
    if shape and shape.machine and shape.gpus_per_node:
        share = spec.tensor_parallel_size / shape.gpus_per_node * REQUEST_SHARE
        cpu = max(1, math.floor(shape.machine.vcpus * share))
        memory = f"{max(1, math.floor(shape.machine.memory_gib * share))}Gi"
        out["requests"] |= {"cpu": str(cpu), "memory": memory}
        out["limits"] |= {"memory": memory}
    return out


@dataclass(frozen=True)
class GpuAutoscaling:
    """The seeds' GPU autoscaler (001), as KEDA and HPA settings."""

    queue_per_replica: int = 20
    """``vllm:num_requests_waiting`` per replica above which to scale up."""
    gpu_util_percent: int = 85
    mean_latency_s: float | None = 5.0
    """Mean end-to-end request latency; None leaves the trigger out."""
    check_interval_s: int = 30
    scale_up_checks: int = 3
    """Consecutive high readings before a scale-up."""
    cooldown_s: int = 600


def keda_scaled_object_spec(
    spec: VllmPoolSpec,
    deployment: str,
    namespace: str,
    prometheus_url: str,
    autoscaling: GpuAutoscaling | None = None,
    target_api_version: str = "apps/v1",
    target_kind: str = "Deployment",
) -> dict[str, object]:
    """``spec`` of a ``keda.sh/v1alpha1`` ScaledObject that scales ``deployment`` between
    ``min_replicas`` and ``max_replicas``.

    Triggers (any one high scales up; the HPA takes the largest recommendation, so scale-down
    needs all of them low): queue length per replica (``AverageValue``: replicas = ceil(queue /
    20)), mean GPU utilisation of the pool's pods and mean request latency (``Value``: replicas
    grow in proportion to value / target). KEDA polls Prometheus every ``check_interval_s`` and the
    triggers use cached metrics, so the HPA sees one reading per check. Scale-up stabilisation of
    ``scale_up_checks x check_interval_s`` (90 s) makes the HPA act only on three high readings in
    a row, adding one replica per such window; scale-down stabilisation and ``cooldownPeriod``
    (the latter counts only for a scale to zero) are the 10-minute cool-down, removing one
    replica per cool-down. The DCGM selector needs the exporter's pod labels kept at scrape time
    (``honorLabels: true`` on its ServiceMonitor), which the MonitoringStack sets.
    """
    policy = autoscaling or GpuAutoscaling()
    model = _model_of(spec)
    vllm_sel = f'namespace="{namespace}",model_name="{model.key}"'
    dcgm_sel = f'namespace="{namespace}",pod=~"{deployment}-[a-z0-9]+-[a-z0-9]+"'
    queries: list[tuple[str, str, str, float]] = [
        (
            "vllm-queue",
            "AverageValue",
            f"sum(vllm:num_requests_waiting{{{vllm_sel}}})",
            policy.queue_per_replica,
        ),
        ("gpu-utilization", "Value", f"avg(DCGM_FI_DEV_GPU_UTIL{{{dcgm_sel}}})", policy.gpu_util_percent),
    ]
    if policy.mean_latency_s is not None:
        latency = (
            f"sum(rate(vllm:e2e_request_latency_seconds_sum{{{vllm_sel}}}[2m])) / "
            f"(sum(rate(vllm:e2e_request_latency_seconds_count{{{vllm_sel}}}[2m])) > 0) or vector(0)"
        )
        queries.append(("mean-latency", "Value", latency, policy.mean_latency_s))
    triggers = [
        {
            "type": "prometheus",
            "name": name,
            "metricType": metric_type,
            "useCachedMetrics": True,
            "metadata": {"serverAddress": prometheus_url, "query": query, "threshold": f"{threshold:g}"},
        }
        for name, metric_type, query, threshold in queries
    ]
    up_window = policy.scale_up_checks * policy.check_interval_s
    return {
        "scaleTargetRef": {"apiVersion": target_api_version, "kind": target_kind, "name": deployment},
        "pollingInterval": policy.check_interval_s,
        "cooldownPeriod": policy.cooldown_s,
        "minReplicaCount": spec.min_replicas,
        "maxReplicaCount": spec.max_replicas,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": deployment,
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": up_window,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": up_window}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": policy.cooldown_s,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": policy.cooldown_s}],
                    },
                },
            }
        },
        "triggers": triggers,
    }
