"""Kubernetes building blocks every component shares: labels, hardened security contexts,
network policies and checkov annotations. Pure: plain dicts with the API's camelCase keys.
"""

from __future__ import annotations

from collections.abc import Mapping

import yaml

PART_OF = "phasescale"

NONROOT_UID = 10001
"""Non-root UID/GID for our own workloads (above 10000, clear of host users)."""

CHECKOV_DIGEST_SKIP = (
    "CKV_K8S_43",
    "images are pinned to exact tags in infra/versions.py or the stack config; "
    "digest pinning is left to the registry's immutable tags",
)
"""The one checkov check we skip on every workload, with its reason. The text is an annotation on
every workload, so it is kept word for word (the pins now live in ``components/versions.py``):
changing it would update every object of every deployed stack."""


def labels(name: str, component: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The recommended ``app.kubernetes.io`` labels."""
    out = {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }
    out.update(extra or {})
    return out


def selector(name: str) -> dict[str, str]:
    """The immutable selector subset of :func:`labels`."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}


def checkov_skips(*skips: tuple[str, str]) -> dict[str, str]:
    """Annotations that tell checkov which checks are skipped on an object, each with its reason."""
    return {f"checkov.io/skip{i}": f"{check}={reason}" for i, (check, reason) in enumerate(skips, 1)}


def pod_security_context(uid: int = NONROOT_UID) -> dict[str, object]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context(uid: int = NONROOT_UID, read_only_root: bool = True) -> dict[str, object]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def zone_spread(name: str, max_skew: int = 1) -> list[dict[str, object]]:
    """Spread replicas across zones (soft) and nodes (soft): survive a zone or node loss."""
    return [
        {
            "maxSkew": max_skew,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(name)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]


def resources(
    cpu_m: int, memory_mib: int, cpu_limit_m: int | None = None, memory_limit_mib: int | None = None
) -> dict[str, dict[str, str]]:
    """Requests and limits. Memory limit defaults to the request (no OOM surprises under load);
    CPU limit defaults to twice the request (bursts allowed, noisy neighbours bounded)."""
    return {
        "requests": {"cpu": f"{cpu_m}m", "memory": f"{memory_mib}Mi"},
        "limits": {
            "cpu": f"{cpu_limit_m or 2 * cpu_m}m",
            "memory": f"{memory_limit_mib or memory_mib}Mi",
        },
    }


def deployment_spec(
    name: str, labels: Mapping[str, str], service_account: str, container: Mapping[str, object],
    termination_grace_s: int = 30,
) -> dict[str, object]:
    """The hardened Deployment every app workload shares (services and workers): no ``replicas``
    (the autoscaler owns it), surge-only rolling updates, zone spread, the restricted pod security
    context, no service-account token, a writable ``/tmp`` emptyDir for the read-only root."""
    return {
        "selector": {"matchLabels": selector(name)},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}},
        "revisionHistoryLimit": 5,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {
                "serviceAccountName": service_account,
                "automountServiceAccountToken": False,
                "securityContext": pod_security_context(),
                "topologySpreadConstraints": zone_spread(name),
                "terminationGracePeriodSeconds": termination_grace_s,
                "containers": [dict(container)],
                "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}],
            },
        },
    }


def network_policy_spec(
    name: str,
    port: int,
    from_apps: list[str],
    from_namespaces: Mapping[str, str] | None = None,
    extra_ports: list[int] | None = None,
) -> dict[str, object]:
    """Ingress only from the named apps (same namespace) and the given namespaces (by name label)."""
    peers: list[dict[str, object]] = [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}} for app in sorted(from_apps)
    ]
    for ns in sorted((from_namespaces or {}).values()):
        peers.append(
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}}
        )
    ports = [{"protocol": "TCP", "port": p} for p in [port, *(extra_ports or [])]]
    return {
        "podSelector": {"matchLabels": selector(name)},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": ports}] if peers else [],
    }


def exec_kubeconfig(name: str, server: str, ca_data: str, command: str, args: list[str] | None = None) -> str:
    """A kubeconfig whose user runs ``command`` for a short-lived token: no static credentials."""
    user: dict[str, object] = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "command": command,
        "interactiveMode": "Never",
    }
    if args:
        user["args"] = args
    else:
        user["provideClusterInfo"] = True
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
            "users": [{"name": name, "user": {"exec": user}}],
        },
        sort_keys=False,
    )
