"""EksCluster: an EKS cluster with its VPC (public + private subnets over the zones), IAM roles,
an OIDC provider for IAM roles for service accounts, core add-ons and a system managed node group.

- Nodes in private subnets only, one NAT gateway per zone (a zone outage does not cut egress).
- Secrets envelope-encrypted with a dedicated KMS key; control-plane logs on.
- API access mode (access entries), public endpoint limited to ``api_allowed_cidrs``.
- AL2023 managed node group, IMDSv2 enforced by EKS defaults for AL2023.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.cluster.scaling import LiveScaling, ScalingDecision, scaling_decision
from components.kube import exec_kubeconfig
from components.scheduling import DATA_LABELS, DATA_TAINT, DataPool
from components.sdk import aws

TYPE = "phasescale:components:EksCluster"

CLUSTER_POLICIES = ("AmazonEKSClusterPolicy",)
NODE_POLICIES = ("AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly")
ADDONS = ("vpc-cni", "coredns", "kube-proxy", "eks-pod-identity-agent", "aws-ebs-csi-driver")
EBS_CSI_SERVICE_ACCOUNT = ("kube-system", "ebs-csi-controller-sa")
"""The EBS CSI controller's service account (EKS docs, "Store Kubernetes volumes with Amazon EBS")."""
EBS_CSI_POLICY = "arn:aws:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


@dataclass(frozen=True)
class EksClusterArgs:
    region: str
    zones: tuple[str, ...]
    vpc_cidr: str
    kubernetes_version: str
    api_allowed_cidrs: tuple[str, ...]
    instance_type: str
    min_nodes: int
    max_nodes: int
    disk_gib: int
    data_pool: DataPool | None = None
    """The tainted node group of the in-cluster data tier; None: no data group."""
    protect: bool = False
    """Production: Pulumi ``protect`` on the cluster and its secrets KMS key."""


def autoscaler_template_tags(labels: dict[str, str], taints: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """The cluster autoscaler's node-template tags for a group's labels and taints, so it can scale
    the group up from zero nodes knowing what a new node will carry (cluster-autoscaler AWS README,
    "Auto-Discovery Setup"; eksctl "Scaling up from 0": ``.../taint/<key>: <value>:<effect>``)."""
    tags = {f"k8s.io/cluster-autoscaler/node-template/label/{k}": v for k, v in labels.items()}
    tags |= {f"k8s.io/cluster-autoscaler/node-template/taint/{k}": f"{v}:{effect}" for k, v, effect in taints}
    return tags


def subnet_plan(vpc_cidr: str, zones: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """Per zone: a /20 public and a /18 private subnet from the VPC block (pure)."""
    net = ipaddress.IPv4Network(vpc_cidr)
    private = list(net.subnets(new_prefix=18))
    public = list(private[-1].subnets(new_prefix=20))
    if len(zones) > len(private) - 1 or len(zones) > len(public):
        raise ValueError(f"vpcCidr {vpc_cidr} cannot hold subnets for {len(zones)} zones")
    return {z: {"public": str(public[i]), "private": str(private[i])} for i, z in enumerate(zones)}


def _assume(service: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
    )


class EksCluster(pulumi.ComponentResource):
    kubeconfig: pulumi.Output[str]

    def __init__(self, name: str, args: EksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {"phasescale/cluster": name, f"kubernetes.io/cluster/{name}": "shared"}
        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc", cidr_block=args.vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
            tags={**tags, "Name": name}, opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=self.vpc.id, tags=tags, opts=child)
        public_rt = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": igw.id}], tags=tags, opts=child,
        )
        self.private_subnet_ids: list[pulumi.Output[str]] = []
        self.private_route_table_ids: list[pulumi.Output[str]] = []
        """One per zone: where routes to a peered VPC go (components/cluster/peering.py)."""
        public_ids: list[pulumi.Output[str]] = []
        for zone, cidrs in subnet_plan(args.vpc_cidr, args.zones).items():
            pub = aws.ec2.Subnet(
                f"{name}-public-{zone}", vpc_id=self.vpc.id, cidr_block=cidrs["public"], availability_zone=zone,
                map_public_ip_on_launch=False, tags={**tags, "kubernetes.io/role/elb": "1"}, opts=child,
            )
            aws.ec2.RouteTableAssociation(f"{name}-public-{zone}", subnet_id=pub.id, route_table_id=public_rt.id, opts=child)
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=tags, opts=child)
            nat = aws.ec2.NatGateway(f"{name}-nat-{zone}", subnet_id=pub.id, allocation_id=eip.id, tags=tags, opts=child)
            priv = aws.ec2.Subnet(
                f"{name}-private-{zone}", vpc_id=self.vpc.id, cidr_block=cidrs["private"], availability_zone=zone,
                tags={**tags, "kubernetes.io/role/internal-elb": "1"}, opts=child,
            )
            # ignore_changes on routes: routes added by aws.ec2.Route (VPC peering to another region,
            # components/cluster/peering.py) would otherwise be overwritten by these in-line routes
            # ("NOTE on Route Tables and Routes" in the aws.ec2.RouteTable docs).
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}", vpc_id=self.vpc.id,
                routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat.id}], tags=tags,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["routes"]),
            )
            aws.ec2.RouteTableAssociation(f"{name}-private-{zone}", subnet_id=priv.id, route_table_id=rt.id, opts=child)
            public_ids.append(pub.id)
            self.private_subnet_ids.append(priv.id)
            self.private_route_table_ids.append(rt.id)

        cluster_role = aws.iam.Role(f"{name}-cluster", assume_role_policy=_assume("eks.amazonaws.com"), tags=tags, opts=child)
        for policy in CLUSTER_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-cluster-{policy}", role=cluster_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child,
            )
        protected = pulumi.ResourceOptions(parent=self, protect=args.protect)
        key = aws.kms.Key(
            f"{name}-secrets", description=f"EKS secrets encryption for {name}",
            enable_key_rotation=True, deletion_window_in_days=30, tags=tags, opts=protected,
        )
        self.cluster = aws.eks.Cluster(
            name,
            name=name,
            version=args.kubernetes_version,
            role_arn=cluster_role.arn,
            vpc_config={
                "subnet_ids": [*self.private_subnet_ids, *public_ids],
                "endpoint_private_access": True,
                "endpoint_public_access": True,
                "public_access_cidrs": list(args.api_allowed_cidrs),
            },
            access_config={"authentication_mode": "API", "bootstrap_cluster_creator_admin_permissions": True},
            encryption_config={"resources": ["secrets"], "provider": {"key_arn": key.arn}},
            enabled_cluster_log_types=["api", "audit", "authenticator", "controllerManager", "scheduler"],
            tags=tags,
            opts=protected,
        )
        issuer = self.cluster.identities.apply(lambda ids: ids[0]["oidcs"][0]["issuer"] if ids else "")
        self.oidc = aws.iam.OpenIdConnectProvider(
            f"{name}-oidc", url=issuer, client_id_lists=["sts.amazonaws.com"], tags=tags, opts=child,
        )
        node_role = aws.iam.Role(f"{name}-nodes", assume_role_policy=_assume("ec2.amazonaws.com"), tags=tags, opts=child)
        for policy in NODE_POLICIES:
            aws.iam.RolePolicyAttachment(
                f"{name}-nodes-{policy}", role=node_role.name,
                policy_arn=f"arn:aws:iam::aws:policy/{policy}", opts=child,
            )
        self.node_role = node_role
        self.system_nodes = self._node_group(
            name, "system", args.instance_type, args.disk_gib, args.min_nodes, args.max_nodes,
            {"phasescale/pool": "system"}, tags,
        )
        self.data_nodes = self._data_nodes(name, args, tags) if args.data_pool is not None else None
        ebs_csi_role = self.irsa_role(f"{name}-ebs-csi", *EBS_CSI_SERVICE_ACCOUNT, [EBS_CSI_POLICY])
        self.addons: dict[str, aws.eks.Addon] = {}
        for addon in ADDONS:
            role = {"service_account_role_arn": ebs_csi_role.arn} if addon == "aws-ebs-csi-driver" else {}
            self.addons[addon] = aws.eks.Addon(
                f"{name}-{addon}", cluster_name=self.cluster.name, addon_name=addon,
                resolve_conflicts_on_update="PRESERVE",
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.system_nodes]),
                **role,
            )
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(self.cluster.endpoint, self.cluster.certificate_authority.data).apply(
                lambda a: _kubeconfig(name, args.region, a[0], a[1])
            )
        )
        self.register_outputs({"name": self.cluster.name, "endpoint": self.cluster.endpoint})

    def _node_group(
        self,
        name: str,
        group: str,
        instance_type: str,
        disk_gib: int,
        min_nodes: int,
        max_nodes: int,
        labels: dict[str, str],
        tags: dict[str, str],
        taints: list[dict[str, str]] | None = None,
    ) -> aws.eks.NodeGroup:
        """An AL2023 on-demand managed node group of ours in the private subnets, owned by this
        cluster's autoscaler, scaled so that a phase move's new bounds are accepted
        (:func:`node_group_scaling`)."""
        scaling = node_group_scaling(self, name, group, min_nodes, max_nodes)
        extra = {"taints": taints} if taints else {}
        return aws.eks.NodeGroup(
            f"{name}-{group}",
            cluster_name=self.cluster.name,
            node_group_name=group,
            node_role_arn=self.node_role.arn,
            subnet_ids=self.private_subnet_ids,
            ami_type="AL2023_x86_64_STANDARD",
            capacity_type="ON_DEMAND",
            instance_types=[instance_type],
            disk_size=disk_gib,
            scaling_config=scaling.scaling_config,
            update_config={"max_unavailable": 1},
            labels=labels,
            tags={**tags, f"k8s.io/cluster-autoscaler/{name}": "owned", "k8s.io/cluster-autoscaler/enabled": "true"},
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=scaling.ignore_changes),
            **extra,
        )

    def _data_nodes(self, name: str, args: EksClusterArgs, tags: dict[str, str]) -> aws.eks.NodeGroup:
        """The data node group: AL2023, on demand, tainted and labelled for the data tier. EKS does not
        copy node group tags to its Auto Scaling group, so the autoscaler's node-template tags are set
        on the group (for the record) and on the ASG itself (what the autoscaler reads)."""
        pool = args.data_pool
        assert pool is not None
        template = autoscaler_template_tags(dict(DATA_LABELS), [(DATA_TAINT.key, DATA_TAINT.value, DATA_TAINT.effect)])
        group = self._node_group(
            name, "data", pool.machine_type, pool.disk_gib, pool.min_nodes, pool.max_nodes,
            dict(DATA_LABELS), {**tags, **template},
            taints=[{"key": DATA_TAINT.key, "value": DATA_TAINT.value, "effect": "NO_SCHEDULE"}],
        )
        asg = group.resources.apply(lambda rs: rs[0].autoscaling_groups[0].name if rs else None)
        for key, value in template.items():
            kind, _, what = key.removeprefix("k8s.io/cluster-autoscaler/node-template/").partition("/")
            aws.autoscaling.Tag(
                f"{name}-data-{kind}-{what.replace('/', '-').replace('.', '-')}",
                autoscaling_group_name=asg,
                tag={"key": key, "value": value, "propagate_at_launch": False},
                opts=pulumi.ResourceOptions(parent=self),
            )
        return group

    def irsa_role(self, name: str, namespace: str, service_account: str, policy_arns: list[pulumi.Input[str]]) -> aws.iam.Role:
        """An IAM role that only ``namespace/service_account`` can assume through the OIDC provider."""
        doc = pulumi.Output.all(self.oidc.arn, self.oidc.url).apply(
            lambda a: json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Federated": a[0]},
                            "Action": "sts:AssumeRoleWithWebIdentity",
                            "Condition": {
                                "StringEquals": {
                                    f"{a[1].removeprefix('https://')}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                                    f"{a[1].removeprefix('https://')}:aud": "sts.amazonaws.com",
                                }
                            },
                        }
                    ],
                }
            )
        )
        role = aws.iam.Role(name, assume_role_policy=doc, opts=pulumi.ResourceOptions(parent=self))
        for i, arn in enumerate(policy_arns):
            aws.iam.RolePolicyAttachment(f"{name}-{i}", role=role.name, policy_arn=arn, opts=pulumi.ResourceOptions(parent=self))
        return role


def live_scaling(owner: pulumi.Resource, cluster_name: str, node_group_name: str) -> LiveScaling | None:
    """The scaling config EKS reports now for a managed node group, or None before it exists.

    Read through ``owner``'s AWS provider at preview and at up: the region's cluster names
    (``aws.eks.getClusters``), the cluster's node group names (``getNodeGroups``), then the group
    (``getNodeGroup``), so a first deploy (no cluster or no group yet) reads nothing and fails nothing.
    """
    opts = pulumi.InvokeOptions(parent=owner)
    if cluster_name not in (aws.eks.get_clusters(opts=opts).names or []):
        return None
    if node_group_name not in (aws.eks.get_node_groups(cluster_name=cluster_name, opts=opts).names or []):
        return None
    group = aws.eks.get_node_group(cluster_name=cluster_name, node_group_name=node_group_name, opts=opts)
    configs = group.scaling_configs or []
    if not configs:
        return None
    live = configs[0]
    return LiveScaling(min_size=live.min_size, max_size=live.max_size, desired_size=live.desired_size)


def node_group_scaling(
    owner: pulumi.Resource, cluster_name: str, node_group_name: str, min_size: int, max_size: int
) -> ScalingDecision:
    """Scaling inputs for an ``aws.eks.NodeGroup`` that EKS accepts on every phase move: pass
    ``.scaling_config`` as ``scaling_config`` and ``.ignore_changes`` as the resource's
    ``ignore_changes`` (components/cluster/scaling.py says why). ``cluster_name`` is the EKS cluster's
    physical name, ``node_group_name`` the group's ``node_group_name``."""
    return scaling_decision(min_size, max_size, live_scaling(owner, cluster_name, node_group_name))


@dataclass(frozen=True)
class VpcPlacement:
    """Where a managed data service (RDS, ElastiCache) sits in the EKS cluster's VPC."""

    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    """Only this range may connect (the EKS nodes and pods)."""
    subnet_ids: Sequence[pulumi.Input[str]]


def vpc_only_security_group(
    name: str,
    description: str,
    vpc_id: pulumi.Input[str],
    vpc_cidr: str,
    port: int,
    clients: str,
    opts: pulumi.ResourceOptions,
    physical_name: str | None = None,
) -> aws.ec2.SecurityGroup:
    """A security group admitting ``port`` from the VPC's own range only (managed data services)."""
    extra = {"name": physical_name} if physical_name else {}
    return aws.ec2.SecurityGroup(
        name,
        description=description,
        vpc_id=vpc_id,
        ingress=[
            {"protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": [vpc_cidr], "description": clients}
        ],
        opts=opts,
        **extra,
    )


def cluster_autoscaler_policy(cluster: str) -> str:
    """Least privilege for the cluster autoscaler: read everything it needs (node groups included, so
    groups at zero scale up with the right labels and taints); change only this cluster's groups."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "autoscaling:DescribeAutoScalingGroups",
                        "autoscaling:DescribeAutoScalingInstances",
                        "autoscaling:DescribeLaunchConfigurations",
                        "autoscaling:DescribeScalingActivities",
                        "autoscaling:DescribeTags",
                        "ec2:DescribeImages",
                        "ec2:DescribeInstanceTypes",
                        "ec2:DescribeLaunchTemplateVersions",
                        "ec2:GetInstanceTypesFromInstanceRequirements",
                        "eks:DescribeNodegroup",
                    ],
                    "Resource": "*",
                },
                {
                    "Effect": "Allow",
                    "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                    "Resource": "*",
                    "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster}": "owned"}},
                },
            ],
        }
    )


def _kubeconfig(name: str, region: str, endpoint: str, ca: str) -> str:
    """A kubeconfig that authenticates with ``aws eks get-token`` (no static credentials)."""
    return exec_kubeconfig(name, endpoint, ca, "aws", ["eks", "get-token", "--cluster-name", name, "--region", region])
