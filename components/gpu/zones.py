"""Where each GPU is sold: accelerator x zone for the regions the stacks use, and where to place the
GPU node pools. Pure module: no Pulumi imports.

GPUs are not offered in every zone of a region, and a node pool or node group that names a zone
without its GPU fails to create: GKE refuses the node pool, EKS refuses the node group ("Your
requested instance type (g4dn.xlarge) is not supported in your requested Availability Zone",
InvalidRequestException from CreateNodegroup: eksctl-io/eksctl#6461, awslabs/ec2-spot-workshops#154).
So the pools go only to the zones below, and a region without the GPU is a config error.

Sources, read 2026-12-01 from skypilot-org/skypilot-catalog, whose catalogs are generated daily from
the clouds' own APIs (Compute Engine ``machineTypes``/``acceleratorTypes`` per zone; EC2
``DescribeInstanceTypeOfferings --location-type availability-zone-id``):

- GKE: ``catalogs/v7/gcp/vms.csv`` @ 017e2502fb63c7a28757acd94002b2d6099d3e3d, rows of the machine
  types in :data:`components.gpu.catalog.GKE_MACHINES` (a2-highgpu, a2-ultragpu, a3-highgpu,
  a3-ultragpu, g2-standard) and of the N1-attached ``T4``. The same data is Google's "GPU regions
  and zones" page (cloud.google.com/compute/docs/gpus/gpu-regions-zones).
- EKS: ``catalogs/v7/aws/vms.csv`` @ 001367d22a0033fac286a8c71aeac7109e431bcb, in AZ *IDs*
  (``apne2-az1``): AWS maps AZ names (``ap-northeast-2a``) to physical zones independently per
  account, so the table is keyed by ID and the GPU part maps the account's names to IDs at deploy
  time (``aws.get_availability_zones``). Families share their zones (every g6 size in Seoul is in
  az1 and az4; checked on g6.2xlarge, g6.4xlarge, g6.24xlarge, g6.48xlarge).

Regions outside these tables are refused rather than guessed: add the region's rows from the same
source (or ``gcloud compute accelerator-types list --filter=zone:<region>`` / ``aws ec2
describe-instance-type-offerings --location-type availability-zone-id --region <region>``).
"""

from __future__ import annotations

from collections.abc import Sequence

# fmt: off
GKE_ZONES: dict[str, dict[str, tuple[str, ...]]] = {
    # region            accelerator            zones that sell it
    "asia-northeast3": {  # Seoul: zones a, b, c
        "nvidia-tesla-t4":   ("asia-northeast3-b", "asia-northeast3-c"),
        "nvidia-l4":         ("asia-northeast3-a", "asia-northeast3-b"),
        "nvidia-tesla-a100": ("asia-northeast3-a", "asia-northeast3-b"),
        "nvidia-a100-80gb":  (),
        "nvidia-h100-80gb":  (),  # Seoul sells only a3-edgegpu-8g, which the catalog does not carry
        "nvidia-h200-141gb": (),
    },
    "asia-northeast1": {  # Tokyo: zones a, b, c
        "nvidia-tesla-t4":   ("asia-northeast1-a", "asia-northeast1-c"),
        "nvidia-l4":         ("asia-northeast1-a", "asia-northeast1-b", "asia-northeast1-c"),
        "nvidia-tesla-a100": ("asia-northeast1-a", "asia-northeast1-c"),
        "nvidia-a100-80gb":  (),
        "nvidia-h100-80gb":  ("asia-northeast1-b",),
        "nvidia-h200-141gb": (),
    },
}
"""GKE region -> accelerator type -> the region's zones that sell it."""

GKE_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "nvidia-a100-80gb": ("asia-southeast1", "europe-west4", "us-central1", "us-east4", "us-east5"),
    "nvidia-h100-80gb": ("asia-east1", "asia-northeast1", "asia-south1", "asia-southeast1", "europe-west4",
                         "us-central1", "us-east4", "us-west1"),
    "nvidia-h200-141gb": ("asia-south1", "europe-west1", "europe-west4", "us-central1", "us-east4", "us-east5",
                          "us-west1"),
}
"""Regions (same source, not exhaustive) that sell the accelerators missing from a tabled region."""

_G5: dict[str, tuple[str, ...]] = {"ap-northeast-2": ("apne2-az1", "apne2-az3", "apne2-az4"), "ap-northeast-1": ("apne1-az1", "apne1-az4")}
_G6: dict[str, tuple[str, ...]] = {"ap-northeast-2": ("apne2-az1", "apne2-az4"), "ap-northeast-1": ("apne1-az1", "apne1-az4")}
_G6E: dict[str, tuple[str, ...]] = {"ap-northeast-2": ("apne2-az1", "apne2-az2"), "ap-northeast-1": ("apne1-az1", "apne1-az4")}
EKS_FAMILY_ZONE_IDS: dict[str, dict[str, tuple[str, ...]]] = {
    "g5": _G5,
    "g6": _G6,
    "g6e": _G6E,
    "p4d": {"ap-northeast-2": ("apne2-az4",), "ap-northeast-1": ("apne1-az4",)},
    "p4de": {"ap-northeast-2": (), "ap-northeast-1": ()},
    "p5": {"ap-northeast-2": (), "ap-northeast-1": ("apne1-az1", "apne1-az4")},
    "p5e": {"ap-northeast-2": (), "ap-northeast-1": ()},
}
"""EC2 instance family -> region -> AZ IDs that sell it (the regions below are the tabled ones)."""

EKS_REGIONS: tuple[str, ...] = ("ap-northeast-2", "ap-northeast-1")

EKS_ELSEWHERE: dict[str, tuple[str, ...]] = {
    "p4de": ("us-east-1", "us-west-2"),
    "p5": ("ap-northeast-1", "ap-south-1", "ap-southeast-2", "eu-north-1", "eu-west-2", "us-east-1", "us-east-2",
           "us-west-2"),
    "p5e": ("ap-southeast-2", "ap-southeast-3", "eu-north-1", "eu-west-2", "us-east-2", "us-west-2"),
}
"""Regions (same source, not exhaustive) that sell the families missing from a tabled region."""
# fmt: on


def eks_family(instance_type: str) -> str:
    """``g6.12xlarge`` -> ``g6``."""
    return instance_type.split(".", 1)[0]


class ZoneError(ValueError):
    """The accelerator is not sold where the stack asks for it; the message says where it is.
    ``culprit`` is what to change: ``region`` (no table for it), ``zones`` (the stack's zones leave out
    every zone with the GPU) or ``accelerator`` (the region sells it nowhere)."""

    def __init__(self, message: str, culprit: str) -> None:
        super().__init__(message)
        self.culprit = culprit


def gke_zones(region: str, accelerator: str, configured: Sequence[str] = ()) -> tuple[str, ...]:
    """Zones of ``region`` for a GKE pool of ``accelerator``: the zones that sell it, within the
    stack's ``configured`` zones when it names some. Raises :class:`ZoneError` naming the zones
    (or other regions) that have it."""
    if region not in GKE_ZONES:
        raise ZoneError(f"a region with a GPU zone table ({', '.join(GKE_ZONES)}); add {region}'s row to "
                        "components/gpu/zones.py from Google's GPU regions and zones list", "region")  # fmt: skip
    sold = GKE_ZONES[region].get(accelerator, ())
    if not sold:
        elsewhere = ", ".join(r for r in GKE_ELSEWHERE.get(accelerator, ()) if r != region) or "none tabled"
        raise ZoneError(f"{accelerator} is sold in no zone of {region}; regions that sell it: {elsewhere}; "
                        f"or an accelerator {region} sells: {', '.join(a for a, z in GKE_ZONES[region].items() if z)}",
                        "accelerator")  # fmt: skip
    return _within(sold, configured, accelerator, region)


def eks_zone_ids(region: str, instance_type: str) -> tuple[str, ...]:
    """AZ IDs of ``region`` that sell ``instance_type``. Raises :class:`ZoneError` naming the regions
    that have it."""
    family = eks_family(instance_type)
    if region not in EKS_REGIONS:
        raise ZoneError(f"a region with a GPU zone table ({', '.join(EKS_REGIONS)}); add {region}'s AZ IDs to "
                        "components/gpu/zones.py from EC2 DescribeInstanceTypeOfferings", "region")  # fmt: skip
    ids = EKS_FAMILY_ZONE_IDS.get(family, {}).get(region, ())
    if not ids:
        elsewhere = ", ".join(r for r in EKS_ELSEWHERE.get(family, ()) if r != region) or "none tabled"
        here = ", ".join(f for f, by in EKS_FAMILY_ZONE_IDS.items() if by.get(region))
        raise ZoneError(f"{instance_type} ({family}) is sold in no zone of {region}; regions that sell it: "
                        f"{elsewhere}; or a family {region} sells: {here}", "accelerator")  # fmt: skip
    return ids


def _within(sold: tuple[str, ...], configured: Sequence[str], what: str, region: str) -> tuple[str, ...]:
    if not configured:
        return sold
    chosen = tuple(z for z in sold if z in configured)
    if not chosen:
        raise ZoneError(f"{what} is sold in {', '.join(sold)} of {region}, none of the stack's zones "
                        f"({', '.join(configured)}); add one of them to the region's zones", "zones")  # fmt: skip
    return chosen


def eks_subnets(
    zones: Sequence[str],
    subnet_ids: Sequence[str],
    zone_ids_by_name: dict[str, str] | None,
    wanted: Sequence[str],
) -> list[str]:
    """The subnets (``subnet_ids[i]`` is in ``zones[i]``) whose AZ, mapped to its ID with the
    account's ``zone_ids_by_name``, sells the GPU (``wanted`` AZ IDs). Raises :class:`ZoneError`
    when none does. ``zone_ids_by_name`` None means the mapping is unknown, which happens only under
    the offline plan's mocks (the EC2 data source always answers): every subnet is kept there."""
    if zone_ids_by_name is None:
        return list(subnet_ids)
    chosen = [s for z, s in zip(zones, subnet_ids, strict=True) if zone_ids_by_name.get(z) in wanted]
    if not chosen:
        mapped = ", ".join(f"{z}={zone_ids_by_name.get(z, '?')}" for z in zones)
        raise ZoneError(f"none of the node zones ({mapped}) is one of the AZs that sell the GPU "
                        f"({', '.join(wanted)}); set the region's zones to include one", "zones")  # fmt: skip
    return chosen
