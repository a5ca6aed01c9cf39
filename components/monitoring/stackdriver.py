"""StackdriverExporter: prometheus-community/stackdriver_exporter in the monitoring namespace, so the
cache rules on Memorystore Cluster and the Cloud Run alerts have data (``managed_metrics``).

Children: the Google service account ``<name>`` with its workload identity binding ``<name>-wi`` (only
``monitoring/stackdriver-exporter`` may act as it, ``components.cluster.gke.workload_identity_account``)
and ``roles/monitoring.viewer`` on the project (``<name>-viewer``); in Kubernetes, all named
``stackdriver-exporter``: the ServiceAccount (annotated with the Google account), the Deployment
(restricted pod, read-only root, no service-account token), the Service, the NetworkPolicy
(Prometheus only) and the ServiceMonitor. One replica and no PodDisruptionBudget: a restart loses
no data (the exporter is stateless and Cloud Monitoring keeps the points), and a PDB on one replica
would only block node drains. Specs: ``components.monitoring.stackdriver_plan``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.cluster.gke import workload_identity_account
from components.monitoring import stackdriver_plan as sp
from components.sdk import gcp

TYPE = "phasescale:components:StackdriverExporter"


@dataclass(frozen=True)
class StackdriverExporterArgs:
    plan: sp.StackdriverPlan
    account_id: str
    """The Google service account id (``stackdriver_plan.account_id``)."""
    cloud_opts: pulumi.ResourceOptions
    """Options of the Google resources (the region's cloud provider)."""


class StackdriverExporter(pulumi.ComponentResource):
    def __init__(self, name: str, args: StackdriverExporterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        cloud = pulumi.ResourceOptions.merge(args.cloud_opts, pulumi.ResourceOptions(parent=self))
        account, binding = workload_identity_account(
            name, plan.project, args.account_id, "stackdriver_exporter: reads Cloud Monitoring metrics",
            plan.namespace, sp.NAME, cloud,
        )
        viewer = gcp.projects.IAMMember(
            f"{name}-viewer", project=plan.project, role=sp.IAM_ROLE,
            member=account.email.apply(lambda e: f"serviceAccount:{e}"), opts=cloud,
        )
        child = pulumi.ResourceOptions(parent=self)

        def meta(annotations: pulumi.Input[dict[str, str]] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": sp.NAME, "namespace": plan.namespace, "labels": plan.labels}
            if annotations is not None:
                out["annotations"] = annotations
            return out

        service_account = k8s.core.v1.ServiceAccount(
            f"{name}-sa", metadata=meta(account.email.apply(lambda e: {"iam.gke.io/gcp-service-account": e})),
            automount_service_account_token=False, opts=child,
        )  # fmt: skip
        k8s.apps.v1.Deployment(
            name,
            metadata=meta(kube.checkov_skips(
                kube.CHECKOV_DIGEST_SKIP,
                ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
            )),
            spec=sp.deployment_spec(plan),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[service_account, binding, viewer]),
        )  # fmt: skip
        k8s.core.v1.Service(f"{name}-svc", metadata=meta(), spec=sp.service_spec(plan), opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta(), spec=sp.network_policy_spec(plan), opts=child)
        monitor = sp.service_monitor(plan)
        k8s.apiextensions.CustomResource(
            f"{name}-monitor", api_version=monitor["apiVersion"], kind=monitor["kind"],
            metadata=monitor["metadata"], spec=monitor["spec"], opts=child,
        )  # fmt: skip
        self.register_outputs({"account": account.email})
