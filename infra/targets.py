"""Cluster targets: one Kubernetes cluster (and one Kubernetes provider) per active region.

The only place that knows the three targets apart; everything after it receives a
:class:`RegionCluster` and uses its provider.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.eks import EksCluster, EksClusterArgs
from components.cluster.gke import GkeCluster, GkeClusterArgs
from components.cluster.storage import gp3_storage_class
from components.scheduling import DataPool
from components.sdk import aws
from infra.charts import webhook_ports
from infra.config import PostgresEngine, RedisEngine, Target
from infra.config_logging import LoggingBackend
from infra.config_queue import QueueEngine
from infra.settings import Settings


@dataclass(frozen=True)
class RegionCluster:
    """A region's cluster as the rest of the program sees it."""

    key: str
    """Region key from the stack file (``seoul``); prefixes every resource name of the region."""
    location: str
    """Cloud region (``asia-northeast3``)."""
    cluster_name: str
    target: Target
    provider: k8s.Provider
    eks: EksCluster | None = None
    gke: GkeCluster | None = None
    aws_provider: aws.Provider | None = None
    """EKS: the AWS provider pinned to this region, for every AWS resource of the region."""
    ready: tuple[pulumi.Resource, ...] = ()
    """What every Kubernetes object of the region waits for: the GKE control-plane firewall (webhooks
    reachable), the EKS default StorageClass (volumes bind)."""

    @property
    def cloud_opts(self) -> pulumi.ResourceOptions:
        """Options for cloud (non-Kubernetes) resources of this region."""
        return pulumi.ResourceOptions(provider=self.aws_provider) if self.aws_provider else pulumi.ResourceOptions()


def zones_of(location: str, zones: list[str], target: Target) -> tuple[str, ...]:
    if zones:
        return tuple(zones)
    if target is Target.GKE:
        return ()  # regional cluster: GKE picks the region's zones
    return tuple(f"{location}{z}" for z in "abc")


def in_cluster_queue(settings: Settings) -> bool:
    """Kafka through Strimzi or RabbitMQ through its operator, running at this phase (the data tier)."""
    cfg = settings.stack
    return (cfg.parts.queue and settings.sizes.queue.enabled
            and cfg.queue.engine in (QueueEngine.STRIMZI, QueueEngine.RABBITMQ))


def data_pool(settings: Settings) -> DataPool | None:
    """The region's data node pool (``dataNodes`` of the catalog), when the cluster runs a data part
    in it: CNPG, operator Redis, Milvus or Elasticsearch (logging eck) on gke or eks. Managed engines need none; an existing
    cluster's nodes are not ours to make."""
    cfg = settings.stack
    if cfg.cluster.target is Target.EXISTING:
        return None
    parts = cfg.parts
    in_cluster = (
        (parts.postgres and cfg.postgres.engine is PostgresEngine.CNPG)
        or (parts.redis and cfg.redis.engine is RedisEngine.OPERATOR)
        or parts.milvus
        or (parts.logging and cfg.logging.backend is LoggingBackend.ECK)
        or in_cluster_queue(settings)
    )
    if not in_cluster:
        return None
    d = settings.sizes.data_nodes
    machine = d.gke_machine_type if cfg.cluster.target is Target.GKE else d.eks_instance_type
    return DataPool(machine_type=machine, min_nodes=d.min_nodes, max_nodes=d.max_nodes, disk_gib=d.disk_gib)


def build_cluster(settings: Settings, key: str, stack_name: str) -> RegionCluster:
    cfg = settings.stack
    region = cfg.regions[key]
    nodes = settings.sizes.nodes
    name = f"{stack_name}-{key}"
    target = cfg.cluster.target
    if target is Target.EXISTING:
        provider = k8s.Provider(
            f"{key}-k8s", context=region.kube_context, kubeconfig=cfg.cluster.kubeconfig
        )
        return RegionCluster(key, region.location, name, target, provider)
    if target is Target.GKE:
        assert cfg.cluster.gcp_project is not None  # checked by StackConfig
        gke = GkeCluster(
            name,
            GkeClusterArgs(
                project=cfg.cluster.gcp_project,
                region=region.location,
                release_channel=cfg.cluster.release_channel,
                vpc_cidr=region.vpc_cidr,
                api_allowed_cidrs=tuple(cfg.cluster.api_allowed_cidrs),
                machine_type=nodes.gke_machine_type,
                min_nodes_per_zone=nodes.min_nodes,
                max_nodes_per_zone=nodes.max_nodes,
                disk_gib=nodes.disk_gib,
                deletion_protection=settings.stack.protect_stateful,
                zones=zones_of(region.location, region.zones, target),
                data_pool=data_pool(settings),
                control_plane_ports=webhook_ports(settings),
            ),
        )
        provider = k8s.Provider(f"{key}-k8s", kubeconfig=gke.kubeconfig)
        firewall = (gke.control_plane_firewall,) if gke.control_plane_firewall else ()
        return RegionCluster(key, region.location, name, target, provider, gke=gke, ready=firewall)
    aws_provider = aws.Provider(
        f"{key}-aws",
        region=region.location,
        default_tags={"tags": {"phasescale/stack": stack_name, "phasescale/region": key}},
    )
    eks = EksCluster(
        name,
        EksClusterArgs(
            region=region.location,
            zones=zones_of(region.location, region.zones, target),
            vpc_cidr=region.vpc_cidr,
            kubernetes_version=cfg.cluster.kubernetes_version,
            api_allowed_cidrs=tuple(cfg.cluster.api_allowed_cidrs),
            instance_type=nodes.eks_instance_type,
            min_nodes=nodes.min_nodes,
            max_nodes=nodes.max_nodes,
            disk_gib=nodes.disk_gib,
            data_pool=data_pool(settings),
            protect=settings.stack.protect_stateful,
        ),
        opts=pulumi.ResourceOptions(providers=[aws_provider]),
    )
    provider = k8s.Provider(f"{key}-k8s", kubeconfig=eks.kubeconfig)
    storage_class = k8s.storage.v1.StorageClass(
        f"{key}-gp3",
        **gp3_storage_class(),
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[eks.addons["aws-ebs-csi-driver"]]),
    )
    return RegionCluster(
        key, region.location, name, target, provider, eks=eks, aws_provider=aws_provider, ready=(storage_class,)
    )
