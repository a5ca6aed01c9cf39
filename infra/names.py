"""Cloud names derived from the stack name and the config, checked against each cloud's limits before
anything is registered: a name past a limit would otherwise fail at ``pulumi up``, half-way through.

The names come from the same functions the parts build with (``bucket_name`` of each part) or the same
expressions (cluster ``<stack>-<region>``, truncated service-account and cache ids), so this check
cannot drift from what is created. Two regions whose truncated names meet are reported too.
"""

from __future__ import annotations

import re
from collections import defaultdict

from components.cdn import plan as cp
from components.cluster import tls_plan
from components.problems import Problem
from components.service import cloud_run_plan as crp
from infra.config import PostgresEngine, RedisEngine, Runtime, Target
from infra.parts import cdn, milvus, postgres, redis
from infra.settings import Settings, has_ingress

GKE_CLUSTER = re.compile(r"[a-z]([-a-z0-9]{0,38}[a-z0-9])?")
"""GKE cluster names: up to 40 lowercase letters, digits, hyphens, a letter first, no trailing hyphen
(container v1 API, Cluster.name: cloud.google.com/python/docs/reference/container/latest/google.cloud.container_v1.types.Cluster)."""
EKS_CLUSTER = re.compile(r"[0-9A-Za-z][A-Za-z0-9_-]{0,99}")
"""EKS cluster names: 1-100 characters (docs.aws.amazon.com/eks/latest/APIReference/API_CreateCluster.html)."""
BUCKET = re.compile(r"[a-z0-9][-a-z0-9]{1,61}[a-z0-9]")
"""GCS and S3 bucket names without dots: 3-63 characters (cloud.google.com/storage/docs/buckets#naming,
docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html)."""
SERVICE_ACCOUNT_ID = re.compile(r"[a-z]([-a-z0-9]{4,28}[a-z0-9])")
"""Google service account ids: 6-30 characters (cloud.google.com/iam/docs/service-accounts-create)."""
CACHE_ID = re.compile(r"[a-z](?!.*--)[-a-z0-9]{0,38}[a-z0-9]|[a-z]")
"""ElastiCache replication group ids and Memorystore instance ids: 1-40 characters, a letter first, no
trailing hyphen, no '--' (CreateReplicationGroup.ReplicationGroupId in the ElastiCache API reference:
docs.aws.amazon.com/AmazonElastiCache/latest/APIReference/API_CreateReplicationGroup.html;
cloud.google.com/memorystore/docs/redis/reference/rest/v1/projects.locations.instances)."""
RDS_ID = re.compile(r"[a-z](?!.*--)[-a-z0-9]{0,61}[a-z0-9]|[a-z]")
"""RDS instance identifiers: 1-63 characters, a letter first, no trailing hyphen, no '--'."""


def check(settings: Settings, stack_name: str) -> list[Problem]:
    """Every derived cloud name of the active regions, against its cloud's rule, and no two equal."""
    cfg = settings.stack
    target = cfg.cluster.target
    if target is Target.EXISTING:
        return []
    named: list[tuple[str, str, re.Pattern[str], str]] = []  # (kind, name, rule, config path)
    for key in settings.active_regions:
        path = f"phasescale:regions.{key}"
        cluster = f"{stack_name}-{key}"
        named.append(("cluster name", cluster, GKE_CLUSTER if target is Target.GKE else EKS_CLUSTER, path))
        if target is Target.GKE:
            named.append(("service account id", f"{cluster}-nodes"[:30], SERVICE_ACCOUNT_ID, path))
            if cfg.cluster.dns_zone is not None and cfg.cluster.acme_email and has_ingress(cfg):
                named.append(("service account id", tls_plan.dns01_account_id(cluster), SERVICE_ACCOUNT_ID, path))
        if cfg.parts.postgres:
            if cfg.postgres.engine is PostgresEngine.CNPG:
                named.append(("bucket name", postgres.bucket_name(settings, stack_name, key), BUCKET,
                              "phasescale:postgres.backupBucketPrefix"))
            elif cfg.postgres.engine is PostgresEngine.RDS:
                named.append(("RDS identifier", f"{cluster}-pg", RDS_ID, path))
        if cfg.parts.redis:
            named.append(("bucket name", redis.bucket_name(settings, stack_name, key), BUCKET,
                          "phasescale:redis.backupBucketPrefix"))
            if cfg.redis.engine is not RedisEngine.OPERATOR:
                named.append(("cache id", f"{cluster}-redis"[:40], CACHE_ID, path))
            if target is Target.GKE:
                named.append(("service account id", f"{cluster}-redis-backup"[:30].rstrip("-"), SERVICE_ACCOUNT_ID,
                              path))
        if cfg.parts.milvus:
            named.append(("bucket name", milvus.bucket_name(settings, cluster) or "", BUCKET, path))
            if target is Target.GKE:
                named.append(("service account id", f"{cluster}-milvus"[:30].rstrip("-"), SERVICE_ACCOUNT_ID, path))
    if cfg.parts.cdn and settings.sizes.cdn.enabled:
        base = cdn.bucket_base(settings, stack_name)
        named.append(("bucket name", cp.bucket_name(base), BUCKET, "phasescale:cdn.bucketName"))
        if settings.sizes.cdn.cross_region_replication:
            named.append(("bucket name", cp.bucket_name(base, replica=True), BUCKET, "phasescale:cdn.bucketName"))
    if target is Target.GKE:
        for name, svc in cfg.services.items():
            if svc.runtime is Runtime.CLOUDRUN:
                for i, key in enumerate(settings.active_regions):
                    named.append(("service account id", crp.account_id(name, key, i == 0), SERVICE_ACCOUNT_ID,
                                  f"phasescale:services.{name}"))
    return _problems(named, stack_name)


def _problems(named: list[tuple[str, str, re.Pattern[str], str]], stack_name: str) -> list[Problem]:
    found = []
    seen: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, name, rule, path in named:
        if not rule.fullmatch(name):
            found.append(Problem(path, name, f"a {kind} the cloud accepts ({_limit(rule)}): shorten the stack "
                                 f"name ({stack_name!r}), the region key or the prefix"))
        seen[(kind, name)].append(path)
    for (kind, name), paths in seen.items():
        if len(paths) > 1 and len(set(paths)) > 1:
            found.append(Problem(paths[-1], name, f"a {kind} of its own: {paths[0]} derives the same (after "
                                 "truncation); make the region keys differ in their first characters"))
    return found


def _limit(rule: re.Pattern[str]) -> str:
    return {
        GKE_CLUSTER: "1-40 lowercase letters, digits, '-'",
        EKS_CLUSTER: "1-100 letters, digits, '-', '_'",
        BUCKET: "3-63 lowercase letters, digits, '-'",
        SERVICE_ACCOUNT_ID: "6-30 lowercase letters, digits, '-', no trailing '-'",
        CACHE_ID: "1-40 lowercase letters, digits, '-', no trailing '-' or '--'",
        RDS_ID: "1-63 lowercase letters, digits, '-', no trailing '-' or '--'",
    }[rule]
