"""Every Kubernetes object of every stack at every phase against schemas we did not write.

- Core API objects: the official strict JSON schemas for Kubernetes 1.30 (kubernetes-validate).
- Custom resources: only groups of operators the project installs are accepted here; their schemas
  are the operators' CRDs, checked by `make validate-crds` (see README) where those are available.
- Workloads: checkov's Kubernetes policies, run once over every plan (any skip is annotated on the
  object with its reason).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components import kube
from components.redis import backup_plan as bp
from components.redis import plan as rp
from tests.planning import EXAMPLE_PHASES, EXAMPLES, PHASES, QUEUE_STACKS, ROOT, STACKS, plan_of

K8S_VERSION = "1.30"
KNOWN_CRD_GROUPS = {
    "keda.sh",  # KEDA chart
    "monitoring.coreos.com",  # kube-prometheus-stack
    "postgresql.cnpg.io",  # CloudNativePG chart
    "barmancloud.cnpg.io",  # CloudNativePG barman-cloud plugin
    "redis.redis.opstreelabs.in",  # OT redis-operator chart
    "milvus.io",  # milvus-operator chart
    "cert-manager.io",  # cert-manager chart (ClusterIssuer, Certificate)
    "autoscaling.k8s.io",  # VerticalPodAutoscaler (GKE built in; VPA chart elsewhere)
    "elasticsearch.k8s.elastic.co",  # eck-operator chart (CRDs in validation/crds)
    "kibana.k8s.elastic.co",
    "beat.k8s.elastic.co",
    "kafka.strimzi.io",  # Strimzi chart (CRDs in validation/crds)
    "rabbitmq.com",  # RabbitMQ Cluster Operator manifest (CRD in validation/crds)
}
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"




def all_objects() -> list[tuple[str, dict[str, Any]]]:
    """Every Kubernetes object of the root stacks at every phase, the example stacks, the queue
    engines' test stacks (workers, brokers) and the Redis backup jobs no stack file runs."""
    out = []
    plans = [(f"{s}@{p}", plan_of(s, p)) for s in STACKS for p in PHASES]
    plans += [(f"examples/{s}@{p}", plan_of(s, p, EXAMPLES)) for s, p in EXAMPLE_PHASES.items()]
    plans += [(f"queue/{f.stem.removeprefix('Pulumi.')}", plan_of(f.stem.removeprefix("Pulumi."), None, QUEUE_STACKS))
              for f in sorted(QUEUE_STACKS.glob("Pulumi.*.yaml"))]  # fmt: skip
    for where, plan in plans:
        out += [(f"{where}/{cluster}", obj) for cluster, obj in plan.manifests()]
    return out + redis_backup_jobs()


def redis_backup_jobs() -> list[tuple[str, dict[str, Any]]]:
    """The in-cluster Redis's backup CronJob for each store: no stack file runs engine operator with
    backups (prod and prod-aws use managed Redis, dev has no backup endpoint)."""
    out = []
    for store in bp.Store:
        for mode in rp.Mode:
            shards = 3 if mode is rp.Mode.CLUSTER else 1
            plan = bp.BackupPlan(
                redis=rp.RedisPlan(mode=mode, shards=shards, storage_class="premium-rwo"),
                images=bp.Images(redis="quay.io/opstree/redis:v8.2.2", rclone="rclone/rclone:1.75.1",
                                 gcloud="unused", aws="unused"),
                store=store, bucket="b", endpoint_url="http://minio:9000", secret_name="s3-keys",
                location="ap-northeast-2",
            )
            meta = {"name": bp.NAME, "namespace": "phasescale", "labels": bp.labels(),
                    "annotations": kube.checkov_skips(kube.CHECKOV_DIGEST_SKIP, ("CKV_K8S_15", "pinned tags, IfNotPresent"))}
            job = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta, "spec": bp.cronjob_spec(plan)}
            out.append((f"redis-backup {store.value} {mode.value}", job))
    return out


def test_core_objects_pass_the_strict_schemas_and_nothing_is_unknown() -> None:
    errors, unknown, checked = [], [], 0
    seen = set()
    for where, obj in all_objects():
        key = json.dumps(obj, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        group = obj["apiVersion"].rpartition("/")[0]
        if group in KNOWN_CRD_GROUPS:
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            checked += 1
        except kubernetes_validate.SchemaNotFoundError:
            unknown.append(f"{where}: {obj['apiVersion']} {obj['kind']}")
        except kubernetes_validate.ValidationError as err:
            errors.append(f"{where}: {obj['kind']}/{obj['metadata']['name']}: {err.message}")
    assert not unknown, "objects with no schema that are not a known custom resource:\n" + "\n".join(unknown)
    assert not errors, "\n".join(errors)
    assert checked > 50


def test_the_validator_rejects_a_misspelled_field() -> None:
    """Guard: strict mode really catches unknown fields (so the test above can fail)."""
    _, dep = next((w, o) for w, o in all_objects() if o["kind"] == "Deployment")
    broken = json.loads(json.dumps(dep))
    broken["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_workloads_pass_checkov(tmp_path: Path) -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup` (installs checkov in its own virtualenv)")
    # Each distinct object once: most objects are the same at several phases. Custom resources are
    # left out: checkov's kubernetes checks target the built-in API (workloads, RBAC, Services,
    # Ingresses, Secrets, ConfigMaps), and over the full set it reported results for no custom kind.
    distinct: dict[str, dict[str, Any]] = {}
    for _, obj in all_objects():
        group = obj["apiVersion"].rpartition("/")[0]
        if group in KNOWN_CRD_GROUPS:
            continue
        distinct.setdefault(json.dumps(obj, sort_keys=True), obj)
    for i, obj in enumerate(distinct.values()):
        (tmp_path / f"{i:04d}-{obj['kind']}.yaml").write_text(yaml.safe_dump(obj, sort_keys=False))
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_EXPERIMENTAL_TERRAFORM_MANAGED_MODULES": "False"}
    args = [str(CHECKOV), "--framework", "kubernetes", "--skip-download", "--compact", "-o", "json", "-d", str(tmp_path)]
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    passed = sum(r.get("summary", {}).get("passed", 0) for r in reports)
    assert not failed, "\n".join(sorted(set(failed)))
    assert passed > 500
    assert len(distinct) > 100
    skipped = {c["check_id"] for r in reports for c in r.get("results", {}).get("skipped_checks", [])}
    annotated = {
        value.split("=", 1)[0]
        for _, obj in all_objects()
        for key, value in (obj["metadata"].get("annotations") or {}).items()
        if key.startswith("checkov.io/skip") and len(value.split("=", 1)[-1]) > 20
    }
    assert skipped <= annotated, "every skipped check is annotated on its object with a reason"
    # The managed-engine exporters (postgres_exporter, redis_exporter) are among the checked workloads.
    names = {o["metadata"]["name"] for o in distinct.values() if o["kind"] == "Deployment"}
    assert {"seoul-pg-primary-exporter", "redis-exporter"} <= names, sorted(n for n in names if "exporter" in n)


