"""``phasescale:usage``: the usage-based quantities the cost estimate assumes (infra/cost.py).

Its own module so infra/cost.py (pure pricing) and infra/config.py (the stack's config) share it
without importing each other. Defaults come from the seeds' traffic figures, noted per field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel


class UsageConfig(BaseModel):
    """Monthly usage per region that no resource's inputs state; printed beside every estimate."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    nat_egress_gib: float = Field(
        default=100.0, ge=0, le=1_000_000,
        description="GiB per month through each NAT (image pulls, model downloads: one Llama-2-13b fp16 copy is ~26 GB).",
    )
    lb_data_gib: float = Field(
        default=300.0, ge=0, le=10_000_000,
        description="GiB per month processed by the global load balancer (seed 003 moves storage to a CDN above 10 GB/day).",
    )
    bucket_gib: float = Field(default=50.0, ge=0, le=10_000_000, description="GiB stored in each bucket.")
    cdn_egress_gib: float = Field(
        default=300.0, ge=0, le=10_000_000,
        description="GiB per month served from Cloud CDN's cache to Asia Pacific (seed 003: a CDN above 10 GB/day).",
    )
    cdn_fill_gib: float = Field(
        default=50.0, ge=0, le=10_000_000,
        description="GiB per month filled into Cloud CDN's cache from the bucket on misses (default: the stored GiB once).",
    )
    cdn_lookups: float = Field(
        default=300_000.0, ge=0, le=1e12,
        description="Cloud CDN cache lookups (GET/HEAD) per month (seed 003: above 10,000 downloads/day).",
    )

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_only(cls, value: Any) -> Any:
        if isinstance(value, (bool, str)):
            raise ValueError("a number of GiB")
        return value

    def render(self) -> str:
        return (
            f"usage assumptions per month (phasescale:usage): NAT {self.nat_egress_gib:g} GiB per gateway, "
            f"load balancer {self.lb_data_gib:g} GiB processed, {self.bucket_gib:g} GiB stored per bucket, "
            f"CDN {self.cdn_egress_gib:g} GiB served, {self.cdn_fill_gib:g} GiB filled, {self.cdn_lookups:g} lookups"
        )
