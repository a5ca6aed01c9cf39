"""Storage classes: the default class the program creates on EKS, the classes each cloud brings, and
the check that every volume the plan asks for names a class that exists (pure).

- EKS 1.30+ marks no StorageClass as default (EKS docs, "Amazon EBS CSI driver": clusters created on
  1.30 or later get a ``gp2`` class without the default annotation), so a PVC with no class stays
  Pending. The program adds ``gp3``: the EBS CSI driver (``ebs.csi.aws.com``), encrypted, bound when
  the pod is scheduled (``WaitForFirstConsumer``, so the volume is made in the pod's zone), growable.
- GKE creates ``standard-rwo`` (pd-balanced, the default), ``premium-rwo`` and ``standard`` with the
  Compute Engine persistent disk CSI driver (GKE docs, "Using the Compute Engine persistent disk CSI
  Driver").
- ``existing``: the cluster is not ours to read offline; volumes without a class rely on its default
  class, and a named class is taken to exist (README, "Storage").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from components.problems import Problem

DEFAULT_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
EBS_CSI_PROVISIONER = "ebs.csi.aws.com"
EKS_DEFAULT_CLASS = "gp3"

CLOUD_CLASSES: dict[str, dict[str, bool]] = {
    "gke": {"standard-rwo": True, "premium-rwo": False, "standard": False},
    "eks": {"gp2": False},
}
"""Storage classes each cloud creates itself: name -> whether it is the cluster's default."""


def gp3_storage_class() -> dict[str, Any]:
    """The default StorageClass of an EKS cluster (parameters: aws-ebs-csi-driver docs/parameters.md)."""
    return {
        "metadata": {"name": EKS_DEFAULT_CLASS, "annotations": {DEFAULT_ANNOTATION: "true"}},
        "provisioner": EBS_CSI_PROVISIONER,
        "parameters": {"type": "gp3", "encrypted": "true", "csi.storage.k8s.io/fstype": "ext4"},
        "reclaim_policy": "Delete",
        "volume_binding_mode": "WaitForFirstConsumer",
        "allow_volume_expansion": True,
    }


def _is_claim_spec(node: Mapping[str, Any]) -> bool:
    requests = node.get("resources", {}).get("requests", {}) if isinstance(node.get("resources"), Mapping) else {}
    return "accessModes" in node and isinstance(requests, Mapping) and "storage" in requests


def storage_requests(obj: Any, path: str = "") -> Iterator[tuple[str, str | None]]:
    """``(path, class or None)`` for every volume request inside a manifest or Helm values:
    PVC specs (PersistentVolumeClaims, volumeClaimTemplates, Prometheus/Alertmanager storage), CNPG
    ``storage`` / ``walStorage`` (``storageClass``), chart ``persistence`` blocks (``storageClass``)."""
    if isinstance(obj, Mapping):
        if _is_claim_spec(obj):
            yield path, obj.get("storageClassName") or None
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            sized = isinstance(value, Mapping) and "size" in value
            cnpg = key in ("storage", "walStorage")  # CNPG Cluster.spec.storage / walStorage
            chart = key == "persistence" and sized and value.get("enabled", True)  # chart persistence blocks
            if sized and (cnpg or chart):
                yield sub, value.get("storageClass") or None
            yield from storage_requests(value, sub)
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from storage_requests(value, f"{path}[{i}]")


def storage_problems(
    requests: list[tuple[str, str | None]], classes: Mapping[str, bool] | None
) -> list[Problem]:
    """Requests naming a class that is not in ``classes`` (name -> is default), or relying on a
    default when none is marked. ``classes`` None: an existing cluster, whose classes are its own."""
    if classes is None:
        return []
    defaults = sorted(name for name, default in classes.items() if default)
    problems = []
    for path, name in requests:
        if name is None and not defaults:
            problems.append(Problem(path, None, f"no default StorageClass on this cluster; name one of {sorted(classes)}"))
        elif name is not None and name not in classes:
            problems.append(Problem(path, name, f"a StorageClass of this cluster: {', '.join(sorted(classes))}"))
    return problems
