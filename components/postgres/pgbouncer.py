"""PgBouncer: the in-cluster pooler in front of a managed PostgreSQL (Cloud SQL, RDS).

``pgbouncer.ini`` (rendered by :func:`components.postgres.pgbouncer_plan.pgbouncer_ini`: ``<db>`` to the
primary, ``<db>_ro`` to the replicas) goes into a ConfigMap, the auth file into a Secret; a hardened
Deployment (one PgBouncer process per pod, spread across zones) reads both. Clients reach it on the
Service's port 5432 (like a CNPG Pooler); only the listed apps may connect (NetworkPolicy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from components import kube

TYPE = "phasescale:components:PgBouncer"
LISTEN_PORT = 6432
SERVICE_PORT = 5432
CONFIG_DIR = "/etc/pgbouncer"


@dataclass(frozen=True)
class PgBouncerArgs:
    namespace: str
    image: str
    ini: pulumi.Input[str]
    """The whole ``pgbouncer.ini``; its ``auth_file`` must be ``/etc/pgbouncer/userlist.txt``."""
    userlist: pulumi.Input[str]
    """The auth file's content (a secret: it holds the password)."""
    replicas: int = 2
    client_apps: Sequence[str] = ()
    """``app.kubernetes.io/name`` of the pods allowed to connect (same namespace)."""
    client_namespaces: dict[str, str] = field(default_factory=dict)
    cpu_m: int = 500
    memory_mib: int = 256


def deployment_spec(name: str, args: PgBouncerArgs, config_name: str, secret_name: str) -> dict[str, object]:
    """Pure: the Deployment's spec (Guaranteed QoS, read-only root, non-root, probes on the port)."""
    probe = {"tcpSocket": {"port": "pgbouncer"}, "periodSeconds": 10, "timeoutSeconds": 3}
    return {
        "replicas": args.replicas,
        "selector": {"matchLabels": kube.selector(name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {
            "metadata": {"labels": kube.labels(name, "database-pooler")},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": kube.pod_security_context(),
                "topologySpreadConstraints": kube.zone_spread(name),
                "containers": [
                    {
                        "name": "pgbouncer",
                        "image": args.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["pgbouncer"],
                        "args": [f"{CONFIG_DIR}/pgbouncer.ini"],
                        "ports": [{"name": "pgbouncer", "containerPort": LISTEN_PORT, "protocol": "TCP"}],
                        "resources": {
                            "requests": {"cpu": f"{args.cpu_m}m", "memory": f"{args.memory_mib}Mi"},
                            "limits": {"cpu": f"{args.cpu_m}m", "memory": f"{args.memory_mib}Mi"},
                        },
                        "securityContext": kube.container_security_context(),
                        "livenessProbe": {**probe, "initialDelaySeconds": 5},
                        "readinessProbe": probe,
                        "volumeMounts": [
                            {"name": "config", "mountPath": f"{CONFIG_DIR}/pgbouncer.ini", "subPath": "pgbouncer.ini",
                             "readOnly": True},
                            {"name": "auth", "mountPath": f"{CONFIG_DIR}/userlist.txt", "subPath": "userlist.txt",
                             "readOnly": True},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "config", "configMap": {"name": config_name}},
                    {"name": "auth", "secret": {"secretName": secret_name, "defaultMode": 0o440}},
                ],
            },
        },
    }


class PgBouncer(pulumi.ComponentResource):
    def __init__(self, name: str, args: PgBouncerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = kube.labels(name, "database-pooler")

        def meta(k8s_name: str, annotations: dict[str, str] | None = None) -> dict[str, object]:
            out: dict[str, object] = {"name": k8s_name, "namespace": args.namespace, "labels": labels}
            if annotations:
                out["annotations"] = annotations
            return out

        config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(f"{name}-config"), data={"pgbouncer.ini": args.ini}, opts=child
        )
        auth = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=meta(f"{name}-auth"),
            type="Opaque",
            string_data={"userlist.txt": pulumi.Output.secret(args.userlist)},
            opts=child,
        )
        self.deployment = k8s.apps.v1.Deployment(
            name,
            metadata=meta(
                name,
                kube.checkov_skips(
                    kube.CHECKOV_DIGEST_SKIP,
                    ("CKV_K8S_15", "imagePullPolicy IfNotPresent is right for immutable pinned tags"),
                ),
            ),
            spec=deployment_spec(name, args, f"{name}-config", f"{name}-auth"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[config, auth]),
        )
        self.service = k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta(name),
            spec={
                "selector": kube.selector(name),
                "ports": [{"name": "postgres", "port": SERVICE_PORT, "targetPort": "pgbouncer", "protocol": "TCP"}],
            },
            opts=child,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb",
            metadata=meta(name),
            spec={"maxUnavailable": 1, "selector": {"matchLabels": kube.selector(name)}},
            opts=child,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol",
            metadata=meta(name),
            spec=kube.network_policy_spec(name, LISTEN_PORT, list(args.client_apps), args.client_namespaces),
            opts=child,
        )
        self.host = f"{name}.{args.namespace}.svc"
        self.register_outputs({"host": self.host})
