"""The Google Cloud APIs a GKE stack uses, enabled before the first resource that needs them.

A fresh project has almost no API enabled; creating a network, a cluster or a Memorystore instance
then fails with SERVICE_DISABLED. Each GCP resource type maps to the API(s) it is served by
(``API_OF``, ``API_OF_TYPE``); a stack transformation enables, on the first resource of a module, a
``gcp.projects.Service`` for each of its APIs (never disabled on destroy: other tooling in the project
may use it, and disabling is not needed to delete the stack) and makes that resource and every later
one of the module depend on it. The set of APIs is therefore exactly what the stack registers;
``tests/infra/test_apis.py`` checks it per stack and phase. A GCP type missing from ``API_OF`` stops
the program with its name, so a new resource kind cannot skip its API.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi

from components.sdk import gcp

SERVICE_TYPE = "gcp:projects/service:Service"

API_OF: dict[str, tuple[str, ...]] = {
    # module of the type token (gcp:<module>/...) -> APIs (cloud.google.com/<product>/docs: "Enable the API")
    "compute": ("compute.googleapis.com",),
    "container": ("container.googleapis.com", "compute.googleapis.com"),
    "serviceaccount": ("iam.googleapis.com",),
    "projects": ("cloudresourcemanager.googleapis.com", "iam.googleapis.com"),  # project IAM, custom roles
    "storage": ("storage.googleapis.com",),
    "redis": ("redis.googleapis.com",),
    "networkconnectivity": ("networkconnectivity.googleapis.com",),  # Memorystore Cluster's PSC policy
    "sql": ("sqladmin.googleapis.com",),
    "servicenetworking": ("servicenetworking.googleapis.com",),  # Cloud SQL private IP peering
    "cloudrunv2": ("run.googleapis.com",),
    "secretmanager": ("secretmanager.googleapis.com",),  # Cloud Run's connection secrets
    "managedkafka": ("managedkafka.googleapis.com",),  # Managed Service for Apache Kafka (the queue part)
}

API_OF_TYPE: dict[str, tuple[str, ...]] = {
    # types served by another API than their module's
    "gcp:storage/transferJob:TransferJob": ("storagetransfer.googleapis.com",),  # the CDN bucket's copy
    # The cluster's logging_config / monitoring_config send system and workload logs and system metrics
    # to Cloud Logging and Cloud Monitoring, which need their APIs (GKE docs, "Configure Cloud Logging
    # and Cloud Monitoring for GKE": "Cloud Logging API and Cloud Monitoring API must be enabled"); the
    # stackdriver_exporter reads Memorystore Cluster's and Cloud Run's metrics from the same Monitoring API.
    "gcp:container/cluster:Cluster": (
        "container.googleapis.com", "compute.googleapis.com", "logging.googleapis.com", "monitoring.googleapis.com",
    ),
}


def apis_of(type_: str) -> tuple[str, ...]:
    """The APIs serving a GCP resource type (``gcp:container/cluster:Cluster``)."""
    if type_ in API_OF_TYPE:
        return API_OF_TYPE[type_]
    module = type_.removeprefix("gcp:").split("/", 1)[0]
    if module not in API_OF:
        raise ValueError(f"{type_}: no API known for module {module!r}; add it to infra/apis.API_OF")
    return API_OF[module]


def api_transformation(project: str) -> Callable[[pulumi.ResourceTransformationArgs], pulumi.ResourceTransformationResult | None]:
    """A stack transformation that enables each API on first use and makes GCP resources depend on it."""
    services: dict[str, gcp.projects.Service] = {}

    def transform(args: pulumi.ResourceTransformationArgs) -> pulumi.ResourceTransformationResult | None:
        if not args.type_.startswith("gcp:") or args.type_ == SERVICE_TYPE or args.type_.startswith("pulumi:"):
            return None
        needed = []
        for api in apis_of(args.type_):
            if api not in services:
                services[api] = gcp.projects.Service(
                    f"api-{api.split('.')[0]}", project=project, service=api, disable_on_destroy=False,
                )
            needed.append(services[api])
        return pulumi.ResourceTransformationResult(
            args.props, pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(depends_on=needed))
        )

    return transform


def enable_apis(project: str) -> None:
    """Register the transformation; call before the first GCP resource of the stack."""
    pulumi.runtime.register_stack_transformation(api_transformation(project))
