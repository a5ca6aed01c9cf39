"""Property tests: whatever a stack file says, the program answers with a plan or with exit 2 and its
problems, never a traceback; and every config it accepts yields names the clouds accept and no two
Kubernetes objects with the same kind, namespace and name."""

from __future__ import annotations

import copy
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from components.problems import ConfigError
from infra import plan as planner
from infra import stack as composition
from infra.__main__ import main
from infra.names import BUCKET, CACHE_ID, GKE_CLUSTER, RDS_ID, SERVICE_ACCOUNT_ID
from tests.planning import ROOT, STACKS

DOCS = {s: yaml.safe_load((ROOT / f"Pulumi.{s}.yaml").read_text()) for s in STACKS}
TEXTS = {s: (ROOT / f"Pulumi.{s}.yaml").read_text() for s in STACKS}

VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.text(max_size=12),
    st.sampled_from(["10.0.0.1/16", "0.0.0.0/0", "kube-system", "redis", "\u00b2", "1e3", "/..", "", "2", "-1"]),
    st.lists(st.integers(-5, 5), max_size=2), st.dictionaries(st.text("abcxyz", max_size=4), st.integers(), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    """(stack, file text): one of the stack files with one to three mutations."""
    name = draw(st.sampled_from(STACKS))
    if draw(st.integers(0, 4)) == 0:  # a character inserted anywhere: tabs, braces, colons, quotes
        text = TEXTS[name]
        at = draw(st.integers(0, len(text)))
        return name, text[:at] + draw(st.sampled_from(["\t", "{", "}", ":", "'", "- ", "\n---\n", "!!x "])) + text[at:]
    doc = copy.deepcopy(DOCS[name])
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        kind = draw(st.sampled_from(["delete", "replace", "rename", "add"]))
        last = path[-1]
        if kind == "delete" and isinstance(parent, dict):
            del parent[last]
        elif kind == "rename" and isinstance(parent, dict) and isinstance(last, str):
            typo = draw(st.sampled_from([last[:-1], last + "s", last.capitalize(), last.replace("phasescale", "phasescal")]))
            parent[typo] = parent.pop(last)
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.text("abcdefghij", min_size=1, max_size=6))] = draw(VALUES)
        else:
            parent[last] = draw(VALUES)
    return name, yaml.safe_dump(doc)


@given(case=mutated())
def test_mutated_stack_files_exit_0_or_2_never_a_traceback(case: tuple[str, str]) -> None:
    name, text = case
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        Path(tmp, f"Pulumi.{name}.yaml").write_text(text)
        mp.setattr(composition, "build", lambda settings: None)  # the checks run in full; the registering does not
        raw_ok = True
        try:
            planner.read_stack_config(Path(tmp, f"Pulumi.{name}.yaml"))
        except ConfigError as err:
            raw_ok = False
            assert err.problems
        code = main(["plan", "--stack", name, "--dir", tmp])
    assert code in (0, 2)
    if not raw_ok:
        assert code == 2


REGION_KEYS = st.from_regex(r"[a-z][a-z0-9]{0,10}(-[a-z0-9]{1,6})?", fullmatch=True)
STACK_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,14}(-[a-z0-9]{1,10}){0,2}", fullmatch=True)
LIMITS = {
    "gcp:container/cluster:Cluster": ("name", GKE_CLUSTER),
    "gcp:storage/bucket:Bucket": ("name", BUCKET),
    "aws:s3/bucket:Bucket": ("bucket", BUCKET),
    "gcp:serviceaccount/account:Account": ("accountId", SERVICE_ACCOUNT_ID),
    "aws:elasticache/replicationGroup:ReplicationGroup": ("replicationGroupId", CACHE_ID),
    "gcp:redis/instance:Instance": ("name", CACHE_ID),
    "aws:rds/instance:Instance": ("identifier", RDS_ID),
}


@st.composite
def generated(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """(stack name, config) drawn from the models: target, phase, region keys and the parts that make names."""
    target = draw(st.sampled_from(["gke", "eks"]))
    keys = draw(st.lists(REGION_KEYS, min_size=1, max_size=2, unique=True))
    locations = {"gke": ["asia-northeast3", "asia-northeast1"], "eks": ["ap-northeast-2", "ap-northeast-1"]}[target]
    regions = {k: {"location": locations[i], "vpcCidr": f"10.{10 + i}.0.0/16"} for i, k in enumerate(keys)}
    cluster: dict[str, Any] = {"target": target}
    if target == "gke":
        cluster["gcpProject"] = draw(st.from_regex(r"[a-z][a-z0-9-]{4,20}[a-z0-9]", fullmatch=True))
    config = {
        "phasescale:phase": draw(st.sampled_from([1, 4])),
        "phasescale:cluster": cluster,
        "phasescale:regions": regions,
        "phasescale:parts": {"monitoring": False, "cdn": False, "milvus": draw(st.booleans()), "postgres": True,
                             "redis": True},
        "phasescale:redis": {"engine": draw(st.sampled_from(["operator", "memorystore" if target == "gke" else "elasticache"]))},
        "phasescale:services": {draw(REGION_KEYS): {"image": "ghcr.io/a/api:1", "callers": ["ingress"]}},
    }
    return draw(STACK_NAMES), config


@settings(max_examples=2)  # each accepted config is planned in full (a few seconds); more in a local run
@given(case=generated())
def test_accepted_configs_have_names_the_clouds_accept_and_no_duplicate_objects(case: tuple[str, dict[str, Any]]) -> None:
    name, config = case
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
        try:
            plan = planner.run(name, None, Path(tmp))
        except ConfigError as err:
            assert err.problems
            return
    for record in plan.records:
        if record.type in LIMITS:
            key, rule = LIMITS[record.type]
            assert rule.fullmatch(str(record.inputs.get(key, record.name))), (record.type, record.inputs.get(key))
    objects = Counter(
        (cluster, obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        for cluster, obj in plan.manifests()
    )
    assert [k for k, n in objects.items() if n > 1] == []
    ids = Counter((r.type, str(r.inputs.get(LIMITS[r.type][0]))) for r in plan.records if r.type in LIMITS)
    assert [k for k, n in ids.items() if n > 1] == []
    assert not [r for r in plan.records if re.search(r"phase(?!scale)", r.name)]
