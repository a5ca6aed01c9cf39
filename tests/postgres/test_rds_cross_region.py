"""prod-aws phase 4: Tokyo's database path. A cross-region RDS read replica in Tokyo (its own KMS key,
subnet, security and parameter groups), VPC peering between the regions with routes both ways, the
primary's security group admitting Tokyo's CIDR, and Tokyo's PgBouncer reading locally and writing
to Seoul. Moving to phase 3 deletes the replica and the peering, never the primary."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.cluster import eks
from components.postgres import pgbouncer_plan as bp
from components.problems import ConfigError
from infra import plan as planner
from infra.diff import diff
from infra.parts import postgres as part
from tests.planning import ROOT, k8s_objects, plan_of

PG = "phasescale:components:PostgresCluster"
PEERING = "phasescale:components:VpcPeering"


def children(plan: planner.Plan, parent: str) -> dict[tuple[str, str], planner.Record]:
    return {(r.type, r.name): r for r in plan.records if r.parent == parent}


def test_tokyo_gets_a_cross_region_replica_with_exactly_these_cloud_resources() -> None:
    plan = plan_of("prod-aws", 4)
    got = children(plan, f"{PG}::tokyo-pg")
    assert sorted(k for k in got if not k[0].startswith("kubernetes:") and not k[0].startswith("phasescale:")) == [
        ("aws:ec2/securityGroup:SecurityGroup", "tokyo-pg-sg"),
        ("aws:kms/key:Key", "tokyo-pg-replica-key"),
        ("aws:rds/instance:Instance", "tokyo-pg-replica-1"),
        ("aws:rds/parameterGroup:ParameterGroup", "tokyo-pg-params"),
        ("aws:rds/subnetGroup:SubnetGroup", "tokyo-pg-subnets"),
    ]
    assert all(r.provider == "tokyo-aws" for k, r in got.items() if k[0].startswith("aws:"))
    replica = got[("aws:rds/instance:Instance", "tokyo-pg-replica-1")]
    i = replica.inputs
    assert (i["identifier"], i["replicateSourceDb"], i["kmsKeyId"]) == (
        "prod-aws-tokyo-pg-replica-1", "arn:aws:mock:::seoul-pg", "arn:aws:mock:::tokyo-pg-replica-key")
    assert (i["dbSubnetGroupName"], i["parameterGroupName"], i["vpcSecurityGroupIds"]) == (
        "prod-aws-tokyo-pg", "prod-aws-tokyo-pg-postgres17", ["tokyo-pg-sg-id"])
    assert (i["storageEncrypted"], i["publiclyAccessible"], i["instanceClass"], i["multiAz"]) == (
        True, False, "db.m7g.2xlarge", True)
    primary = plan.named("aws:rds/instance:Instance", "seoul-pg").inputs
    assert (i["instanceClass"], i["maxAllocatedStorage"]) == (primary["instanceClass"], primary["maxAllocatedStorage"])
    # A replica holds no data of its own: unprotected, no deletion protection, so 4 -> 3 can delete it.
    assert (replica.protect, i["deletionProtection"], i["skipFinalSnapshot"]) == (False, False, True)
    assert "engine" not in i and "password" not in i and "username" not in i
    key = got[("aws:kms/key:Key", "tokyo-pg-replica-key")].inputs
    assert (key["enableKeyRotation"], key["deletionWindowInDays"]) == (True, 30)
    assert got[("aws:rds/subnetGroup:SubnetGroup", "tokyo-pg-subnets")].inputs["subnetIds"] == [
        f"prod-aws-tokyo-private-ap-northeast-1{z}-id" for z in "acd"]
    assert got[("aws:ec2/securityGroup:SecurityGroup", "tokyo-pg-sg")].inputs["ingress"] == [
        {"protocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrBlocks": ["10.40.0.0/16"],
         "description": "PostgreSQL clients in the VPC"}]


def test_the_regions_vpcs_are_peered_with_routes_both_ways_in_every_private_route_table() -> None:
    plan = plan_of("prod-aws", 4)
    got = children(plan, f"{PEERING}::tokyo-peering-seoul")
    conn = got[("aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "tokyo-peering-seoul")]
    assert conn.provider == "tokyo-aws"
    assert {k: conn.inputs[k] for k in ("vpcId", "peerVpcId", "peerRegion")} == {
        "vpcId": "prod-aws-tokyo-vpc-id", "peerVpcId": "prod-aws-seoul-vpc-id", "peerRegion": "ap-northeast-2"}
    assert "autoAccept" not in conn.inputs  # inter-region: the accepter side accepts
    accept = got[("aws:ec2/vpcPeeringConnectionAccepter:VpcPeeringConnectionAccepter", "tokyo-peering-seoul-accept")]
    assert (accept.provider, accept.inputs["autoAccept"], accept.inputs["vpcPeeringConnectionId"]) == (
        "seoul-aws", True, "tokyo-peering-seoul-id")
    routes = {r.name: (r.provider, r.inputs["routeTableId"], r.inputs["destinationCidrBlock"],
                       r.inputs["vpcPeeringConnectionId"])
              for r in got.values() if r.type == "aws:ec2/route:Route"}
    assert routes == {
        **{f"tokyo-peering-seoul-seoul-{i}": ("seoul-aws", f"prod-aws-seoul-private-ap-northeast-2{z}-id",
                                              "10.40.0.0/16", "tokyo-peering-seoul-id") for i, z in enumerate("abc")},
        **{f"tokyo-peering-seoul-tokyo-{i}": ("tokyo-aws", f"prod-aws-tokyo-private-ap-northeast-1{z}-id",
                                              "10.30.0.0/16", "tokyo-peering-seoul-id") for i, z in enumerate("acd")},
    }
    assert len(got) == 8


def test_the_primary_admits_tokyo_and_tokyo_pgbouncer_reads_locally_and_writes_to_seoul() -> None:
    plan = plan_of("prod-aws", 4)
    sg = plan.named("aws:ec2/securityGroup:SecurityGroup", "seoul-pg-sg").inputs
    assert sg["name"] == "prod-aws-seoul-pg"
    assert [(r["cidrBlocks"], r["fromPort"], r["description"]) for r in sg["ingress"]] == [
        (["10.30.0.0/16"], 5432, "PostgreSQL clients in the VPC"),
        (["10.40.0.0/16"], 5432, "PostgreSQL clients in the peered VPC 10.40.0.0/16"),
    ]
    ini = k8s_objects(plan, "ConfigMap")["tokyo-k8s/tokyo-pg-pgbouncer-config"]["data"]["pgbouncer.ini"]
    assert ini.splitlines()[1:3] == [
        "app = host=prod-aws-seoul-pg.address port=5432 dbname=app max_db_connections=69",
        "app_ro = host=prod-aws-tokyo-pg-replica-1.address port=5432 dbname=app max_db_connections=90",
    ]
    # Seoul's 4 poolers x 90 plus Tokyo's 4 x 69 stay under 80% of the primary's 800 connections.
    assert 4 * 90 + 4 * 69 < 0.8 * 800 <= 4 * 90 + 4 * 70


def test_below_phase_4_there_is_no_replica_no_peering_and_the_primary_admits_its_vpc_only() -> None:
    plan = plan_of("prod-aws", 3)
    assert not plan.of_type("aws:ec2/vpcPeeringConnection:VpcPeeringConnection")
    assert not [r for r in plan.records if r.name.startswith("tokyo-")]
    sg = plan.named("aws:ec2/securityGroup:SecurityGroup", "seoul-pg-sg").inputs
    assert [r["cidrBlocks"] for r in sg["ingress"]] == [["10.30.0.0/16"]]


def test_moving_4_to_3_deletes_the_replica_and_the_peering_never_the_primary() -> None:
    d = diff(plan_of("prod-aws", 4), plan_of("prod-aws", 3))
    deleted = {(r.type, r.name) for r in d.deleted}
    assert ("aws:rds/instance:Instance", "tokyo-pg-replica-1") in deleted
    assert ("aws:ec2/vpcPeeringConnection:VpcPeeringConnection", "tokyo-peering-seoul") in deleted
    assert ("aws:kms/key:Key", "tokyo-pg-replica-key") in deleted
    seoul_rds = {r.name for r in d.deleted if r.type == "aws:rds/instance:Instance" and r.name.startswith("seoul-pg")}
    assert "seoul-pg" not in seoul_rds
    assert not [b for _, b, _ in d.replaced if b.name.startswith("seoul-pg")]
    changed = {b.name: paths for _, b, paths in d.changed}
    assert changed["seoul-pg-sg"] == ["ingress"]
    up = diff(plan_of("prod-aws", 3), plan_of("prod-aws", 4))
    assert not [b for _, b, _ in up.replaced if b.type == "aws:rds/instance:Instance"]


def test_remote_write_cap_shares_the_primary_budget() -> None:
    pooler = part.sizing(plan_of("prod-aws", 4).settings).pooler
    assert bp.remote_write_cap(pooler, 800, 2) == 69
    assert bp.remote_write_cap(pooler, 800, 3) == 34
    assert bp.remote_write_cap(pooler, 451, 2) == 0


def _two_regions(tmp_path: Path, **changes: Any) -> Path:
    doc = yaml.safe_load((ROOT / "Pulumi.prod-aws.yaml").read_text())
    cfg = doc["config"]
    cfg["phasescale:phase"] = 4
    for key, value in changes.items():
        cfg[f"phasescale:{key}"] = value
    (tmp_path / "Pulumi.t.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path


def test_overlapping_vpc_cidrs_cannot_be_peered(tmp_path: Path) -> None:
    regions = yaml.safe_load((ROOT / "Pulumi.prod-aws.yaml").read_text())["config"]["phasescale:regions"]
    regions["tokyo"]["vpcCidr"] = "10.30.0.0/16"
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=_two_regions(tmp_path, regions=regions))
    assert [p.render() for p in err.value.problems] == [
        "phasescale:regions.tokyo.vpcCidr: got '10.30.0.0/16'; a range that does not overlap regions.seoul.vpcCidr "
        "(10.30.0.0/16): every region is deployed at this phase and their VPCs are peered/routed"
    ]


def test_a_primary_too_small_for_two_regions_of_writers_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        planner.run("t", None, root=_two_regions(tmp_path, overrides={"postgres": {"maxConnections": 460}}))
    assert [p.render() for p in err.value.problems] == [
        "phasescale:overrides.postgres.maxConnections: got 460; too small for 2 regions writing to one RDS "
        "primary: the primary region's 4 poolers x 90 leave 1 per pooler instance of the other regions (need "
        "at least minPoolSize 20); raise maxConnections or lower defaultPoolSize"
    ]


def test_cnpg_replica_regions_need_the_password_and_cloudsql_serves_one_region() -> None:
    settings = plan_of("prod", 4).settings
    without = dataclasses.replace(settings, secrets={k: v for k, v in settings.secrets.items() if k != "dbPassword"})
    assert [p.path for p in part.validate(without)] == ["phasescale:dbPassword"]
    assert part.validate(settings) == []
    cloudsql = dataclasses.replace(settings, stack=settings.stack.model_copy(update={
        "postgres": settings.stack.postgres.model_copy(update={"engine": part.PostgresEngine.CLOUDSQL})}))
    assert [(p.path, p.value) for p in part.validate(cloudsql)] == [("phasescale:postgres.engine", "cloudsql")]


def test_eks_private_route_tables_keep_the_peering_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    # In-line routes and aws.ec2.Route resources overwrite each other (aws.ec2.RouteTable docs) unless
    # the route tables ignore changes to their in-line routes; the public table gets no peering routes.
    seen: dict[str, list[str] | None] = {}
    real = eks.aws.ec2.RouteTable

    def watched(name: str, *args: Any, opts: Any = None, **kw: Any) -> Any:
        seen[name] = opts.ignore_changes if opts is not None else None
        return real(name, *args, opts=opts, **kw)

    monkeypatch.setattr(eks.aws.ec2, "RouteTable", watched)
    args = eks.EksClusterArgs(region="ap-northeast-1", zones=("ap-northeast-1a", "ap-northeast-1c"),
                              vpc_cidr="10.40.0.0/16", kubernetes_version="1.33", api_allowed_cidrs=("203.0.113.0/24",),
                              instance_type="m6i.xlarge", min_nodes=1, max_nodes=3, disk_gib=50)
    clusters: list[eks.EksCluster] = []
    planner.record(lambda: clusters.append(eks.EksCluster("t-tokyo", args)))
    assert seen == {"t-tokyo-public": None, "t-tokyo-private-ap-northeast-1a": ["routes"],
                    "t-tokyo-private-ap-northeast-1c": ["routes"]}
    assert len(clusters[0].private_route_table_ids) == 2


def test_each_region_scrapes_its_own_instances_tokyo_only_its_replica() -> None:
    plan = plan_of("prod-aws", 4)
    exporters = {r.name: r.parent for r in plan.of_type("phasescale:components:ManagedExporter")
                 if r.name.endswith("-pg-primary-exporter") or "-pg-replica-" in r.name}
    assert exporters == {
        "seoul-pg-primary-exporter": f"{PG}::seoul-pg",
        **{f"seoul-pg-replica-{i}-exporter": f"{PG}::seoul-pg" for i in range(1, 5)},
        "tokyo-pg-replica-1-exporter": f"{PG}::tokyo-pg",
    }
    assert plan.named("kubernetes:apps/v1:Deployment", "tokyo-pg-replica-1-exporter").provider == "tokyo-k8s"
