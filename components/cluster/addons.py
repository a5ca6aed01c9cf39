"""ClusterAddons: the exact-pinned Helm charts a cluster needs before workloads land on it.

- KEDA on every target (event-driven autoscaling on Prometheus metrics, scale to zero).
- metrics-server and cluster-autoscaler on EKS (GKE ships both).
- The HAProxy ingress controller when a service declares an ingress route (least-connections
  balancing, the seeds' preference over round robin).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.helm import release
from components.versions import CLUSTER_AUTOSCALER_TAGS

TYPE = "phasescale:components:ClusterAddons"

INGRESS_CLASS = "haproxy"
LEAST_CONN = {"haproxy.org/load-balance": "leastconn"}


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: str
    eks_region: str | None = None
    """Set on EKS: installs metrics-server and the cluster autoscaler."""
    autoscaler_role_arn: pulumi.Input[str] | None = None
    kubernetes_version: str = "1.33"
    ingress: bool = False
    service_monitors: bool = True
    """Whether the charts create ServiceMonitors (only when the MonitoringStack brings their CRDs)."""
    extra: dict[str, Any] = field(default_factory=dict)


def keda_values(service_monitors: bool) -> dict[str, Any]:
    monitor = {"enabled": service_monitors, "additionalLabels": {"release": "monitoring"}}
    return {
        "resources": {
            "operator": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "metricServer": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        },
        "prometheus": {
            "operator": {"enabled": True, "serviceMonitor": monitor},
            "metricServer": {"enabled": True, "serviceMonitor": monitor},
        },
    }


class ClusterAddons(pulumi.ComponentResource):
    def __init__(self, name: str, args: ClusterAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.keda = release(f"{name}-keda", "keda", "keda", keda_values(args.service_monitors), child)
        self.releases = [self.keda]
        if args.eks_region is not None:
            self.releases.append(
                release(
                    f"{name}-metrics-server",
                    "metrics-server",
                    "kube-system",
                    {"replicas": 2, "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1}},
                    child,
                )
            )
            self.releases.append(
                release(
                    f"{name}-cluster-autoscaler",
                    "cluster-autoscaler",
                    "kube-system",
                    {
                        "cloudProvider": "aws",
                        "image": {"tag": CLUSTER_AUTOSCALER_TAGS[args.kubernetes_version]},
                        "awsRegion": args.eks_region,
                        "autoDiscovery": {"clusterName": args.cluster_name},
                        "rbac": {
                            "serviceAccount": {
                                "name": "cluster-autoscaler",
                                "annotations": {"eks.amazonaws.com/role-arn": args.autoscaler_role_arn},
                            }
                        },
                        "extraArgs": {
                            "balance-similar-node-groups": True,
                            "skip-nodes-with-system-pods": False,
                            "expander": "priority,least-waste",
                        },
                    },
                    child,
                )
            )
        if args.ingress:
            self.releases.append(
                release(
                    f"{name}-ingress",
                    "haproxy-ingress",
                    "ingress",
                    {
                        "controller": {
                            "kind": "Deployment",
                            "replicaCount": 2,
                            "ingressClass": INGRESS_CLASS,
                            "ingressClassResource": {"name": INGRESS_CLASS, "default": True},
                            "config": {"load-balance": "leastconn", "ssl-redirect": "true"},
                            "PodDisruptionBudget": {"enable": True, "minAvailable": 1},
                            "service": {"type": "LoadBalancer"},
                        }
                    },
                    child,
                )
            )
        self.register_outputs({})
