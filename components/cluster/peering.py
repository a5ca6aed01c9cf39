"""VpcPeering: inter-region VPC peering between two EKS VPCs of one account, with routes both ways.

The requester side (the second region) creates the connection with ``peer_region``; an inter-region
connection cannot be auto-accepted by the requester, so the accepter side (the primary region)
accepts it with its own provider (``VpcPeeringConnectionAccepter``, ``auto_accept``). Every private
route table of each VPC gets a route to the other VPC's CIDR through the connection (AWS VPC
Peering Guide: "Update your route tables for a VPC peering connection"; the CIDRs must not overlap:
"VPC peering limitations"). Security groups are the services' own (the RDS primary's admits the
peer's CIDR on 5432). Clients in the peer VPC use the RDS endpoint's name as is: an instance that is
not publicly accessible has a DNS name that resolves to its private IP (RDS API, CreateDBInstance
``PubliclyAccessible``), which the peering routes. Names derive from the component's (``tokyo-peering-seoul``); nothing here holds
data, so leaving the multi-region phase deletes it with the second region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components.sdk import aws

TYPE = "phasescale:components:VpcPeering"


@dataclass(frozen=True)
class PeeringSide:
    key: str
    """Region key (``seoul``): names the routes."""
    region: str
    """AWS region (``ap-northeast-2``)."""
    vpc_id: pulumi.Input[str]
    cidr: str
    route_table_ids: Sequence[pulumi.Input[str]]
    """The private route tables (one per zone) of the VPC."""
    provider: pulumi.ProviderResource
    """The AWS provider pinned to this side's region."""


@dataclass(frozen=True)
class VpcPeeringArgs:
    requester: PeeringSide
    accepter: PeeringSide


class VpcPeering(pulumi.ComponentResource):
    connection_id: pulumi.Output[str]

    def __init__(self, name: str, args: VpcPeeringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        req, acc = args.requester, args.accepter
        tags = {"Name": name}
        connection = aws.ec2.VpcPeeringConnection(
            name,
            vpc_id=req.vpc_id,
            peer_vpc_id=acc.vpc_id,
            peer_region=acc.region,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=req.provider),
        )
        accepted = aws.ec2.VpcPeeringConnectionAccepter(
            f"{name}-accept",
            vpc_peering_connection_id=connection.id,
            auto_accept=True,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, provider=acc.provider),
        )
        for here, there in ((req, acc), (acc, req)):
            for i, table in enumerate(here.route_table_ids):
                aws.ec2.Route(
                    f"{name}-{here.key}-{i}",
                    route_table_id=table,
                    destination_cidr_block=there.cidr,
                    vpc_peering_connection_id=connection.id,
                    opts=pulumi.ResourceOptions(parent=self, provider=here.provider, depends_on=[accepted]),
                )
        self.connection_id = connection.id
        self.register_outputs({"connection": connection.id})
