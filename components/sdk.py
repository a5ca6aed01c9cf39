"""The cloud SDKs, imported when a stack first uses them.

``from components.sdk import aws, gcp`` stands for ``import pulumi_aws as aws`` and ``import
pulumi_gcp as gcp``, except that the package is imported on the first attribute access
(``aws.iam.Role``), not when the module that names it is imported. Modules that build for several
clouds (a bucket on GCS or S3, a database on Cloud SQL or RDS) import this one, and a stack on
``existing`` (or on one cloud) never imports the other cloud's SDK: each package costs a few tenths
of a second to import, and its submodules load lazily (the SDK's own ``lazy_import``) once touched.

The type checker sees the real packages; at run time each name is a small proxy.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

__all__ = ["aws", "gcp"]


class _Sdk:
    """A package imported on first attribute access; every attribute is the package's own."""

    def __init__(self, package: str) -> None:
        self._package = package
        self._module: ModuleType | None = None

    def __getattr__(self, name: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._package)
        return getattr(self._module, name)

    def __repr__(self) -> str:
        return f"<{self._package}, imported on first use>"


if TYPE_CHECKING:
    import pulumi_aws as aws
    import pulumi_gcp as gcp
else:
    aws = _Sdk("pulumi_aws")
    gcp = _Sdk("pulumi_gcp")
