"""The ``phasescale:logging`` keys (a module of their own: ``infra/config.py`` is at the layout's line
limit). Same model settings as :class:`infra.config.Model`: camelCase keys, unknown keys rejected."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from infra import rules


class LoggingBackend(StrEnum):
    ECK = "eck"
    LOKI = "loki"


class LoggingConfig(BaseModel):
    """The logging part (components/logging): which stack collects the containers' logs. Sizes and
    retention come from the catalog's ``logging`` row. Checked by infra/parts/logging.py."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True, frozen=True)

    backend: LoggingBackend = Field(
        default=LoggingBackend.LOKI,
        description="loki (Loki + Alloy, logs in object storage, read in Grafana) or eck (Elasticsearch, "
        "Kibana and Filebeat through the ECK operator, Basic license); README 'Logs: when ECK, when Loki'.",
    )
    storage_class: Annotated[str, AfterValidator(rules.dns_subdomain)] | None = Field(
        default=None, description="Elasticsearch data / Loki WAL volumes; default: the cluster's default class."
    )
