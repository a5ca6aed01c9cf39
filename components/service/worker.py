"""Worker: a queue consumer's Deployment, ServiceAccount, KEDA ScaledObject and TriggerAuthentication,
PDB and NetworkPolicy. No Service, no Ingress (components/service/worker_plan.py says why)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.service import worker_plan as wp

TYPE = "phasescale:components:Worker"


@dataclass(frozen=True)
class WorkerArgs:
    plan: wp.WorkerPlan


class Worker(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        base_labels = kube.labels(plan.name, "worker")
        skips = [
            kube.CHECKOV_DIGEST_SKIP,
            ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
            ("CKV_K8S_9", "a worker serves no traffic: no readiness probe (worker_plan.py)"),
        ]
        if not plan.liveness_command:
            skips.append(("CKV_K8S_8", "no livenessCommand: the process exiting restarts it; a stuck consumer "
                                       "shows as queue lag (worker_plan.py)"))
        if plan.secret_env:
            skips.append(("CKV_K8S_35", "connection settings come from Secrets by secretKeyRef env, the "
                                        "contract every service reads (README, Connection settings)"))

        def meta(suffix: str = "", annotations: dict[str, str] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": plan.name + suffix, "namespace": plan.namespace, "labels": base_labels}
            if annotations:
                out["annotations"] = annotations
            return out

        k8s.core.v1.ServiceAccount(f"{name}-sa", metadata=meta(), automount_service_account_token=False, opts=child)
        self.deployment = k8s.apps.v1.Deployment(
            name, metadata=meta(annotations=kube.checkov_skips(*skips)), spec=wp.deployment_spec(plan), opts=child
        )
        auth = k8s.apiextensions.CustomResource(
            f"{name}-queue-auth",
            api_version=wp.KEDA_API,
            kind="TriggerAuthentication",
            metadata={**meta(), "name": plan.auth_name},
            spec=wp.trigger_auth_spec(plan),
            opts=child,
        )
        k8s.apiextensions.CustomResource(
            f"{name}-scaler",
            api_version=wp.KEDA_API,
            kind="ScaledObject",
            metadata=meta(),
            spec=wp.scaled_object_spec(plan),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[auth, self.deployment]),
        )
        if plan.wants_pdb:
            k8s.policy.v1.PodDisruptionBudget(f"{name}-pdb", metadata=meta(), spec=wp.pdb_spec(plan), opts=child)
        k8s.networking.v1.NetworkPolicy(f"{name}-netpol", metadata=meta(), spec=wp.network_policy_spec(plan), opts=child)
        self.register_outputs({"deployment": self.deployment.metadata.name})
