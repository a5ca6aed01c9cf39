"""VllmGpuPool and the gpu part: validation through stack overrides, GPU node pools per phase and
target, the vLLM workload per phase, and the KEDA ScaledObject.

Stack-level tests read the cached plans of the real stack files (``tests.planning.plan_of``, shared
with test_stacks and test_manifests); validation tests write small stack files into ``tmp_path``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from components.gpu import catalog as gc
from components.gpu import presets as pr
from components.gpu import vllm_plan as vp
from components.gpu.pool import VllmGpuPool, VllmGpuPoolArgs
from components.problems import ConfigError
from infra import catalog
from infra import plan as planner
from infra.parts import gpu as part
from tests.planning import plan_of

COMPONENT = "phasescale:components:VllmGpuPool"
NODE_POOL = "gcp:container/nodePool:NodePool"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SCALED_OBJECT = "kubernetes:keda.sh/v1alpha1:ScaledObject"
RELEASE = "kubernetes:helm.sh/v3:Release"
P = "phasescale:overrides.gpu"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


# --- validation through the stack file ---------------------------------------------------------------
def write_stack(root: Path, target: str = "gke", **config: Any) -> str:
    cluster: dict[str, Any] = {"target": target}
    region: dict[str, Any] = {"location": "asia-northeast3" if target == "gke" else "ap-northeast-2"}
    if target == "gke":
        cluster["gcpProject"] = "p"
    if target == "existing":
        region = {"location": "local", "kubeContext": "kind"}
    doc = {
        "config": {
            "phasescale:phase": 3,
            "phasescale:cluster": cluster,
            "phasescale:regions": {"seoul": region},
            "phasescale:parts": {"gpu": True, "postgres": False, "redis": False, "cdn": False},
            **{f"phasescale:{k}": v for k, v in config.items()},
        }
    }
    (root / "Pulumi.t.yaml").write_text(json.dumps(doc))
    return "t"


def refused(root: Path, monkeypatch: pytest.MonkeyPatch, target: str = "gke", **config: Any) -> list[str]:
    """The rendered problems of the stack, asserting that nothing was registered."""
    registered: list[str] = []
    original = planner._RecordingMonitor.RegisterResource

    def spy(self: Any, request: Any) -> Any:
        registered.append(request.type)
        return original(self, request)

    monkeypatch.setattr(planner._RecordingMonitor, "RegisterResource", spy)
    with pytest.raises(ConfigError) as err:
        planner.run(write_stack(root, target, **config), root=root)
    assert [t for t in registered if t != "pulumi:pulumi:Stack"] == []
    return [p.render() for p in err.value.problems]


def test_tp_3_for_llama_2_13b_is_refused_with_2_or_4(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused(tmp_path, monkeypatch, overrides={"gpu": {"tensorParallelSize": 3}}) == [
        f"{P}.tensorParallelSize: got 3; 3 does not divide the 40 attention heads of "
        "meta-llama/Llama-2-13b-chat-hf, so vLLM refuses to start; use 2 or 4"
    ]


def test_13b_on_one_t4_is_refused_at_the_accelerator_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    t4 = {"tensorParallelSize": 1, "gkeAccelerator": "nvidia-tesla-t4", "gkeMachineType": "n1-standard-8"}
    assert refused(tmp_path, monkeypatch, overrides={"gpu": t4}) == [
        f"{P}.gkeAccelerator: got 'nvidia-tesla-t4'; meta-llama/Llama-2-13b-chat-hf needs 28.4 GiB "
        "(24.3 GiB float16 weights + 3.1 GiB KV cache for one 4096-token sequence + 1.0 GiB runtime at "
        "1 GiB per GPU) but 1 x NVIDIA T4 16GB (15.0 GiB) at gpuMemoryUtilization 0.9 give 13.5 GiB; "
        "use tensorParallelSize 4 or an accelerator with more memory, e.g. nvidia-tesla-a100 (40.0 GiB) "
        "on a2-highgpu-1g"
    ]


def test_machine_without_the_accelerator_and_unknown_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    over = {"gpu": {"gkeMachineType": "a2-highgpu-4g", "model": "llama-9"}}
    got = refused(tmp_path, monkeypatch, overrides=over)
    assert got[0] == (
        f"{P}.gkeMachineType: got 'a2-highgpu-4g'; a2-highgpu-4g does not carry nvidia-l4 (it carries "
        "nvidia-tesla-a100); machine types with nvidia-l4: g2-standard-4, g2-standard-8, g2-standard-12, "
        "g2-standard-16, g2-standard-24, g2-standard-32, g2-standard-48, g2-standard-96"
    )
    assert got[1].startswith(f"{P}.model: got 'llama-9'; one of llama-2-7b-chat, llama-2-13b-chat,")


def test_eks_instance_and_capacity_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    got = refused(tmp_path, monkeypatch, "eks", overrides={"gpu": {"eksInstanceType": "m6i.xlarge"}})
    assert len(got) == 1 and got[0].startswith(
        f"{P}.eksInstanceType: got 'm6i.xlarge'; an EKS GPU instance type: g5.xlarge,"
    )
    assert refused(tmp_path, monkeypatch, "eks", overrides={"gpu": {"spotMaxNodes": 0}}) == [
        f"{P}.maxReplicas: got 5; 5 replica(s) need 5 node(s) but the pools give 1 (on-demand 1 + spot 0); "
        "raise spotMaxNodes to 4"
    ]


def test_existing_target_needs_a_known_machine_and_monitoring_is_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    got = refused(
        tmp_path, monkeypatch, "existing",
        overrides={"gpu": {"gkeMachineType": "big-box"}}, parts={"gpu": True, "monitoring": False, "cdn": False},
    )  # fmt: skip
    assert got[0] == (
        "phasescale:overrides.gpu.gkeMachineType: got 'big-box'; on an existing cluster, a GKE machine type "
        "whose GPU the cluster has: " + ", ".join(gc.GKE_MACHINES)
    )
    assert got[1:] == [
        "phasescale:parts.monitoring: got false; required with parts.gpu: the GPU autoscaler (KEDA) reads "
        "vLLM and DCGM metrics from Prometheus"
    ]


def test_hf_token_is_required_when_the_part_is_on() -> None:
    settings = plan_of("prod", 3).settings
    assert [p for p in part.validate(settings)] == []  # the offline placeholder counts as set
    missing = dataclasses.replace(settings, secrets={})
    assert [p.render() for p in part.validate(missing)] == [
        "phasescale:hfToken: got None; required with parts.gpu: a Hugging Face token with access to the "
        "model (`pulumi config set --secret phasescale:hfToken hf_...`)"
    ]


def test_catalog_gpu_table_mirrors_the_phase_presets() -> None:
    for phase, preset in pr.PHASE_PRESETS.items():
        row = catalog.GPU[phase]
        assert {f: getattr(row, f) for f in type(row).model_fields} == {
            f: getattr(preset, f) for f in type(row).model_fields
        }, phase


# --- node pools per phase and target -----------------------------------------------------------------
# (on-demand min, max), (spot min, max): the base on on-demand nodes, the burst on spot.
GKE_POOLS = {
    1: ("a2-highgpu-1g", "nvidia-tesla-a100", 1, (1, 1), (0, 1)),
    2: ("g2-standard-24", "nvidia-l4", 2, (1, 1), (0, 2)),
    3: ("g2-standard-48", "nvidia-l4", 4, (1, 1), (0, 4)),
    4: ("g2-standard-48", "nvidia-l4", 4, (2, 2), (0, 3)),
}
# Seoul sells A100 40GB and L4 in zones a and b only (components/gpu/zones.py).
SEOUL_GPU_ZONES = ["asia-northeast3-a", "asia-northeast3-b"]


@pytest.mark.parametrize("phase", [1, 2, 3, 4])
def test_gke_on_demand_and_spot_gpu_pools(phase: int) -> None:
    machine, accel, gpus, on_demand, spot = GKE_POOLS[phase]
    plan = plan_of("prod", phase)
    for capacity, (lo, hi) in (("on-demand", on_demand), ("spot", spot)):
        pool = plan.named(NODE_POOL, f"seoul-vllm-gpu-{capacity}-{machine}")
        assert pool.parent == f"{COMPONENT}::seoul-vllm"
        i = pool.inputs
        assert i["name"] == f"gpu-{capacity}-{machine}" and i["cluster"] == "prod-seoul"
        assert i["nodeLocations"] == SEOUL_GPU_ZONES
        assert i["autoscaling"] == {"totalMinNodeCount": lo, "totalMaxNodeCount": hi, "locationPolicy": "ANY"}
        n = i["nodeConfig"]
        assert n["machineType"] == machine and n["spot"] is (capacity == "spot")
        assert n["guestAccelerators"] == [
            {"type": accel, "count": gpus, "gpuDriverInstallationConfig": {"gpuDriverVersion": "LATEST"}}
        ]
        taints = [{"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}]
        if capacity == "spot":
            taints.append({"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"})
        assert n["taints"] == taints
        assert n["labels"] == {
            "phasescale/pool": "gpu",
            "phasescale/capacity": capacity,
            "phasescale/gpu-shape": machine,
            "nvidia.com/gpu.present": "true",
        }
        assert n["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
        assert n["shieldedInstanceConfig"] == {"enableSecureBoot": True, "enableIntegrityMonitoring": True}
        assert n["serviceAccount"].endswith("@mock.iam.gserviceaccount.com")
    assert not [r for r in plan.of_type(RELEASE) if r.inputs["chart"] == "nvidia-device-plugin"]


EKS_GROUPS = {
    1: ("g6e.xlarge", (1, 1), (0, 1)),
    2: ("g6.12xlarge", (1, 1), (0, 2)),  # tp 2: two replicas per 4-GPU node
    3: ("g6.12xlarge", (1, 1), (0, 4)),
    4: ("g6.12xlarge", (2, 2), (0, 3)),
}


@pytest.mark.parametrize("phase", [1, 2, 3, 4])
def test_eks_managed_gpu_node_groups_and_device_plugin(phase: int) -> None:
    instance, on_demand, spot = EKS_GROUPS[phase]
    plan = plan_of("prod-aws", phase)
    for capacity, (lo, hi) in (("on-demand", on_demand), ("spot", spot)):
        shape = instance.replace(".", "-")
        i = plan.named(NODE_GROUP, f"seoul-vllm-gpu-{capacity}-{shape}").inputs
        assert i["nodeGroupName"] == f"gpu-{capacity}-{shape}"
        assert i["amiType"] == "AL2023_x86_64_NVIDIA"
        assert i["capacityType"] == ("SPOT" if capacity == "spot" else "ON_DEMAND")
        assert i["instanceTypes"] == [instance]
        assert i["scalingConfig"] == {"minSize": lo, "desiredSize": lo, "maxSize": hi}
        assert i["taints"][0] == {"key": "nvidia.com/gpu", "value": "present", "effect": "NO_SCHEDULE"}
        assert i["labels"]["phasescale/capacity"] == capacity and i["labels"]["phasescale/gpu-shape"] == shape
    (plugin,) = [r for r in plan.of_type(RELEASE) if r.name == "seoul-vllm-device-plugin"]
    assert (plugin.inputs["chart"], plugin.inputs["namespace"]) == ("nvidia-device-plugin", "nvidia")
    assert plugin.inputs["values"]["nodeSelector"] == {"phasescale/pool": "gpu"}
    assert GPU_TOLERATION in plugin.inputs["values"]["tolerations"]


def test_dcgm_exporter_on_gpu_nodes_scraped_with_pod_labels_kept() -> None:
    for stack in ("prod", "prod-aws"):
        rel = plan_of(stack, 3).named(RELEASE, "seoul-vllm-dcgm-exporter").inputs
        assert (rel["chart"], rel["version"], rel["namespace"]) == ("dcgm-exporter", "4.8.2", "nvidia")
        v = rel["values"]
        assert v["serviceMonitor"] == {
            "enabled": True, "interval": "15s", "honorLabels": True, "additionalLabels": {"release": "monitoring"},
        }  # fmt: skip
        assert v["nodeSelector"] == {"phasescale/pool": "gpu"} and GPU_TOLERATION in v["tolerations"]
        assert v["securityContext"]["capabilities"] == {"add": [], "drop": ["ALL"]}  # no SYS_ADMIN
        assert v["securityContext"].get("privileged", False) is (stack == "prod")  # GKE: host driver


def test_names_never_contain_the_phase_and_pools_are_named_by_their_shape() -> None:
    def children(phase: int) -> set[tuple[str, str]]:
        return {(r.type, r.name) for r in plan_of("prod", phase).records if "seoul-vllm" in r.name}

    def pools(phase: int) -> set[str]:
        return {name for type_, name in children(phase) if type_ == NODE_POOL}

    def others(phase: int) -> set[tuple[str, str]]:
        return {c for c in children(phase) if c[0] != NODE_POOL}

    assert others(1) == others(2) == others(3) == others(4)
    assert (DEPLOYMENT, "seoul-vllm") in others(1)
    for phase, (machine, *_) in GKE_POOLS.items():
        assert pools(phase) == {f"seoul-vllm-gpu-on-demand-{machine}", f"seoul-vllm-gpu-spot-{machine}"}
    assert pools(3) == pools(4)  # same shape: the pools are resized in place
    assert plan_of("prod", 4).named(DEPLOYMENT, "tokyo-vllm").inputs["metadata"]["name"] == "vllm"


# --- the workload -----------------------------------------------------------------------------------
WORKLOAD = {  # phase: tp, GPUs per pod, /dev/shm, node selector value, spot toleration
    1: ("1", "1", "2Gi", "nvidia-tesla-a100"),
    2: ("2", "2", "4Gi", "nvidia-l4"),
    3: ("4", "4", "8Gi", "nvidia-l4"),
    4: ("4", "4", "8Gi", "nvidia-l4"),
}


@pytest.mark.parametrize("phase", [1, 2, 3, 4])
def test_deployment_per_phase(phase: int) -> None:
    tp, gpus, shm, accel = WORKLOAD[phase]
    dep = plan_of("prod", phase).named(DEPLOYMENT, "seoul-vllm").inputs
    assert "replicas" not in dep["spec"]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "vllm/vllm-openai:v0.28.0-cu129"
    assert c["args"] == [
        "--model", "meta-llama/Llama-2-13b-chat-hf", "--served-model-name", "llama-2-13b-chat",
        "--tensor-parallel-size", tp, "--gpu-memory-utilization", "0.9", "--max-model-len", "4096",
        "--port", "8000",
    ]  # fmt: skip
    assert c["resources"]["requests"]["nvidia.com/gpu"] == c["resources"]["limits"]["nvidia.com/gpu"] == gpus
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": shm}
    assert volumes["models"]["emptyDir"] == {"sizeLimit": "31Gi"}  # 24.3 GiB of weights x 1.25
    assert {m["name"]: m["mountPath"] for m in c["volumeMounts"]} == {
        "dshm": "/dev/shm",
        "models": "/models",
        "tmp": "/tmp",
    }
    assert c["startupProbe"] == {
        "httpGet": {"path": "/health", "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 5,
        "failureThreshold": 180,
    }  # fmt: skip
    assert (
        c["readinessProbe"]["httpGet"] == c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    )
    machine = GKE_POOLS[phase][0]
    assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": accel, "phasescale/gpu-shape": machine}
    assert pod["tolerations"] == [
        GPU_TOLERATION,
        {"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
    ]
    assert pod["affinity"]["nodeAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"] == [
        {"weight": 100, "preference": {"matchExpressions": [
            {"key": "phasescale/capacity", "operator": "In", "values": ["on-demand"]}]}}
    ]  # fmt: skip


def test_deployment_runs_non_root_with_writable_volumes_and_the_token_from_a_secret() -> None:
    plan = plan_of("prod-aws", 3)
    pod = plan.named(DEPLOYMENT, "seoul-vllm").inputs["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert pod["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    env = {e["name"]: e for e in c["env"]}
    assert env["HF_TOKEN"]["valueFrom"] == {"secretKeyRef": {"name": "vllm-hf-token", "key": "token"}}
    assert (env["HOME"]["value"], env["HF_HOME"]["value"], env["VLLM_CACHE_ROOT"]["value"]) == (
        "/tmp/home", "/models/huggingface", "/models/vllm",
    )  # fmt: skip
    assert pod["nodeSelector"] == {
        "node.kubernetes.io/instance-type": "g6.12xlarge",
        "phasescale/gpu-shape": "g6-12xlarge",
    }
    assert {"key": "phasescale/spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"} in pod[
        "tolerations"
    ]
    secret = plan.named("kubernetes:core/v1:Secret", "seoul-vllm-hf-token").inputs
    assert secret["stringData"] == {"token": planner.REDACTED}


def test_service_pdb_network_policy_and_service_monitor() -> None:
    plan = plan_of("prod", 1)
    svc = plan.named("kubernetes:core/v1:Service", "seoul-vllm-svc").inputs["spec"]
    assert svc["ports"] == [{"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}]
    pdb = plan.named("kubernetes:policy/v1:PodDisruptionBudget", "seoul-vllm-pdb").inputs["spec"]
    assert pdb["maxUnavailable"] == 1
    netpol = plan.named("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-vllm-netpol").inputs["spec"]
    assert netpol["ingress"] == [{
        "from": [{"podSelector": {}},
                 {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": 8000}],
    }]  # fmt: skip
    mon = plan.named("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-vllm-monitor").inputs
    assert mon["metadata"]["labels"]["release"] == "monitoring"
    assert mon["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_keda_scaled_object_exact_spec() -> None:
    so = plan_of("prod", 3).named(SCALED_OBJECT, "seoul-vllm-scaler").inputs
    assert so["metadata"]["name"] == "vllm" and so["metadata"]["namespace"] == "phasescale"
    prom = "http://monitoring-prometheus.monitoring.svc:9090"
    sel = 'namespace="phasescale",model_name="llama-2-13b-chat"'
    assert so["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "vllm"},
        "pollingInterval": 30,
        "cooldownPeriod": 600,
        "minReplicaCount": 1,
        "maxReplicaCount": 5,
        "advanced": {"horizontalPodAutoscalerConfig": {"name": "vllm", "behavior": {
            "scaleUp": {"stabilizationWindowSeconds": 90, "selectPolicy": "Max",
                        "policies": [{"type": "Pods", "value": 1, "periodSeconds": 90}]},
            "scaleDown": {"stabilizationWindowSeconds": 600, "selectPolicy": "Max",
                          "policies": [{"type": "Pods", "value": 1, "periodSeconds": 600}]},
        }}},
        "triggers": [
            {"type": "prometheus", "name": "vllm-queue", "metricType": "AverageValue", "useCachedMetrics": True,
             "metadata": {"serverAddress": prom, "threshold": "20",
                          "query": f"sum(vllm:num_requests_waiting{{{sel}}})"}},
            {"type": "prometheus", "name": "gpu-utilization", "metricType": "Value", "useCachedMetrics": True,
             "metadata": {"serverAddress": prom, "threshold": "85",
                          "query": 'avg(DCGM_FI_DEV_GPU_UTIL{namespace="phasescale",pod=~"vllm-[a-z0-9]+-[a-z0-9]+"})'}},
            {"type": "prometheus", "name": "mean-latency", "metricType": "Value", "useCachedMetrics": True,
             "metadata": {"serverAddress": prom, "threshold": "5",
                          "query": f"sum(rate(vllm:e2e_request_latency_seconds_sum{{{sel}}}[2m])) / "
                                   f"(sum(rate(vllm:e2e_request_latency_seconds_count{{{sel}}}[2m])) > 0) "
                                   "or vector(0)"}},
        ],
    }  # fmt: skip
    assert plan_of("prod", 4).named(SCALED_OBJECT, "seoul-vllm-scaler").inputs["spec"]["minReplicaCount"] == 2


def test_summary_per_phase() -> None:
    assert part.summary(part.spec(plan_of("prod", 4).settings)) == {
        "model": "llama-2-13b-chat", "tp": 4, "pp": 1, "gpusPerReplica": 4, "replicas": "2-5",
        "hardware": "nvidia-l4 on g2-standard-48", "nodePools": {"onDemand": "2-2", "spot": "0-3"},
    }  # fmt: skip
    assert part.summary(part.spec(plan_of("prod-aws", 1).settings))["hardware"] == "g6e.xlarge"


# --- the component on its own --------------------------------------------------------------------------
def test_existing_cluster_gets_no_nodes_only_selectors_and_tolerations() -> None:
    spec = pr.PHASE_PRESETS[2].spec(vp.Cloud.EXISTING)
    args = VllmGpuPoolArgs(
        spec=spec, namespace="app", hf_token="t", prometheus_url="http://prom:9090", dcgm_exporter=False
    )
    records = planner.record(lambda: VllmGpuPool("local-vllm", args))
    assert sorted((r.type, r.name) for r in records) == [
        (DEPLOYMENT, "local-vllm"),
        ("kubernetes:core/v1:Secret", "local-vllm-hf-token"),
        ("kubernetes:core/v1:Service", "local-vllm-svc"),
        ("kubernetes:core/v1:ServiceAccount", "local-vllm-sa"),
        (SCALED_OBJECT, "local-vllm-scaler"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "local-vllm-netpol"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "local-vllm-pdb"),
        (COMPONENT, "local-vllm"),
    ]
    pod = next(r for r in records if r.type == DEPLOYMENT).inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-L4"}
    assert pod["tolerations"] == [GPU_TOLERATION]
