"""Shared Kubernetes helpers."""

from __future__ import annotations

import yaml

from components.cluster.eks import _kubeconfig as eks_kubeconfig
from components.cluster.gke import _kubeconfig as gke_kubeconfig
from components.cluster.gke import subnet_ranges


def test_kubeconfigs_use_short_lived_tokens_not_static_credentials() -> None:
    eks = yaml.safe_load(eks_kubeconfig("prod-seoul", "ap-northeast-2", "https://x.eks", "Q0E="))
    assert eks["users"][0]["user"] == {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "aws",
            "interactiveMode": "Never",
            "args": ["eks", "get-token", "--cluster-name", "prod-seoul", "--region", "ap-northeast-2"],
        }
    }
    gke = yaml.safe_load(gke_kubeconfig("prod-seoul", "203.0.113.10", "Q0E="))
    assert gke["clusters"][0]["cluster"]["server"] == "https://203.0.113.10"
    assert gke["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"


def test_gke_ranges_do_not_overlap() -> None:
    assert subnet_ranges("10.10.0.0/16") == {
        "nodes": "10.10.0.0/20",
        "services": "10.10.16.0/20",
        "master": "10.10.32.0/28",
        "pods": "10.10.128.0/17",
    }
