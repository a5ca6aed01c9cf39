"""CloudRunAccess: what one region's Cloud Run services reach, and the secrets they read.

- The Direct VPC egress subnet in the GKE cluster's VPC (range: ``cloud_run_plan.subnet_cidr``).
- For each in-cluster target (PostgreSQL poolers, vLLM): an internal passthrough load balancer
  Service admitting only that subnet, and a NetworkPolicy admitting it to the target's pods
  (``cloud_run_plan``, module doc). ``hosts`` maps each target to its load balancer's IP.
- One Secret Manager secret per connection value Cloud Run reads from Secret Manager
  (``gcp.secretmanager.Secret`` replicated in the region only, and its ``SecretVersion`` holding the
  value: Pulumi secret config or a value the engine learns at deploy time). Each service is granted
  access to the secrets it reads, one by one, by :class:`~components.service.cloud_run.CloudRunService`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.sdk import gcp
from components.service import cloud_run_plan as crp

TYPE = "phasescale:components:CloudRunAccess"


@dataclass(frozen=True)
class CloudRunAccessArgs:
    project: str
    region: str
    cluster_name: str
    """``<stack>-<region>``: prefixes the subnet and the secrets' ids."""
    network: pulumi.Input[str]
    """The GKE cluster's VPC network (id)."""
    cidr: str
    namespace: str
    targets: Sequence[crp.Target] = ()
    k8s_opts: pulumi.ResourceOptions | None = None
    """Provider and dependencies of the Kubernetes objects (the region's cluster, the app namespace)."""
    resource_prefix: str = ""
    """The region key: prefixes the Kubernetes objects' resource names unless their name carries it."""


@dataclass
class RegionSecrets:
    """The Secret Manager secrets of a region, by ``(part, key)``."""

    secrets: dict[tuple[str, str], Any] = field(default_factory=dict)
    versions: dict[tuple[str, str], Any] = field(default_factory=dict)


class CloudRunAccess(pulumi.ComponentResource):
    def __init__(self, name: str, args: CloudRunAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        self._args, self._name = args, name
        child = pulumi.ResourceOptions(parent=self)
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=f"{args.cluster_name}-run",
            project=args.project,
            region=args.region,
            network=args.network,
            ip_cidr_range=args.cidr,
            description=f"Direct VPC egress of the Cloud Run services of {args.cluster_name}",
            private_ip_google_access=True,
            opts=child,
        )
        kube_opts = pulumi.ResourceOptions.merge(args.k8s_opts or pulumi.ResourceOptions(), child)
        self.hosts: dict[str, pulumi.Output[str]] = {}
        prefix = f"{args.resource_prefix}-" if args.resource_prefix else ""
        for target in args.targets:
            resource = target.name if target.name.startswith(prefix) else f"{prefix}{target.name}"
            svc_spec = crp.ilb_service(target, args.namespace, args.cidr)
            service = k8s.core.v1.Service(resource, metadata=svc_spec["metadata"], spec=svc_spec["spec"],
                                          opts=kube_opts)
            self.hosts[target.name] = service.status.apply(_ingress_ip)
            policy = crp.network_policy(target, args.namespace, args.cidr)
            k8s.networking.v1.NetworkPolicy(f"{resource}-netpol", metadata=policy["metadata"],
                                            spec=policy["spec"], opts=kube_opts)
        self.secrets = RegionSecrets()
        self.register_outputs({"subnet": self.subnet.id, "cidr": args.cidr})

    def add_secrets(self, part: str, data: Mapping[str, pulumi.Input[str]], keys: Sequence[str]) -> None:
        """One secret and version per key of ``data`` in ``keys`` (values marked secret)."""
        a, child = self._args, pulumi.ResourceOptions(parent=self)
        for key in keys:
            if key not in data:
                continue
            sid = crp.secret_id(a.cluster_name, part, key)
            secret = gcp.secretmanager.Secret(
                f"{self._name}-{part}-{key.replace('.', '-')}",
                project=a.project,
                secret_id=sid,
                # Kept in the region, beside the services that read it (no global replication).
                replication={"user_managed": {"replicas": [{"location": a.region}]}},
                labels={"phasescale-region": a.cluster_name, "phasescale-part": part},
                opts=child,
            )
            text: pulumi.Output[str] = pulumi.Output.from_input(data[key]).apply(lambda v: "" if v is None else str(v))
            value: pulumi.Output[str] = pulumi.Output.secret(text)
            version = gcp.secretmanager.SecretVersion(
                f"{self._name}-{part}-{key.replace('.', '-')}",
                secret=secret.id,
                secret_data=value,
                opts=child,
            )
            self.secrets.secrets[(part, key)] = secret
            self.secrets.versions[(part, key)] = version


def _ingress_ip(status: Any) -> str:
    """The internal load balancer's IP from the Service status (empty until GKE has assigned it:
    offline plans)."""
    ingress = (getattr(getattr(status, "load_balancer", None), "ingress", None) or []) if status else []
    return (getattr(ingress[0], "ip", None) or "") if ingress else ""
