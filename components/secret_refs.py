"""Pure: which Secrets the pods of a plan read, and which Secrets exist for them.

A pod that names a missing Secret never starts (``CreateContainerConfigError`` for env, a volume
that never mounts, an image that never pulls). This module walks Kubernetes objects as plain dicts:

- what pods read (``pod_spec_refs``): ``env[].valueFrom.secretKeyRef`` (unless ``optional``),
  ``envFrom[].secretRef``, ``volumes[].secret`` and projected ``secret`` sources, ``imagePullSecrets``,
  in every container and init container of Deployments, StatefulSets, DaemonSets, Jobs, CronJobs and Pods;
- what operator-made pods read, from the custom resources they are made of (``custom_resource_refs``):
  the OT redis-operator's ``kubernetesConfig.redisSecret`` and Sentinel's ``redisReplicationPassword``,
  CNPG's ``bootstrap.initdb.secret``, barman-cloud ObjectStore ``s3Credentials``;
- what exists for them (``created``): every ``Secret`` object, CNPG's ``<cluster>-app`` for an initdb
  bootstrap without ``initdb.secret`` and not a replica cluster (cloudnative-pg
  ``api/v1/cluster_funcs.go`` ShouldCreateApplicationSecret; ``docs/src/applications.md`` "Secrets"),
  ``<cluster>-superuser`` with ``enableSuperuserAccess``, cert-manager Certificates' ``secretName``,
  Strimzi's KafkaUser Secret (its name) and ``<kafka>-cluster-ca-cert``, RabbitMQ's ``<cluster>-default-user``;
  KEDA TriggerAuthentications' ``secretTargetRef`` Secrets count as read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from components.problems import Problem

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
REDIS_KINDS = ("Redis", "RedisReplication", "RedisCluster", "RedisSentinel")

Key = tuple[str, str, str]
"""``(cluster, namespace, name)`` of one Secret."""


def pod_spec_of(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind in WORKLOAD_KINDS:
        return (spec.get("template") or {}).get("spec")
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
    return None


def pod_spec_refs(pod: Mapping[str, Any]) -> set[str]:
    """Names of the Secrets one pod spec needs to start."""
    out: set[str] = set()
    for c in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        for e in c.get("env") or []:
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                out.add(ref["name"])
        for e in c.get("envFrom") or []:
            ref = e.get("secretRef")
            if ref and not ref.get("optional"):
                out.add(ref["name"])
    for v in pod.get("volumes") or []:
        if v.get("secret") and not v["secret"].get("optional"):
            out.add(v["secret"]["secretName"])
        for source in (v.get("projected") or {}).get("sources") or []:
            if source.get("secret") and not source["secret"].get("optional"):
                out.add(source["secret"]["name"])
    out |= {s["name"] for s in pod.get("imagePullSecrets") or []}
    return out


def custom_resource_refs(obj: Mapping[str, Any]) -> set[str]:
    """Secrets the pods an operator makes from ``obj`` will read."""
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    out: set[str] = set()
    if kind in REDIS_KINDS:
        redis_secret = (spec.get("kubernetesConfig") or {}).get("redisSecret") or {}
        if redis_secret.get("name"):
            out.add(redis_secret["name"])
        ref = ((spec.get("redisSentinelConfig") or {}).get("redisReplicationPassword") or {}).get("secretKeyRef")
        if ref:
            out.add(ref["name"])
    if kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
        initdb = (spec.get("bootstrap") or {}).get("initdb") or {}
        if (initdb.get("secret") or {}).get("name"):
            out.add(initdb["secret"]["name"])
    if kind == "ObjectStore":
        creds = (spec.get("configuration") or {}).get("s3Credentials") or {}
        out |= {v["name"] for v in creds.values() if isinstance(v, dict) and v.get("name")}
    if kind == "TriggerAuthentication":  # KEDA reads these when it polls the scaler
        out |= {ref["name"] for ref in spec.get("secretTargetRef") or [] if ref.get("name")}
    return out


def created(obj: Mapping[str, Any]) -> set[str]:
    """Secrets that exist once ``obj`` is applied (the object itself, or what its operator makes)."""
    kind, spec, name = obj.get("kind"), obj.get("spec") or {}, (obj.get("metadata") or {}).get("name", "")
    if kind == "Secret":
        return {name}
    if kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
        out = set()
        initdb = (spec.get("bootstrap") or {}).get("initdb")
        replica = (spec.get("replica") or {}).get("enabled", False)
        if initdb is not None and not (initdb.get("secret") or {}).get("name") and not replica:
            out.add(f"{name}-app")
        if spec.get("enableSuperuserAccess"):
            out.add(f"{name}-superuser")
        return out
    if kind == "Certificate" and spec.get("secretName"):
        return {spec["secretName"]}
    api = str(obj.get("apiVersion", ""))
    if api.startswith("kafka.strimzi.io/"):
        # Strimzi: the User Operator writes a KafkaUser's credentials into a Secret of its name; the Cluster
        # Operator publishes the cluster CA's certificate as <cluster>-cluster-ca-cert ("Security options").
        if kind == "KafkaUser":
            return {name}
        if kind == "Kafka":
            return {f"{name}-cluster-ca-cert"}
    if kind == "RabbitmqCluster" and api.startswith("rabbitmq.com/"):
        return {f"{name}-default-user"}  # cluster-operator internal/resource/default_user_secret.go
    return set()


def secret_problems(
    objects: Iterable[tuple[str, Mapping[str, Any]]], user_secrets: Mapping[Key, str]
) -> list[Problem]:
    """Every Secret a pod (or an operator's pod) of ``objects`` reads that nothing creates.

    ``objects``: ``(cluster, object)`` pairs; ``user_secrets``: Secrets the user creates, by key, with
    the config path that documents each (e.g. ``phasescale:postgres.backupSecret``)."""
    objs = list(objects)
    exists: set[Key] = set()
    for cluster, obj in objs:
        ns = (obj.get("metadata") or {}).get("namespace", "")
        exists |= {(cluster, ns, s) for s in created(obj)}
    exists |= set(user_secrets)
    problems = []
    for cluster, obj in objs:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "")
        pod = pod_spec_of(obj)
        refs = (pod_spec_refs(pod) if pod is not None else set()) | custom_resource_refs(obj)
        for secret in sorted(refs):
            if (cluster, ns, secret) not in exists:
                problems.append(Problem(
                    f"{cluster}/{ns}/{obj.get('kind')}/{meta.get('name')}", secret,
                    "a Secret the plan creates, one an operator the plan deploys makes (CNPG <cluster>-app), or a "
                    "documented user Secret (" + (", ".join(sorted(set(user_secrets.values()))) or "none configured") + ")",
                ))
    return problems
