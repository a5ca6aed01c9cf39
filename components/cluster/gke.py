"""GkeCluster: a private, regional GKE cluster with its VPC, NAT and an autoscaled system node pool.

- VPC-native: one subnet per region with secondary ranges for pods and services.
- Private nodes (no public IPs) with Cloud NAT for egress; public control plane limited to
  ``api_allowed_cidrs`` (master authorized networks).
- Release channel, Workload Identity, Dataplane V2 (enforces NetworkPolicies), Shielded nodes.
- Node pool with a dedicated least-privilege service account and autoscaling bounds per zone.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi

from components.kube import exec_kubeconfig
from components.scheduling import DATA_LABELS, DATA_TAINT, DataPool
from components.sdk import gcp

TYPE = "phasescale:components:GkeCluster"

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/artifactregistry.reader",
)


@dataclass(frozen=True)
class GkeClusterArgs:
    project: str
    region: str
    release_channel: str
    vpc_cidr: str
    api_allowed_cidrs: tuple[str, ...]
    machine_type: str
    min_nodes_per_zone: int
    max_nodes_per_zone: int
    disk_gib: int
    deletion_protection: bool
    zones: tuple[str, ...] = ()
    data_pool: DataPool | None = None
    """The tainted pool of the in-cluster data tier; None: no data pool."""
    control_plane_ports: tuple[int, ...] = ()
    """Ports of the admission webhooks and APIServices installed in the cluster
    (``components/cluster/webhooks.py``): opened from the control-plane range to the nodes."""


def subnet_ranges(vpc_cidr: str) -> dict[str, str]:
    """Carve node, pod and service ranges out of the region's block (pure).

    /16 block -> nodes /20, services /20, a /28 for the control plane, and pods /17 (GKE gives each
    node a /24 for its 110 pods, so 128 nodes per region).
    """
    net = ipaddress.IPv4Network(vpc_cidr)
    if net.prefixlen > 16:
        raise ValueError(f"vpcCidr {vpc_cidr} is too small; give a /16 or larger")
    halves = list(net.subnets(new_prefix=17))
    low = list(halves[0].subnets(new_prefix=20))
    return {
        "nodes": str(low[0]),
        "services": str(low[1]),
        "master": str(next(low[2].subnets(new_prefix=28))),
        "pods": str(halves[1]),
    }


class GkeCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ranges = subnet_ranges(args.vpc_cidr)
        self.network = gcp.compute.Network(
            f"{name}-vpc", project=args.project, auto_create_subnetworks=False,
            routing_mode="REGIONAL", opts=child,
        )
        self.subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            project=args.project,
            region=args.region,
            network=self.network.id,
            ip_cidr_range=ranges["nodes"],
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": ranges["pods"]},
                {"range_name": "services", "ip_cidr_range": ranges["services"]},
            ],
            log_config={"aggregation_interval": "INTERVAL_5_SEC", "flow_sampling": 0.5},
            opts=child,
        )
        router = gcp.compute.Router(
            f"{name}-router", project=args.project, region=args.region, network=self.network.id, opts=child
        )
        gcp.compute.RouterNat(
            f"{name}-nat",
            project=args.project,
            region=args.region,
            router=router.name,
            nat_ip_allocate_option="AUTO_ONLY",
            source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
            log_config={"enable": True, "filter": "ERRORS_ONLY"},
            opts=child,
        )
        self.node_account = gcp.serviceaccount.Account(
            f"{name}-nodes",
            project=args.project,
            account_id=f"{name}-nodes"[:30],
            display_name=f"GKE nodes of {name}",
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1].replace('.', '-').lower()}",
                project=args.project,
                role=role,
                member=self.node_account.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
        self.control_plane_firewall: gcp.compute.Firewall | None = None
        if args.control_plane_ports:
            # GKE's own rule opens only 443 and 10250 from the control plane; webhooks and the KEDA metrics
            # API listen elsewhere (components/cluster/webhooks.py). Targeting the node service account
            # covers the nodes and their pods' alias IPs.
            self.control_plane_firewall = gcp.compute.Firewall(
                f"{name}-control-plane",
                project=args.project,
                network=self.network.id,
                direction="INGRESS",
                description=f"GKE control plane of {name} to the webhooks and API services on its nodes",
                source_ranges=[ranges["master"]],
                target_service_accounts=[self.node_account.email],
                allows=[{"protocol": "tcp", "ports": [str(p) for p in args.control_plane_ports]}],
                opts=child,
            )
        self.cluster = gcp.container.Cluster(
            name,
            name=name,
            project=args.project,
            location=args.region,
            node_locations=list(args.zones) or None,
            network=self.network.id,
            subnetwork=self.subnet.id,
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=args.deletion_protection,
            release_channel={"channel": args.release_channel},
            workload_identity_config={"workload_pool": f"{args.project}.svc.id.goog"},
            datapath_provider="ADVANCED_DATAPATH",
            ip_allocation_policy={
                "cluster_secondary_range_name": "pods",
                "services_secondary_range_name": "services",
            },
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": False,
                "master_ipv4_cidr_block": ranges["master"],
            },
            master_authorized_networks_config={
                "cidr_blocks": [{"cidr_block": c, "display_name": f"allowed-{i}"} for i, c in enumerate(args.api_allowed_cidrs)]
            },
            enable_shielded_nodes=True,
            vertical_pod_autoscaling={"enabled": True},  # services with vpa: true get recommendations
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
            monitoring_config={
                "enable_components": ["SYSTEM_COMPONENTS"],
                "managed_prometheus": {"enabled": False},
            },
            maintenance_policy={"daily_maintenance_window": {"start_time": "18:00"}},
            addons_config={"gce_persistent_disk_csi_driver_config": {"enabled": True}},
            opts=child,
        )
        self.system_pool = gcp.container.NodePool(
            f"{name}-system",
            name="system",
            project=args.project,
            location=args.region,
            cluster=self.cluster.name,
            autoscaling={
                "min_node_count": args.min_nodes_per_zone,
                "max_node_count": args.max_nodes_per_zone,
                "location_policy": "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"max_surge": 1, "max_unavailable": 0},
            node_config=self._node_config(args.machine_type, args.disk_gib, {"phasescale/pool": "system"}),
            opts=child,
        )
        self.data_pool = self._data_pool(name, args) if args.data_pool is not None else None
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.endpoint, self.cluster.master_auth.cluster_ca_certificate).apply(
                lambda a: _kubeconfig(name, a[0], a[1])
            )
        )
        self.register_outputs({"name": self.cluster.name, "endpoint": self.cluster.endpoint})

    def _node_config(
        self, machine_type: str, disk_gib: int, labels: dict[str, str], taints: list[dict[str, str]] | None = None
    ) -> dict[str, object]:
        """The hardened node config every pool of ours shares: COS, shielded boot, the least-privilege
        node account, workload identity metadata, no legacy metadata endpoints."""
        config: dict[str, object] = {
            "machine_type": machine_type,
            "disk_size_gb": disk_gib,
            "disk_type": "pd-balanced",
            "image_type": "COS_CONTAINERD",
            "service_account": self.node_account.email,
            "oauth_scopes": ["https://www.googleapis.com/auth/cloud-platform"],
            "workload_metadata_config": {"mode": "GKE_METADATA"},
            "shielded_instance_config": {"enable_secure_boot": True, "enable_integrity_monitoring": True},
            "metadata": {"disable-legacy-endpoints": "true"},
            "labels": labels,
        }
        if taints:
            config["taints"] = taints
        return config

    def _data_pool(self, name: str, args: GkeClusterArgs) -> gcp.container.NodePool:
        """The data pool: autoscaled on total counts (GKE spreads them over the zones, BALANCED),
        with the system pool's hardening and the data taint (the GKE API spells it NO_SCHEDULE)."""
        pool = args.data_pool
        assert pool is not None
        return gcp.container.NodePool(
            f"{name}-data",
            name="data",
            project=args.project,
            location=args.region,
            cluster=self.cluster.name,
            autoscaling={
                "total_min_node_count": pool.min_nodes,
                "total_max_node_count": pool.max_nodes,
                "location_policy": "BALANCED",
            },
            management={"auto_repair": True, "auto_upgrade": True},
            upgrade_settings={"max_surge": 1, "max_unavailable": 0},
            node_config=self._node_config(
                pool.machine_type, pool.disk_gib, dict(DATA_LABELS),
                taints=[{"key": DATA_TAINT.key, "value": DATA_TAINT.value, "effect": "NO_SCHEDULE"}],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )


def _kubeconfig(name: str, endpoint: str, ca: str) -> str:
    """A kubeconfig that authenticates through ``gke-gcloud-auth-plugin`` (no static credentials)."""
    return exec_kubeconfig(name, f"https://{endpoint}", ca, "gke-gcloud-auth-plugin")


def workload_identity_account(
    name: str,
    project: str,
    account_id: str,
    display_name: str,
    namespace: str,
    service_account: str,
    opts: pulumi.ResourceOptions,
) -> tuple[gcp.serviceaccount.Account, gcp.serviceaccount.IAMMember]:
    """A Google service account (``name``) that only the Kubernetes service account
    ``namespace/service_account`` may act as (workload identity binding ``<name>-wi``)."""
    account = gcp.serviceaccount.Account(
        name, project=project, account_id=account_id, display_name=display_name, opts=opts
    )
    binding = gcp.serviceaccount.IAMMember(
        f"{name}-wi",
        service_account_id=account.name,
        role="roles/iam.workloadIdentityUser",
        member=f"serviceAccount:{project}.svc.id.goog[{namespace}/{service_account}]",
        opts=opts,
    )
    return account, binding
