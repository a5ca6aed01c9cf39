"""The logging part: catalog rows, each validation rule broken by a config, the recorded plans' ECK
(prod) and Loki (prod-aws) resources, Loki's GCS store and Workload Identity, and the shipper's
DaemonSet overhead in the scheduling check."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from components.logging import eck_plan as ep
from components.logging import loki_plan as lp
from components.logging import plan as lgp
from components.logging import rules
from components.monitoring.metrics import Producer, producers
from components.nodes import Capacity
from components.problems import ConfigError
from components.scheduling import DATA_TAINT, NodePool, free_per_node
from infra import catalog
from infra import plan as planner
from infra.diff import diff
from infra.parts import logging as part
from infra.plan import Plan
from infra.scheduling import region_daemonsets
from infra.settings import resolve
from tests.planning import PHASES, k8s_objects, plan_of
from tests.promtool import run_all, tool, write_yaml

PATH = "phasescale:overrides.logging"


def _settings(stack: str, phase: int, config: dict[str, Any] | None = None, **overrides: Any) -> Any:
    raw, secret_keys = planner.read_stack_config(planner.stack_file(stack))
    parts = raw.get("phasescale:parts") or {}
    raw["phasescale:parts"] = json.dumps({**(json.loads(parts) if isinstance(parts, str) else parts), "logging": True})
    if config is not None:
        raw["phasescale:logging"] = json.dumps(config)
    raw["phasescale:overrides"] = json.dumps(overrides)
    return resolve(raw, secret_keys, phase)


def _problems(stack: str, phase: int, config: dict[str, Any] | None = None, **overrides: Any) -> list[tuple[str, Any]]:
    return [(p.path, p.value) for p in part.validate(_settings(stack, phase, config, **overrides))]


# --- the catalog --------------------------------------------------------------------------------


def test_every_phase_row_passes_the_rules_and_volumes_only_grow() -> None:
    rows = [catalog.LOGGING[p] for p in PHASES]
    for row in rows:
        assert row.elasticsearch_heap_gib * 2 <= row.elasticsearch_memory_gib
        assert row.elasticsearch_nodes == 1 or lgp.quorum_survives(row.elasticsearch_nodes, 3)
    for low, high in itertools.pairwise(rows):
        assert high.elasticsearch_storage_gib >= low.elasticsearch_storage_gib
        # Loki's volume is the chart StatefulSet's volumeClaimTemplate: an upgrade may never change it.
        assert high.loki_storage_gib == low.loki_storage_gib
        assert high.retention_days >= low.retention_days


@pytest.mark.parametrize(("nodes", "zones", "ok"), [(2, 3, False), (3, 3, True), (4, 3, False), (5, 3, True),
                                                     (6, 3, True), (2, 0, False), (3, 0, True), (4, 0, True)])
def test_quorum_after_losing_the_largest_failure_domain(nodes: int, zones: int, ok: bool) -> None:
    assert lgp.quorum_survives(nodes, zones) is ok


# --- configs that break each rule ---------------------------------------------------------------


def test_heap_above_half_the_memory_is_refused() -> None:
    found = part.validate(_settings("prod", 1, {"backend": "eck"}, logging={"elasticsearchHeapGib": 3}))
    assert [(p.path, p.value) for p in found] == [(f"{PATH}.elasticsearchHeapGib", 3)]
    assert "at most 2 (half of elasticsearchMemoryGib 4" in found[0].expected


@pytest.mark.parametrize("nodes", [2, 4])
def test_a_node_count_that_loses_the_master_quorum_with_a_zone_is_refused(nodes: int) -> None:
    found = part.validate(_settings("prod", 3, {"backend": "eck"}, logging={"elasticsearchNodes": nodes}))
    assert [(p.path, p.value) for p in found] == [(f"{PATH}.elasticsearchNodes", nodes)]
    assert "survives the loss of a zone (over 3 zones)" in found[0].expected


@pytest.mark.parametrize(("key", "value", "path"), [
    ("overrides", {"logging": {"retentionDays": 0}}, f"{PATH}.retentionDays"),
    ("overrides", {"logging": {"elasticsearchHeapGib": 32}}, f"{PATH}.elasticsearchHeapGib"),
    ("logging", {"backend": "splunk"}, "phasescale:logging.backend"),
])
def test_schema_rules_name_the_key(key: str, value: Any, path: str) -> None:
    raw, secret_keys = planner.read_stack_config(planner.stack_file("prod"))
    raw[f"phasescale:{key}"] = json.dumps(value)
    with pytest.raises(ConfigError) as err:
        resolve(raw, secret_keys, 2)
    assert path in [p.path for p in err.value.problems]


def test_loki_on_existing_keeps_one_replica_and_two_replicas_are_refused() -> None:
    assert _problems("dev", 3, {"backend": "loki"}) == [(f"{PATH}.lokiReplicas", 3)]
    assert _problems("prod-aws", 3, logging={"lokiReplicas": 2}) == [(f"{PATH}.lokiReplicas", 2)]
    assert _problems("dev", 1, {"backend": "loki"}) == []


def test_loki_on_a_cloud_needs_object_storage() -> None:
    p = part.plan(_settings("prod-aws", 1))
    assert p.object_store is lgp.ObjectStore.S3 and lgp.validate(p, PATH, managed_cloud=True) == []
    on_disk = lgp.LoggingPlan(**{**p.__dict__, "object_store": lgp.ObjectStore.FILESYSTEM, "bucket": None})
    assert [(q.path, q.value) for q in lgp.validate(on_disk, PATH, managed_cloud=True)] == [(f"{PATH}.lokiReplicas", 1)]


def test_a_storage_class_the_cluster_lacks_is_refused() -> None:
    assert _problems("prod", 2, {"backend": "eck", "storageClass": "fast"}) == [("phasescale:logging.storageClass", "fast")]


# --- the recorded plans -------------------------------------------------------------------------


def test_prod_runs_eck_on_the_data_pool_with_zone_awareness_and_ilm_retention() -> None:
    plan = plan_of("prod", 4)
    es = k8s_objects(plan, "Elasticsearch")["seoul-k8s/logs"]
    node_set = es["spec"]["nodeSets"][0]
    assert es["spec"]["version"] == "9.4.3" and node_set["count"] == 5 and node_set["zoneAwareness"] == {}
    pod = node_set["podTemplate"]["spec"]
    assert pod["nodeSelector"] == {"phasescale/pool": "data"} and pod["tolerations"][0]["value"] == "data"
    assert pod["containers"][0]["env"] == [{"name": "ES_JAVA_OPTS", "value": "-Xms8g -Xmx8g"}]
    assert pod["containers"][0]["resources"]["limits"]["memory"] == "16384Mi"
    assert node_set["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "500Gi"
    assert plan.named("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "seoul-logging-es").protect
    policy = json.loads(k8s_objects(plan, "ConfigMap")["seoul-k8s/filebeat-ilm-policy"]["data"][ep.ILM_FILE])
    assert policy["policy"]["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}
    beat = k8s_objects(plan, "Beat")["seoul-k8s/logs"]["spec"]
    config = beat["config"]
    assert config["setup.ilm.overwrite"] is True and config["setup.template.overwrite"] is True
    # One template at every phase: replicas follow the node count (1 -> 3 gains them, 3 -> 1 can drain).
    assert config["setup.template.settings"] == {"index.number_of_shards": 1, "index.auto_expand_replicas": "0-1"}
    assert config["filebeat.inputs"][0]["processors"][1]["decode_json_fields"]["fields"] == ["message"]
    shipper = beat["daemonSet"]["podTemplate"]["spec"]
    assert shipper["tolerations"] == [{"operator": "Exists"}]
    assert shipper["volumes"][0] == {"name": "varlog", "hostPath": {"path": "/var/log", "type": "Directory"}}
    assert shipper["containers"][0]["volumeMounts"][0]["readOnly"] is True
    assert k8s_objects(plan, "Kibana")["seoul-k8s/logs"]["spec"]["count"] == 2
    assert {n for n in k8s_objects(plan, "NetworkPolicy") if "/logs-" in n} >= {
        "seoul-k8s/logs-es", "seoul-k8s/logs-kibana", "seoul-k8s/logs-filebeat"}
    ns = k8s_objects(plan, "Namespace")
    assert ns["seoul-k8s/log-shipper"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert ns["seoul-k8s/logging"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    # Phase 1: one node, no replica shards, no zone awareness; the same resource names at every phase.
    small = k8s_objects(plan_of("prod", 1), "Elasticsearch")["seoul-k8s/logs"]["spec"]["nodeSets"][0]
    assert small["count"] == 1 and "zoneAwareness" not in small
    names = {p: {r.name for r in plan_of("prod", p).records if "logging" in r.name and "tokyo" not in r.name} for p in PHASES}
    assert names[1] | {"seoul-logging-kibana-pdb"} == names[3] == names[4]


def test_prod_aws_runs_loki_in_its_s3_bucket_through_irsa() -> None:
    plan = plan_of("prod-aws", 1)
    values = plan.named("kubernetes:helm.sh/v3:Release", "seoul-logging-loki").inputs["values"]
    assert values["deploymentMode"] == "Monolithic" and values["singleBinary"]["replicas"] == 1
    assert values["loki"]["commonConfig"]["replication_factor"] == 1
    assert values["loki"]["limits_config"]["retention_period"] == "168h"
    assert values["loki"]["compactor"]["retention_enabled"] is True
    assert values["loki"]["storage"]["bucketNames"]["chunks"] == "phasescale-prod-aws-seoul-logs"
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:mock:::prod-aws-seoul-logs"}
    bucket = plan.named("aws:s3/bucket:Bucket", "seoul-logs")
    assert bucket.protect and bucket.inputs["bucket"] == "phasescale-prod-aws-seoul-logs" and not bucket.inputs["forceDestroy"]
    access = json.loads(plan.named("aws:iam/policy:Policy", "seoul-logs-access").inputs["policy"])
    assert {r for s in access["Statement"] for r in s["Resource"]} == {
        "arn:aws:s3:::phasescale-prod-aws-seoul-logs", "arn:aws:s3:::phasescale-prod-aws-seoul-logs/*"}
    alloy = plan.named("kubernetes:helm.sh/v3:Release", "seoul-logging-alloy").inputs["values"]
    assert alloy["controller"]["type"] == "daemonset" and alloy["controller"]["tolerations"] == [{"operator": "Exists"}]
    assert "stage.json" in alloy["alloy"]["configMap"]["content"] and alloy["alloy"]["mounts"]["varlog"] is True
    source = k8s_objects(plan, "ConfigMap")["seoul-k8s/loki-datasource"]
    assert source["metadata"]["namespace"] == "monitoring" and source["metadata"]["labels"]["grafana_datasource"] == "1"
    assert "url: http://loki.logging.svc:3100" in source["data"]["loki-datasource.yaml"]
    big = plan_of("prod-aws", 4).named("kubernetes:helm.sh/v3:Release", "seoul-logging-loki").inputs["values"]
    assert big["singleBinary"]["replicas"] == 3 and big["loki"]["commonConfig"]["replication_factor"] == 3


def test_gke_loki_reaches_its_bucket_through_workload_identity() -> None:
    settings = _settings("prod", 2, {"backend": "loki"})
    p = part.plan(settings, "prod-seoul")
    assert (p.object_store, p.bucket) == (lgp.ObjectStore.GCS, "phasescale-prod-prod-seoul-logs")
    values = lp.loki_values(p, {"iam.gke.io/gcp-service-account": "sa@proj.iam.gserviceaccount.com"})
    assert values["loki"]["storage"] == {"type": "gcs", "bucketNames": dict.fromkeys(("chunks", "ruler", "admin"), p.bucket)}
    assert values["loki"]["schemaConfig"]["configs"][0]["object_store"] == "gcs"
    assert part.workload_identity_member("proj") == "serviceAccount:proj.svc.id.goog[logging/loki]"
    assert part.validate(settings) == [] and part.data_pool(settings) is not None  # CNPG's pool; Loki stays off it
    assert {g.name: g.node_selector for g in part.pods(settings)} == {"logging/StatefulSet/loki": ()}


# --- scheduling ---------------------------------------------------------------------------------


def test_the_shipper_takes_its_requests_on_every_node_of_every_pool() -> None:
    [ship] = region_daemonsets(plan_of("prod", 4).settings)
    assert ship.requests == Capacity(200, 512)
    data = NodePool("data", "n2-standard-16", Capacity(15490, 59313), 5, "-", taints=(DATA_TAINT,))
    assert free_per_node(data, [ship]) == Capacity(15290, 58801)
    [alloy] = region_daemonsets(plan_of("prod-aws", 1).settings)
    assert alloy.requests == Capacity(110, 306)  # Alloy 100m / 256 MiB + the config reloader 10m / 50 MiB


def test_dropping_elasticsearch_is_named_a_stateful_delete() -> None:
    """Switching a stack from eck to loki (or logging off) deletes the Elasticsearch resource and its
    volumes: infra diff says so before anything else (and production protects it)."""
    es = plan_of("prod", 2).named("kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch", "seoul-logging-es")
    before = Plan(stack="prod", settings=plan_of("prod", 2).settings, records=[es])
    after = Plan(stack="prod", settings=plan_of("prod", 2).settings, records=[])
    assert diff(before, after).stateful_risks == [
        "STATEFUL DELETE kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch seoul-logging-es "
        "(stateful: data is lost unless migrated first)"
    ]


def test_the_alert_rules_pass_promtool_and_fire_on_dropped_lines(tmp_path: Path) -> None:
    rules_file = write_yaml(tmp_path / "rules.yaml", {"groups": rules.groups()})
    cases = write_yaml(tmp_path / "test.yaml", {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'loki_write_dropped_entries_total{pod="alloy-x"}', "values": "0 0 5 10 15 20 25 30 35 40 45 50 55 60"},
                {"series": 'loki_request_duration_seconds_count{job="logging/loki",route="push",status_code="204"}',
                 "values": "0+60x30"},
            ],
            "alert_rule_test": [
                {"eval_time": "12m", "alertname": "LogShipperDroppingLogs", "exp_alerts": [{
                    "exp_labels": {"severity": "warning", "pod": "alloy-x"},
                    "exp_annotations": {
                        "summary": "alloy-x dropped 50 log lines in 10 minutes",
                        "description": "Alloy gave up sending these lines to Loki (Loki down or rejecting): they are lost.",
                    },
                }]},
                {"eval_time": "30m", "alertname": "LokiRequestErrors", "exp_alerts": []},
            ],
        }],
    })
    promtool = tool("promtool")
    out = run_all({"check": [promtool, "check", "rules", str(rules_file)], "test": [promtool, "test", "rules", str(cases)]})
    assert out["check"].returncode == 0, out["check"].stdout + out["check"].stderr
    assert out["test"].returncode == 0, out["test"].stdout + out["test"].stderr


def test_the_rules_are_in_the_plan_and_their_metrics_are_scraped() -> None:
    plan = plan_of("prod-aws", 2)
    rule = k8s_objects(plan, "PrometheusRule")["seoul-k8s/logging"]
    assert rule["metadata"]["labels"]["release"] == "monitoring" and rule["spec"]["groups"] == rules.groups()
    releases = [r for c, r in plan.helm_releases() if c == "seoul-k8s"]
    manifests = [o for c, o in plan.manifests() if c == "seoul-k8s"]
    assert {Producer.LOKI, Producer.ALLOY} <= producers(manifests, releases, [])
