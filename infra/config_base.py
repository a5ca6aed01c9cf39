"""The base of every config model and the name types they share (split from ``infra/config.py``,
which re-exports them, to keep that module within the layout limit)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel

from infra import rules
from infra.rules import is_int_field

NAME_RE = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
"""DNS-1123 label: the shape of every name that becomes a Kubernetes or cloud name."""

Name = Annotated[str, Field(pattern=NAME_RE, max_length=40)]
Cidr = Annotated[str, AfterValidator(rules.cidr)]
DnsName = Annotated[str, AfterValidator(rules.dns_subdomain)]
"""A DNS-1123 subdomain (Kubernetes object names such as Secrets and StorageClasses; hosts)."""


class Model(BaseModel):
    """Base of every config model: camelCase keys in YAML, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        use_enum_values=False,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: Any, info: ValidationInfo) -> Any:
        """``port: true`` is a mistake, not port 1: numbers must be written as numbers."""
        field = cls.model_fields.get(info.field_name or "")
        if field is not None and is_int_field(field.annotation):
            if isinstance(value, bool):
                raise ValueError(f"a number, not the boolean {str(value).lower()}")
            if isinstance(value, str) and not value.isascii():
                raise ValueError("a number written with the digits 0-9")
        return value
