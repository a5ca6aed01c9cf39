"""Memorystore Cluster and Cloud Run through stackdriver_exporter: the exporter the plans deploy, the
series names it renders, the rules that read them, and promtool proving the alerts fire on
stackdriver-shaped series."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from components.monitoring import managed_metrics as mm
from components.monitoring import plan as mp
from components.monitoring import stackdriver_plan as sp
from components.monitoring.metrics import metric_names
from components.monitoring.thresholds import CACHE_MISS, REDIS_MEMORY
from infra import plan as planner
from infra.load import load
from infra.parts import monitoring as part
from tests.planning import plan_of
from tests.promtool import render, run_all, series, tool, write_yaml

LOC = "asia-northeast3"
SOURCES = mm.ManagedSources(
    location=LOC, memorystore_cluster="prod-seoul-redis",
    cloud_run=(mm.CloudRunAlertSpec("api", LOC, 1, 8), mm.CloudRunAlertSpec("job", LOC, 2, 2)),
)  # fmt: skip


def test_names_are_the_exporters() -> None:
    # stackdriver_exporter collectors/monitoring_metrics_test.go TestNormalizeMetricName (v0.19.0)
    assert mm.normalize("This_is__a-MetricName.Example/with:0totals") == "this_is_a_metric_name_example_with_0_totals"
    # README "Metrics" example and "Aggregating DELTA Metrics" example
    assert mm.prometheus_name("gce_instance", "compute.googleapis.com/instance/cpu/usage_time") == (
        "stackdriver_gce_instance_compute_googleapis_com_instance_cpu_usage_time")
    assert mm.prometheus_name("https_lb_rule", "loadbalancing.googleapis.com/https/request_bytes_count") == (
        "stackdriver_https_lb_rule_loadbalancing_googleapis_com_https_request_bytes_count")
    assert mm.MEMORY == "stackdriver_redis_googleapis_com_cluster_redis_googleapis_com_cluster_memory_maximum_utilization"
    assert mm.HITS == "stackdriver_redis_googleapis_com_cluster_node_redis_googleapis_com_cluster_node_stats_keyspace_hits_count"
    assert mm.LATENCY_BUCKETS == "stackdriver_cloud_run_revision_run_googleapis_com_request_latencies_bucket"


def test_exporter_reads_only_what_the_rules_read() -> None:
    plan = sp.StackdriverPlan("proj", SOURCES, "img")
    assert sp.args(plan) == [
        "--google.project-ids=proj",
        "--monitoring.metrics-prefixes=redis.googleapis.com/cluster/memory/maximum_utilization",
        "--monitoring.metrics-prefixes=redis.googleapis.com/cluster/node/stats/keyspace_hits_count",
        "--monitoring.metrics-prefixes=redis.googleapis.com/cluster/node/stats/keyspace_misses_count",
        "--monitoring.metrics-prefixes=run.googleapis.com/request_count",
        "--monitoring.metrics-prefixes=run.googleapis.com/request_latencies",
        "--monitoring.metrics-prefixes=run.googleapis.com/container/instance_count",
        '--monitoring.filters=redis.googleapis.com/cluster:resource.labels.cluster_id="prod-seoul-redis"',
        f'--monitoring.filters=run.googleapis.com:resource.labels.location="{LOC}" '
        'AND resource.labels.service_name=monitoring.regex.full_match("api|job")',
        "--monitoring.metrics-interval=10m", "--monitoring.metrics-offset=0s", "--monitoring.aggregate-deltas",
        "--monitoring.descriptor-cache-ttl=1h", "--stackdriver.max-retries=3", "--web.listen-address=:9255",
    ]  # fmt: skip
    read = {n for p in (1, 2) for g in _groups(p) for r in g["rules"] for n in metric_names(r["expr"])}
    assert read & mm.PRODUCED == mm.PRODUCED  # every prefix read is read by a rule


def _objects(stack: str, phase: int, cluster: str = "seoul-k8s") -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for c, o in plan_of(stack, phase).manifests() if c == cluster}


@pytest.mark.parametrize("phase", [3, 4])
def test_prod_memorystore_cluster_gets_the_exporter(phase: int) -> None:
    plan = plan_of("prod", phase)
    objs = _objects("prod", phase)
    dep = objs["Deployment/stackdriver-exporter"]
    pod = dep["spec"]["template"]["spec"]
    assert dep["metadata"]["namespace"] == "monitoring" and dep["spec"]["replicas"] == 1
    assert pod["serviceAccountName"] == "stackdriver-exporter" and pod["automountServiceAccountToken"] is False
    (c,) = pod["containers"]
    assert c["image"] == "quay.io/prometheuscommunity/stackdriver-exporter:v0.19.0"
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["runAsUser"] == 65534
    memorystore = plan.named("gcp:redis/cluster:Cluster", "seoul-redis")
    assert f'resource.labels.cluster_id="{memorystore.inputs["name"]}"' in " ".join(c["args"])  # the same cluster
    assert "PodDisruptionBudget/stackdriver-exporter" not in objs
    assert objs["NetworkPolicy/stackdriver-exporter"]["spec"]["ingress"] == [{
        "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
        "ports": [{"protocol": "TCP", "port": 9255}]}]  # fmt: skip
    (endpoint,) = objs["ServiceMonitor/stackdriver-exporter"]["spec"]["endpoints"]
    assert endpoint == {"port": "metrics", "interval": "60s", "scrapeTimeout": "50s", "honorTimestamps": False}
    account = plan.named("gcp:serviceaccount/account:Account", "seoul-stackdriver-exporter").inputs
    assert account["accountId"] == "prod-seoul-metrics"
    assert plan.named("gcp:serviceaccount/iAMMember:IAMMember", "seoul-stackdriver-exporter-wi").inputs["member"] == (
        "serviceAccount:phasescale-prod.svc.id.goog[monitoring/stackdriver-exporter]")
    viewer = plan.named("gcp:projects/iAMMember:IAMMember", "seoul-stackdriver-exporter-viewer").inputs
    assert (viewer["role"], viewer["project"]) == ("roles/monitoring.viewer", "phasescale-prod")
    sa = objs["ServiceAccount/stackdriver-exporter"]
    assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].startswith("seoul-stackdriver-exporter@")
    (cache,) = [g for g in objs["PrometheusRule/phasescale"]["spec"]["groups"] if g["name"] == mm.CACHE_GROUP]
    assert mm.MEMORY in cache["rules"][0]["expr"] and "redis_memory" not in cache["rules"][0]["expr"]


@pytest.mark.parametrize(("stack", "phase"), [("prod", 2), ("prod-aws", 4), ("dev", 4)])
def test_no_exporter_without_a_memorystore_cluster_or_cloud_run(stack: str, phase: int) -> None:
    assert not any(r.name.endswith("stackdriver-exporter") for r in plan_of(stack, phase).records)


STAGE = """config:
  phasescale:phase: 2
  phasescale:environment: staging
  phasescale:cluster: {target: gke, gcpProject: acme-stage}
  phasescale:regions: {seoul: {location: asia-northeast3}}
  phasescale:parts: {postgres: false, redis: false, cdn: false, gpu: false, milvus: false}
  phasescale:services:
    api: {image: asia-northeast3-docker.pkg.dev/acme-stage/app/api:1.0.0, runtime: cloudrun}
    batch: {image: asia-northeast3-docker.pkg.dev/acme-stage/app/batch:1.0.0, runtime: cloudrun,
            replicas: {min: 2, max: 2}}
    web: {image: asia-northeast3-docker.pkg.dev/acme-stage/app/web:1.0.0}
"""


def test_every_cloud_run_service_gets_its_alerts(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.stage.yaml").write_text(STAGE)
    raw, secret = planner.read_stack_config(tmp_path / "Pulumi.stage.yaml")
    settings = load(raw, secret, "stage", 2)
    assert part.needs_stackdriver(settings)
    src = part.managed_sources(settings, "stage-seoul", LOC)
    assert src == mm.ManagedSources(LOC, None, (mm.CloudRunAlertSpec("api", LOC, 1, 8),
                                                mm.CloudRunAlertSpec("batch", LOC, 2, 2)))  # fmt: skip
    groups = mp.groups(dataclasses.replace(part.plan(settings), managed=src))
    (run,) = [g for g in groups if g["name"] == mm.CLOUD_RUN_GROUP]
    assert [(r["alert"], r["labels"]["service"]) for r in run["rules"]] == [
        ("CloudRunHighErrorRate", "api"), ("CloudRunHighLatency", "api"), ("CloudRunMaxedOut", "api"),
        ("CloudRunHighErrorRate", "batch"), ("CloudRunHighLatency", "batch"),  # 2-2: it cannot scale
    ]  # fmt: skip
    assert run["rules"][2]["expr"].endswith(f'{mm.INSTANCES}{{location="{LOC}",service_name="api"}}) >= 8')
    # the in-cluster service keeps its API alerts; redis is off, so there are no cache rules at all
    assert any(r.get("labels", {}).get("service") == "web" for g in groups if g["name"] == "phasescale.api" for r in g["rules"])
    assert [g for g in groups if g["name"] == mm.CACHE_GROUP] == []
    assert part.pods(settings)[-1].name == "monitoring/Deployment/stackdriver-exporter"


# ---------------------------------------------------------------- promtool


def _groups(phase: int) -> list[dict[str, Any]]:
    return mp.groups(mp.MonitoringPlan(phase=phase, app_namespace="app", services=("web",), gpu=False, managed=SOURCES))


CLUSTER = {"unit": "10^2.%", "cluster_id": "prod-seoul-redis", "location": LOC, "project_id": "p"}
RUN = {"unit": "ms", "service_name": "api", "revision_name": "api-00001-abc", "location": LOC, "project_id": "p"}


def _alert(groups: list[dict[str, Any]], name: str, labels: dict[str, str], value: float) -> list[dict[str, Any]]:
    (rule,) = [r for g in groups for r in g["rules"] if r.get("alert") == name and r["labels"].get("service", "api") == "api"]
    every = {**labels, **rule["labels"]}
    return [{"exp_labels": every, "exp_annotations": {k: render(v, every, value) for k, v in rule["annotations"].items()}}]


def _tests(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    buckets = [series(mm.LATENCY_BUCKETS, {**RUN, "response_code_class": "2xx", "le": le}, f"0+{n}x15")
               for le, n in (("100", 0), ("250", 0), ("500", 10), ("1000", 100), ("+Inf", 100))]  # fmt: skip
    p95 = 500 + 500 * (95 - 10) / (100 - 10)  # histogram_quantile's linear interpolation in the 500-1000 ms bucket
    codes = {**RUN, "unit": "1"}
    memory = series(mm.MEMORY, CLUSTER, "0.75x5 0.85x15")  # above 80 % from minute 6: fires at 11
    node = {**CLUSTER, "unit": "1", "location": f"{LOC}-a", "shard_id": "s1", "node_id": "n1", "role": "primary"}
    return [{
        "name": "memorystore cluster and cloud run", "interval": "1m",
        "input_series": [
            memory, *buckets,
            series(mm.HITS, node, "0+70x20"), series(mm.MISSES, node, "0+30x20"),
            series(mm.REQUESTS, {**codes, "response_code": "200", "response_code_class": "2xx"}, "0+90x20"),
            series(mm.REQUESTS, {**codes, "response_code": "503", "response_code_class": "5xx"}, "0+10x20"),
            series(mm.INSTANCES, {**codes, "state": "active"}, "6x20"),
            series(mm.INSTANCES, {**codes, "state": "idle"}, "2x20"),
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "CacheScaleUpNeeded", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "CacheScaleUpNeeded", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "CacheScaleUpNeeded",
             "exp_alerts": _alert(groups, "CacheScaleUpNeeded", {"location": LOC, "cluster_id": "prod-seoul-redis"}, 0.85)},
            {"eval_time": "12m", "alertname": "CloudRunHighLatency",
             "exp_alerts": _alert(groups, "CloudRunHighLatency", {"service_name": "api"}, p95)},
            {"eval_time": "12m", "alertname": "CloudRunHighErrorRate",
             "exp_alerts": _alert(groups, "CloudRunHighErrorRate", {"service_name": "api"}, 0.1)},
            {"eval_time": "12m", "alertname": "CloudRunMaxedOut",
             "exp_alerts": _alert(groups, "CloudRunMaxedOut", {"service_name": "api"}, 8)},
        ],
        "promql_expr_test": [{"expr": s, "eval_time": "12m", "exp_samples": [{"labels": s, "value": v}]}
                             for s, v in ((REDIS_MEMORY, 0.85), (CACHE_MISS, 0.3)) if s in str(groups)],
    }]  # fmt: skip


def test_promtool_checks_and_fires_the_managed_alerts(tmp_path: Path) -> None:
    promtool = tool("promtool")
    files, tests = [], []
    for phase in (1, 2):  # phase 1 records the cache miss signal, phase 2 Redis memory
        groups = _groups(phase)
        rules = write_yaml(tmp_path / f"rules-{phase}.yml", {"groups": groups})
        files.append(str(rules))
        cases = _tests(groups)
        tests.append(str(write_yaml(tmp_path / f"test-{phase}.yml", {
            "rule_files": [str(rules)], "evaluation_interval": "1m",
            "group_eval_order": [g["name"] for g in groups], "tests": cases})))  # fmt: skip
    res = run_all({"check": [promtool, "check", "rules", *files], "test": [promtool, "test", "rules", *tests]})
    assert res["check"].returncode == 0, res["check"].stdout + res["check"].stderr
    assert res["test"].returncode == 0, res["test"].stdout + res["test"].stderr
    assert all(len(t["promql_expr_test"]) == 1 for t in [_tests(_groups(p))[-1] for p in (1, 2)])
