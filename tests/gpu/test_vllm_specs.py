"""vLLM server specs: container arguments and resources, the KEDA ScaledObject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.gpu import presets as pr
from components.gpu import specs as vs
from components.gpu.vllm_plan import Cloud
from tests.gpu.common import gke


# --- container ------------------------------------------------------------------------------------
def test_vllm_args_phase_1() -> None:
    assert vs.vllm_args(pr.PHASE_PRESETS[1].spec(Cloud.GKE)) == [
        "--model", "meta-llama/Llama-2-13b-chat-hf",
        "--served-model-name", "llama-2-13b-chat",
        "--tensor-parallel-size", "1",
        "--gpu-memory-utilization", "0.9",
        "--max-model-len", "4096",
        "--port", "8000",
    ]  # fmt: skip


def test_vllm_args_never_start_a_ray_backend() -> None:
    """A Ray executor in a plain Deployment can never form its cluster: pp > 1 is refused by
    validate(), and the arguments refuse it too rather than emit ``--distributed-executor-backend ray``."""
    with pytest.raises(ValueError, match="pipeline parallelism across nodes is refused"):
        vs.vllm_args(gke(model="llama-2-70b-chat", pipeline_parallel_size=2))
    assert "ray" not in vs.vllm_args(gke())


def test_vllm_args_refuse_an_unvalidated_model() -> None:
    with pytest.raises(ValueError, match="call validate"):
        vs.vllm_args(gke(model="llama-4"))


def test_container_resources() -> None:
    assert vs.container_resources(pr.PHASE_PRESETS[2].spec(Cloud.EKS)) == {
        # half of a g6.12xlarge (48 vCPU, 192 GiB), 75% of it
        "requests": {"nvidia.com/gpu": "2", "cpu": "18", "memory": "72Gi"},
        "limits": {"nvidia.com/gpu": "2", "memory": "72Gi"},
    }
    assert vs.container_resources(pr.PHASE_PRESETS[2].spec(Cloud.EXISTING)) == {
        "requests": {"nvidia.com/gpu": "2"},
        "limits": {"nvidia.com/gpu": "2"},
    }


# --- KEDA -----------------------------------------------------------------------------------------
def test_keda_scaled_object_spec() -> None:
    spec = vs.keda_scaled_object_spec(
        pr.PHASE_PRESETS[4].spec(Cloud.GKE), "seoul-vllm", "llm", "http://prometheus.monitoring:9090"
    )
    vllm_sel = 'namespace="llm",model_name="llama-2-13b-chat"'

    def trigger(name: str, metric_type: str, query: str, threshold: str) -> dict[str, object]:
        return {
            "type": "prometheus",
            "name": name,
            "metricType": metric_type,
            "useCachedMetrics": True,
            "metadata": {
                "serverAddress": "http://prometheus.monitoring:9090",
                "query": query,
                "threshold": threshold,
            },
        }

    assert spec == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "seoul-vllm"},
        "pollingInterval": 30,
        "cooldownPeriod": 600,
        "minReplicaCount": 2,
        "maxReplicaCount": 5,
        "advanced": {
            "horizontalPodAutoscalerConfig": {
                "name": "seoul-vllm",
                "behavior": {
                    "scaleUp": {
                        "stabilizationWindowSeconds": 90,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 90}],
                    },
                    "scaleDown": {
                        "stabilizationWindowSeconds": 600,
                        "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}],
                    },
                },
            }
        },
        "triggers": [
            trigger("vllm-queue", "AverageValue", f"sum(vllm:num_requests_waiting{{{vllm_sel}}})", "20"),
            trigger(
                "gpu-utilization", "Value",
                'avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"seoul-vllm-[a-z0-9]+-[a-z0-9]+"})', "85",
            ),
            trigger(
                "mean-latency", "Value",
                f"sum(rate(vllm:e2e_request_latency_seconds_sum{{{vllm_sel}}}[2m])) / "
                f"(sum(rate(vllm:e2e_request_latency_seconds_count{{{vllm_sel}}}[2m])) > 0) or vector(0)",
                "5",
            ),
        ],
    }  # fmt: skip


def test_keda_policy_is_configurable() -> None:
    policy = vs.GpuAutoscaling(
        queue_per_replica=10, mean_latency_s=None, check_interval_s=15, scale_up_checks=4
    )
    target = ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
    spec = vs.keda_scaled_object_spec(gke(), "d", "ns", "http://p:9090", policy, *target)
    assert spec["scaleTargetRef"] == {
        "apiVersion": "leaderworkerset.x-k8s.io/v1",
        "kind": "LeaderWorkerSet",
        "name": "d",
    }
    assert spec["pollingInterval"] == 15
    triggers = spec["triggers"]
    assert isinstance(triggers, list)
    assert [(t["name"], t["metadata"]["threshold"]) for t in triggers] == [
        ("vllm-queue", "10"),
        ("gpu-utilization", "85"),
    ]
    advanced = spec["advanced"]
    assert isinstance(advanced, dict)
    assert (
        advanced["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 60
    )


# --- properties -----------------------------------------------------------------------------------
@given(
    min_replicas=st.integers(0, 5),
    extra=st.integers(0, 5),
    interval=st.integers(10, 60),
    checks=st.integers(1, 5),
)
def test_keda_bounds_and_windows_follow_the_inputs(
    min_replicas: int, extra: int, interval: int, checks: int
) -> None:
    pool = gke(min_replicas=min_replicas, max_replicas=min_replicas + extra + 1)
    policy = vs.GpuAutoscaling(check_interval_s=interval, scale_up_checks=checks)
    spec = vs.keda_scaled_object_spec(pool, "d", "ns", "http://p", policy)
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (pool.min_replicas, pool.max_replicas)
    advanced = spec["advanced"]
    assert isinstance(advanced, dict)
    assert advanced["horizontalPodAutoscalerConfig"]["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == (
        interval * checks
    )
