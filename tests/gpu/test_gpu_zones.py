"""GPU zones: the accelerator x zone tables, the placement they give, and the config errors when a
region (or the stack's zones) does not sell the GPU."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from components.gpu import catalog as gc
from components.gpu import vllm_plan as vp
from components.gpu import zones as gz
from infra import plan as planner
from infra import recording
from tests.gpu.test_vllm_gpu_pool import refused
from tests.planning import plan_of

P = "phasescale:overrides.gpu"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
NODE_POOL = "gcp:container/nodePool:NodePool"


# --- the tables ---------------------------------------------------------------------------------------
def test_every_catalog_accelerator_and_family_has_a_row_in_every_tabled_region() -> None:
    for region, by_accel in gz.GKE_ZONES.items():
        assert set(by_accel) == set(gc.GKE_ACCELERATORS), region
        for zones in by_accel.values():
            assert all(z.startswith(f"{region}-") for z in zones), region
    families = {gz.eks_family(t) for t in gc.EKS_INSTANCES}
    assert set(gz.EKS_FAMILY_ZONE_IDS) == families
    prefix = {"ap-northeast-2": "apne2-az", "ap-northeast-1": "apne1-az"}
    for family, by_region in gz.EKS_FAMILY_ZONE_IDS.items():
        assert set(by_region) == set(gz.EKS_REGIONS), family
        for region, ids in by_region.items():
            assert all(i.startswith(prefix[region]) for i in ids), (family, region)


def test_every_accelerator_missing_from_a_region_names_where_it_is_sold() -> None:
    for by_accel in gz.GKE_ZONES.values():
        assert all(gz.GKE_ELSEWHERE.get(a) for a, zones in by_accel.items() if not zones)
    for family, by_region in gz.EKS_FAMILY_ZONE_IDS.items():
        assert all(gz.EKS_ELSEWHERE.get(family) for ids in by_region.values() if not ids)


# --- placement ------------------------------------------------------------------------------------------
def test_gke_zones_are_the_region_s_zones_that_sell_the_accelerator() -> None:
    assert gz.gke_zones("asia-northeast3", "nvidia-l4") == ("asia-northeast3-a", "asia-northeast3-b")
    assert gz.gke_zones("asia-northeast1", "nvidia-l4") == (
        "asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c",
    )  # fmt: skip
    assert gz.gke_zones("asia-northeast3", "nvidia-tesla-t4") == ("asia-northeast3-b", "asia-northeast3-c")
    # the stack's own zones narrow the choice
    assert gz.gke_zones("asia-northeast3", "nvidia-l4", ["asia-northeast3-b", "asia-northeast3-c"]) == (
        "asia-northeast3-b",
    )


def test_gke_zone_errors_name_the_zones_or_regions_that_sell_it() -> None:
    with pytest.raises(gz.ZoneError, match="nvidia-h100-80gb is sold in no zone of asia-northeast3; regions "
                       "that sell it: asia-east1, asia-northeast1, "):  # fmt: skip
        gz.gke_zones("asia-northeast3", "nvidia-h100-80gb")
    with pytest.raises(gz.ZoneError, match=r"nvidia-l4 is sold in asia-northeast3-a, asia-northeast3-b of "
                       r"asia-northeast3, none of the stack's zones \(asia-northeast3-c\)"):  # fmt: skip
        gz.gke_zones("asia-northeast3", "nvidia-l4", ["asia-northeast3-c"])
    with pytest.raises(gz.ZoneError, match="a region with a GPU zone table"):
        gz.gke_zones("us-central1", "nvidia-l4")


def test_eks_zone_ids_and_the_subnets_they_select() -> None:
    assert gz.eks_zone_ids("ap-northeast-2", "g6.12xlarge") == ("apne2-az1", "apne2-az4")
    assert gz.eks_zone_ids("ap-northeast-1", "p5.48xlarge") == ("apne1-az1", "apne1-az4")
    with pytest.raises(gz.ZoneError, match=r"p5\.48xlarge \(p5\) is sold in no zone of ap-northeast-2"):
        gz.eks_zone_ids("ap-northeast-2", "p5.48xlarge")
    zones = ["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"]
    # this account maps 2a, 2b, 2c to az2, az4, az1: g6 is sold in az1 and az4
    mapping = {"ap-northeast-2a": "apne2-az2", "ap-northeast-2b": "apne2-az4", "ap-northeast-2c": "apne2-az1"}
    assert gz.eks_subnets(zones, ["s-a", "s-b", "s-c"], mapping, ("apne2-az1", "apne2-az4")) == ["s-b", "s-c"]
    with pytest.raises(gz.ZoneError, match=r"none of the node zones .*ap-northeast-2a=apne2-az2"):
        gz.eks_subnets(zones, ["s-a", "s-b", "s-c"], mapping, ("apne2-az3",))
    assert gz.eks_subnets(zones, ["s-a", "s-b", "s-c"], None, ("apne2-az3",)) == ["s-a", "s-b", "s-c"]


def test_prod_gpu_pools_sit_only_in_zones_that_sell_the_gpu() -> None:
    for phase, zones in ((1, ["asia-northeast3-a", "asia-northeast3-b"]), (3, ["asia-northeast3-a", "asia-northeast3-b"])):
        pools = [r for r in plan_of("prod", phase).of_type(NODE_POOL) if r.name.startswith("seoul-vllm")]
        assert pools and all(r.inputs["nodeLocations"] == zones for r in pools)
    tokyo = [r for r in plan_of("prod", 4).of_type(NODE_POOL) if r.name.startswith("tokyo-vllm")]
    assert tokyo and all(
        r.inputs["nodeLocations"] == ["asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c"] for r in tokyo
    )


def test_eks_gpu_groups_take_the_subnets_of_the_azs_that_sell_the_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """The account's AZ name -> ID mapping is read at deploy time; here the data source answers as an
    account whose 2a/2b/2c are az2/az4/az1 and whose 1a/1c/1d are az4/az1/az2 would."""
    answers = {
        "ap-northeast-2": (["ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c", "ap-northeast-2d"],
                           ["apne2-az2", "apne2-az4", "apne2-az1", "apne2-az3"]),
        "ap-northeast-1": (["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"],
                           ["apne1-az4", "apne1-az1", "apne1-az2"]),
    }  # fmt: skip
    calls: list[str] = []

    def call(self: Any, args: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token != "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {}, []  # the node groups' live scaling (components/cluster/eks.live_scaling): none yet
        region = "ap-northeast-1" if "tokyo" in (args.provider or "") else "ap-northeast-2"
        calls.append(region)
        names, ids = answers[region]
        return {"names": names, "zoneIds": ids}, []

    monkeypatch.setattr(recording._Mocks, "call", call)
    plan = planner.run("prod-aws", 4)
    groups = {r.name: r.inputs["subnetIds"] for r in plan.of_type(NODE_GROUP) if "vllm" in r.name}
    seoul = ["prod-aws-seoul-private-ap-northeast-2b-id", "prod-aws-seoul-private-ap-northeast-2c-id"]
    tokyo = ["prod-aws-tokyo-private-ap-northeast-1a-id", "prod-aws-tokyo-private-ap-northeast-1c-id"]
    assert groups == {
        "seoul-vllm-gpu-on-demand-g6-12xlarge": seoul, "seoul-vllm-gpu-spot-g6-12xlarge": seoul,
        "tokyo-vllm-gpu-on-demand-g6-12xlarge": tokyo, "tokyo-vllm-gpu-spot-g6-12xlarge": tokyo,
    }  # fmt: skip
    assert sorted(set(calls)) == ["ap-northeast-1", "ap-northeast-2"]


# --- config errors ----------------------------------------------------------------------------------
def test_an_accelerator_the_region_does_not_sell_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h100 = {"gkeAccelerator": "nvidia-h100-80gb", "gkeMachineType": "a3-highgpu-8g", "tensorParallelSize": 4}
    (problem,) = refused(tmp_path, monkeypatch, overrides={"gpu": h100})
    assert problem.startswith(
        f"{P}.gkeAccelerator: got 'nvidia-h100-80gb'; nvidia-h100-80gb is sold in no zone of asia-northeast3; "
        "regions that sell it: asia-east1, asia-northeast1, asia-south1,"
    )
    assert problem.endswith("or an accelerator asia-northeast3 sells: nvidia-tesla-t4, nvidia-l4, nvidia-tesla-a100")
    (problem,) = refused(tmp_path, monkeypatch, "eks", overrides={"gpu": {"eksInstanceType": "p5.48xlarge"}})
    assert problem.startswith(
        f"{P}.eksInstanceType: got 'p5.48xlarge'; p5.48xlarge (p5) is sold in no zone of ap-northeast-2; "
        "regions that sell it: ap-northeast-1, "
    )


def test_stack_zones_without_the_gpu_are_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert refused(tmp_path, monkeypatch, regions={
        "seoul": {"location": "asia-northeast3", "zones": ["asia-northeast3-c"]},
    }) == [
        "phasescale:regions.seoul.zones: got ['asia-northeast3-c']; nvidia-l4 is sold in asia-northeast3-a, "
        "asia-northeast3-b of asia-northeast3, none of the stack's zones (asia-northeast3-c); add one of them "
        "to the region's zones"
    ]  # fmt: skip


def test_a_region_without_a_zone_table_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (problem,) = refused(tmp_path, monkeypatch, regions={"iowa": {"location": "us-central1"}})
    assert problem.startswith(
        "phasescale:regions.iowa.location: got 'us-central1'; a region with a GPU zone table "
        "(asia-northeast3, asia-northeast1); add us-central1's row"
    )


def test_every_catalog_shape_gives_valid_cloud_pool_names() -> None:
    """Pool names carry the shape: every machine and instance type in the catalogs must give a name
    the clouds accept (EKS node group names: at most 63 characters, terraform-provider-aws
    internal/service/eks/node_group.go; GKE node pools: RFC 1035 labels)."""
    label = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    for m in gc.GKE_MACHINES.values():
        for count in m.gpu_counts:
            spec = vp.VllmPoolSpec("llama-2-7b-chat", vp.Cloud.GKE, m.accelerator, m.name, gpus_per_node=count)
            name = f"gpu-on-demand-{vp.pool_shape(spec)}"
            assert label.match(name) and len(name) <= 40, name
    for t in gc.EKS_INSTANCES:
        name = f"gpu-on-demand-{vp.pool_shape(vp.VllmPoolSpec('llama-2-7b-chat', vp.Cloud.EKS, t))}"
        assert label.match(name) and len(name) <= 63, name
