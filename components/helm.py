"""One way to install a pinned Helm chart, shared by every component that installs one."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.versions import CHARTS


def release(
    name: str,
    chart_key: str,
    namespace: str,
    values: dict[str, Any],
    opts: pulumi.ResourceOptions,
    release_name: str | None = None,
    create_namespace: bool = True,
) -> k8s.helm.v3.Release:
    """A Helm release of a chart from ``components.versions.CHARTS``: atomic, waits for readiness.
    The release is named after the chart key unless ``release_name`` says otherwise."""
    chart = CHARTS[chart_key]
    # An OCI registry is named in the chart reference itself (Helm "Use OCI-based registries"); a
    # classic repository goes in repository_opts.
    oci = chart.repo.startswith("oci://")
    source: dict[str, Any] = {"chart": f"{chart.repo}/{chart.name}"} if oci else {
        "chart": chart.name, "repository_opts": {"repo": chart.repo}}
    return k8s.helm.v3.Release(
        name,
        name=release_name or chart_key,
        version=chart.version,
        **source,
        namespace=namespace,
        create_namespace=create_namespace,
        atomic=True,
        cleanup_on_fail=True,
        timeout=900,
        values=values,
        opts=opts,
    )
