"""Every chart and image version phasescale deploys, pinned exactly, in one place.

Bumping a version is a reviewed one-line change here; nothing else in the code names a version.
Each entry says where its figure was read so the next bump knows where to look.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to an exact version in a named repository."""

    name: str
    version: str
    repo: str
    """Chart repository URL (or ``oci://`` registry prefix)."""
    source: str
    """Where this version was read (repository and file)."""


CHARTS: dict[str, Chart] = {
    "keda": Chart(
        "keda",
        "2.20.2",
        "https://kedacore.github.io/charts",
        "kedacore/charts keda/Chart.yaml",
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack",
        "88.5.3",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack/Chart.yaml",
    ),
    "cloudnative-pg": Chart(
        "cloudnative-pg",
        "0.29.0",
        "https://cloudnative-pg.github.io/charts",
        "cloudnative-pg/charts charts/cloudnative-pg/Chart.yaml (operator 1.30.0)",
    ),
    "milvus-operator": Chart(
        "milvus-operator",
        "1.3.8",
        "https://zilliztech.github.io/milvus-operator/",
        "zilliztech/milvus-operator charts/milvus-operator/Chart.yaml",
    ),
    "redis-operator": Chart(
        "redis-operator",
        "0.26.1",
        "https://ot-container-kit.github.io/helm-charts/",
        "OT-CONTAINER-KIT/redis-operator charts/redis-operator/Chart.yaml (operator 0.26.0)",
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter",
        "4.8.2",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "NVIDIA/dcgm-exporter deployment/Chart.yaml",
    ),
    "metrics-server": Chart(
        "metrics-server",
        "3.13.0",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "kubernetes-sigs/metrics-server charts/metrics-server/Chart.yaml",
    ),
    "cluster-autoscaler": Chart(
        "cluster-autoscaler",
        "9.52.1",
        "https://kubernetes.github.io/autoscaler",
        "kubernetes/autoscaler charts/cluster-autoscaler/Chart.yaml",
    ),
    "cert-manager": Chart(
        "cert-manager",
        "v1.19.1",
        "https://charts.jetstack.io",
        "cert-manager/cert-manager deploy/charts/cert-manager",
    ),
    "haproxy-ingress": Chart(
        "kubernetes-ingress",
        "1.48.0",
        "https://haproxytech.github.io/helm-charts",
        "haproxytech/helm-charts kubernetes-ingress/Chart.yaml",
    ),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin",
        "0.18.0",
        "https://nvidia.github.io/k8s-device-plugin",
        "NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/Chart.yaml",
    ),
}


@dataclass(frozen=True)
class Image:
    """A container image pinned to an exact tag."""

    repository: str
    tag: str
    source: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


IMAGES: dict[str, Image] = {
    "vllm": Image("vllm/vllm-openai", "v0.11.0", "vllm-project/vllm releases"),
    "postgres": Image(
        "ghcr.io/cloudnative-pg/postgresql",
        "17.6-standard-bookworm",
        "cloudnative-pg/postgres-containers",
    ),
    "pgbouncer": Image(
        "ghcr.io/cloudnative-pg/pgbouncer", "1.24.1", "cloudnative-pg/pgbouncer-containers"
    ),
}
