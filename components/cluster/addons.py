"""ClusterAddons: the exact-pinned Helm charts a cluster needs before workloads land on it.

- KEDA on every target (event-driven autoscaling on Prometheus metrics, scale to zero).
- metrics-server and cluster-autoscaler on EKS (GKE ships both).
- The HAProxy ingress controller when a service declares an ingress route (least-connections
  balancing, the seeds' preference over round robin). On EKS its Service asks for a Network Load
  Balancer (``nlb_service_annotations``): no Classic ELB.
- cert-manager wherever an Ingress exists or CNPG's barman-cloud plugin needs it, and, with an ACME
  e-mail, a Let's Encrypt ClusterIssuer that solves HTTP-01 through the HAProxy ingress class, and
  DNS-01 in the stack's DNS zone when it has one (``tls_plan.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster import tls_plan
from components.helm import release
from components.versions import CLUSTER_AUTOSCALER_TAGS

TYPE = "phasescale:components:ClusterAddons"

INGRESS_CLASS = "haproxy"
LEAST_CONN = {"haproxy.org/load-balance": "leastconn"}
CERT_MANAGER_NAMESPACE = "cert-manager"

# The priority expander reads the cluster-autoscaler-priority-expander ConfigMap, rendered by the chart from
# `expanderPriorities` (cluster-autoscaler/expander/priority/readme.md: higher wins, regexes match node group
# names, which on AWS are the ASG names EKS gives managed groups: eks-<node group name>-<uuid>). Spot GPU
# capacity first for burst pods that may use it, then every other group; least-waste breaks ties.
EXPANDER_PRIORITIES = {"50": ["^eks-gpu-spot-.*"], "10": [".*"]}

# The in-tree service controller of EKS (aws cloud provider) makes a Network Load Balancer for a
# LoadBalancer Service with this annotation instead of a Classic ELB (Kubernetes docs, "Service" >
# "Network Load Balancer support on AWS"). The AWS Load Balancer Controller is not installed: it would add
# a controller, an IRSA role and AWS's large IAM policy for what the HAProxy Service alone needs.
NLB_SERVICE_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "nlb",
    "service.beta.kubernetes.io/aws-load-balancer-cross-zone-load-balancing-enabled": "true",
}


@dataclass(frozen=True)
class ClusterAddonsArgs:
    cluster_name: str
    eks_region: str | None = None
    """Set on EKS: installs metrics-server and the cluster autoscaler."""
    autoscaler_role_arn: pulumi.Input[str] | None = None
    kubernetes_version: str = "1.35"
    ingress: bool = False
    service_monitors: bool = True
    """Whether the charts create ServiceMonitors (only when the MonitoringStack brings their CRDs)."""
    extra: dict[str, Any] = field(default_factory=dict)
    cert_manager: bool = False
    """Install cert-manager (an Ingress exists, or CNPG's barman-cloud plugin needs it)."""
    acme_email: str | None = None
    """With an Ingress: the Let's Encrypt account e-mail of the ClusterIssuer (none: no issuer)."""
    cert_manager_aliases: tuple[pulumi.Alias, ...] = ()
    """Earlier names of the cert-manager release (it was installed by the postgres part), so existing
    stacks keep the release and its CRDs instead of replacing them."""
    dns01: dict[str, Any] | None = None
    """With the issuer: the DNS-01 provider block (``tls_plan.cloud_dns_solver`` / ``route53_solver``) for the
    hosts of ``dns_zone``; none: HTTP-01 only."""
    dns_zone: str | None = None
    cert_manager_annotations: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Annotations of cert-manager's ServiceAccount: the cloud identity DNS-01 writes the zone with."""
    dns01_grants: tuple[pulumi.Resource, ...] = ()
    """The identity's bindings and grants, which the issuer waits for (its first orders need them)."""


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


def cert_manager_values(annotations: dict[str, pulumi.Input[str]]) -> dict[str, Any]:
    """The chart's CRDs, and the controller ServiceAccount's annotations (``serviceAccount.annotations``,
    deploy/charts/cert-manager/values.yaml @ v1.20.3) when DNS-01 needs a cloud identity."""
    values: dict[str, Any] = {"crds": {"enabled": True}}
    if annotations:
        values["serviceAccount"] = {"annotations": annotations}
        # The same identity on the controller pods (``podAnnotations``, same values.yaml): a running
        # cert-manager does not see a new ServiceAccount annotation (EKS injects IRSA credentials at
        # pod admission; GKE's metadata server caches the mapping), so adding DNS-01 at a phase move
        # must roll its pods.
        values["podAnnotations"] = {f"phasescale.io/{k.rsplit('/', 1)[-1]}": v for k, v in annotations.items()}
    return values


def autoscaler_values(args: ClusterAddonsArgs) -> dict[str, Any]:
    return {
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
        "expanderPriorities": EXPANDER_PRIORITIES,
        "extraArgs": {
            "balance-similar-node-groups": True,
            "skip-nodes-with-system-pods": False,
            "expander": "priority,least-waste",
        },
    }


def ingress_values(eks: bool) -> dict[str, Any]:
    service: dict[str, Any] = {"type": "LoadBalancer"}
    if eks:
        service["annotations"] = NLB_SERVICE_ANNOTATIONS
    return {
        "controller": {
            "kind": "Deployment",
            "replicaCount": 2,
            "ingressClass": INGRESS_CLASS,
            "ingressClassResource": {"name": INGRESS_CLASS, "default": True},
            "config": {"load-balance": "leastconn", "ssl-redirect": "true"},
            "PodDisruptionBudget": {"enable": True, "minAvailable": 1},
            "service": service,
        }
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
                release(f"{name}-cluster-autoscaler", "cluster-autoscaler", "kube-system", autoscaler_values(args), child)
            )
        if args.ingress:
            self.releases.append(
                release(f"{name}-ingress", "haproxy-ingress", "ingress", ingress_values(args.eks_region is not None), child)
            )
        self.cluster_issuer: k8s.apiextensions.CustomResource | None = None
        if args.cert_manager:
            cert_manager = release(
                f"{name}-cert-manager", "cert-manager", CERT_MANAGER_NAMESPACE,
                cert_manager_values(args.cert_manager_annotations),
                pulumi.ResourceOptions(parent=self, aliases=list(args.cert_manager_aliases)),
            )
            self.releases.append(cert_manager)
            if args.ingress and args.acme_email:
                self.cluster_issuer = k8s.apiextensions.CustomResource(
                    f"{name}-letsencrypt",
                    api_version=tls_plan.CERT_MANAGER_API,
                    kind="ClusterIssuer",
                    metadata={"name": tls_plan.CLUSTER_ISSUER},
                    spec=tls_plan.cluster_issuer_spec(args.acme_email, INGRESS_CLASS, args.dns01, args.dns_zone),
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[cert_manager, *self.releases, *args.dns01_grants]),
                )
                self.releases.append(self.cluster_issuer)
        self.register_outputs({})
