"""MonitoringStack: Helm values per phase, selectors that really select every monitor and rule of every
plan, PrometheusRule shape, dashboards, validation, and promtool / amtool over the offline plan's
rule files and Alertmanager config (one parallel batch of subprocesses)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.monitoring import plan as mp
from components.monitoring.alert_rules import SCALING_ALERTS
from components.monitoring.stack import MonitoringStack, MonitoringStackArgs
from components.monitoring.thresholds import PHASE_DOWN_TRIGGERS, PHASE_TRIGGERS, retention_days_needed
from components.versions import CHARTS
from infra import catalog
from infra import plan as planner
from infra.parts import MONITOR_LABELS, MONITORING_NAMESPACE, PROMETHEUS_URL
from infra.parts import monitoring as part
from infra.settings import resolve
from tests.planning import PHASES, STACKS, k8s_objects, plan_of
from tests.promtool import run_all, tool

COMPONENT = "phasescale:components:MonitoringStack"
MONITOR_KINDS = ("ServiceMonitor", "PodMonitor", "PrometheusRule", "Probe")
SELECTED_BY = {
    "ServiceMonitor": "serviceMonitor",
    "PodMonitor": "podMonitor",
    "PrometheusRule": "rule",
    "Probe": "probe",
}


def releases(plan: planner.Plan) -> dict[str, dict[str, Any]]:
    """The kube-prometheus-stack release of each cluster."""
    return {c: r for c, r in plan.helm_releases() if r["chart"] == "kube-prometheus-stack"}


def spec_of(rel: dict[str, Any]) -> dict[str, Any]:
    return rel["values"]["prometheus"]["prometheusSpec"]


# ------------------------------------------------------------------ catalog and Helm values


def test_catalog_retention_covers_every_phase_trigger_history() -> None:
    for phase in PHASES:
        assert catalog.MONITORING[phase].retention_days >= retention_days_needed(phase), phase
    assert [retention_days_needed(p) for p in PHASES] == [29, 36, 10, 13]


@pytest.mark.parametrize(
    ("phase", "retention", "size", "storage", "prom", "am", "memory"),
    [(1, "30d", "25GB", "30Gi", 1, 1, "2Gi"), (2, "40d", "85GB", "100Gi", 1, 2, "4Gi"),
     (3, "40d", "170GB", "200Gi", 2, 3, "6Gi"), (4, "40d", "340GB", "400Gi", 2, 3, "8Gi")],
)  # fmt: skip
def test_helm_values_per_phase(
    phase: int, retention: str, size: str, storage: str, prom: int, am: int, memory: str
) -> None:
    plan = plan_of("prod", phase)
    rels = releases(plan)
    assert set(rels) == {f"{r}-k8s" for r in plan.settings.active_regions}
    for rel in rels.values():
        chart = CHARTS["kube-prometheus-stack"]
        assert (rel["name"], rel["chart"], rel["version"], rel["namespace"]) == (
            "monitoring", "kube-prometheus-stack", chart.version, MONITORING_NAMESPACE,
        )  # fmt: skip
        assert rel["repositoryOpts"] == {"repo": chart.repo}
        values = rel["values"]
        # Release "monitoring" + fullnameOverride "monitoring": the Service PROMETHEUS_URL names.
        assert values["fullnameOverride"] == mp.RELEASE == "monitoring"
        assert PROMETHEUS_URL.startswith(
            f"http://{values['fullnameOverride']}-prometheus.{MONITORING_NAMESPACE}.svc"
        )
        spec = spec_of(rel)
        assert (spec["retention"], spec["retentionSize"], spec["replicas"]) == (retention, size, prom)
        assert spec["scrapeInterval"] == spec["evaluationInterval"] == "15s"
        assert spec["storageSpec"] == {"volumeClaimTemplate": {"spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}}}  # fmt: skip
        assert spec["resources"]["requests"]["memory"] == spec["resources"]["limits"]["memory"] == memory
        for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
            assert spec[f"{kind}Selector"] == {"matchLabels": MONITOR_LABELS}, kind
            assert spec[f"{kind}SelectorNilUsesHelmValues"] is False, kind
            assert spec[f"{kind}NamespaceSelector"] == {}, kind
        amspec = values["alertmanager"]["alertmanagerSpec"]
        assert amspec["replicas"] == am
        assert amspec["secrets"] == [mp.SLACK_SECRET]
        grafana = values["grafana"]
        assert grafana["sidecar"]["dashboards"] == {
            "enabled": True, "label": "grafana_dashboard", "labelValue": "1", "searchNamespace": "ALL",
        }  # fmt: skip
        assert grafana["sidecar"]["datasources"]["uid"] == mp.DATASOURCE["uid"]
        assert values["nodeExporter"] == {"enabled": True}
        assert values["kubeStateMetrics"] == {"enabled": True}


def test_monitoring_namespace_is_privileged_for_node_exporter() -> None:
    for stack in STACKS:
        ns = k8s_objects(plan_of(stack, 1), "Namespace")
        mons = [o for o in ns.values() if o["metadata"]["name"] == MONITORING_NAMESPACE]
        assert mons, stack
        for obj in mons:
            assert obj["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


# ------------------------------------------------------------------ "actually selected"


def test_every_monitor_and_rule_of_every_plan_is_selected_by_its_prometheus() -> None:
    counted = dict.fromkeys(MONITOR_KINDS, 0)
    for stack in STACKS:
        for phase in PHASES:
            plan = plan_of(stack, phase)
            rels = releases(plan)
            for cluster, obj in plan.manifests():
                if obj["kind"] not in MONITOR_KINDS:
                    continue
                assert cluster in rels, f"{stack}@{phase}: {obj['kind']} without a Prometheus in {cluster}"
                spec = spec_of(rels[cluster])
                selector = spec[f"{SELECTED_BY[obj['kind']]}Selector"]
                labels = obj["metadata"].get("labels") or {}
                want = selector["matchLabels"]
                assert set(selector) == {"matchLabels"}
                assert want.items() <= labels.items(), (
                    f"{stack}@{phase} {cluster}: {obj['kind']} {obj['metadata']['name']} labels {labels} miss {want}"
                )
                assert spec[f"{SELECTED_BY[obj['kind']]}NamespaceSelector"] == {}  # every namespace
                counted[obj["kind"]] += 1
    assert counted["ServiceMonitor"] > 0 and counted["PodMonitor"] > 0 and counted["PrometheusRule"] > 0


def test_chart_monitors_of_other_releases_carry_the_selector_labels() -> None:
    """Helm charts that create their own monitors (KEDA, CNPG operator) label them for our selector."""
    plan = plan_of("prod", 3)
    for cluster, rel in plan.helm_releases():
        if rel["chart"] == "keda":
            prom = rel["values"]["prometheus"]
            for part_ in ("operator", "metricServer"):
                assert prom[part_]["serviceMonitor"]["additionalLabels"] == MONITOR_LABELS, cluster
        if rel["chart"] == "cloudnative-pg":
            assert rel["values"]["monitoring"]["podMonitorAdditionalLabels"] == MONITOR_LABELS, cluster


# ------------------------------------------------------------------ PrometheusRules


def test_prometheus_rules_have_the_operator_shape() -> None:
    base = [
        "phasescale.api",
        "phasescale.gpu",
        "phasescale.database",
        "phasescale.cache",
        "phasescale.autoscaling",
    ]
    for stack in STACKS:
        for phase in PHASES:
            plan = plan_of(stack, phase)
            rules = [(c, o) for c, o in plan.manifests() if o["kind"] == "PrometheusRule"]
            mine = {c: o for c, o in rules if o["metadata"]["name"] == mp.RULES_NAME}
            assert set(mine) == set(releases(plan)), (stack, phase)
            expected = [*base, f"phasescale.phase{phase}-triggers"]  # the last phase: move-down only
            if not plan.settings.stack.parts.gpu:  # no GPU pool: no GPU alerts (nothing would feed them)
                expected = [g for g in expected if g != "phasescale.gpu"]
            for obj in mine.values():
                assert obj["metadata"]["namespace"] == MONITORING_NAMESPACE
                assert [g["name"] for g in obj["spec"]["groups"]] == expected, (stack, phase)
            for _, obj in rules:
                assert obj["apiVersion"] == "monitoring.coreos.com/v1"
                assert set(obj["spec"]) == {"groups"}
                for group in obj["spec"]["groups"]:
                    assert group["name"] and group["rules"]
                    for rule in group["rules"]:
                        assert ("record" in rule) != ("alert" in rule) and rule["expr"], rule


def _group(plan: planner.Plan, name: str) -> dict[str, Any]:
    """Group ``name`` of the PrometheusRule of the plan's first cluster."""
    obj = next(
        o
        for _, o in plan.manifests()
        if o["kind"] == "PrometheusRule" and o["metadata"]["name"] == mp.RULES_NAME
    )
    (group,) = [g for g in obj["spec"]["groups"] if g["name"] == name]
    return group


def test_api_alerts_cover_the_stacks_kubernetes_services_and_postgres_source_follows_the_engine() -> None:
    plan = plan_of("prod", 2)
    settings = plan.settings
    rules = _group(plan, "phasescale.api")["rules"]
    exprs = [r["expr"] for r in rules if r.get("alert") == "APIScaleUpNeeded"]
    # one static service label per service: promtool sees no duplicate rules
    assert sorted(r["labels"]["service"] for r in rules if r.get("alert") == "HighLatency") == sorted(
        settings.stack.services
    )
    assert len(exprs) == len(settings.stack.services)
    for name in settings.stack.services:
        assert any(f'namespace="{settings.stack.namespace}",service="{name}"' in e for e in exprs), name
    text = json.dumps(_group(plan, "phasescale.database"))
    assert ("cnpg_backends_total" in text) == (settings.stack.postgres.engine.value == "cnpg")


def test_component_children_and_secret_handling() -> None:
    plan = mp.MonitoringPlan(phase=1, app_namespace="app", services=("api",))
    args = MonitoringStackArgs(plan=plan, slack_webhook_url="https://hooks.slack.com/services/T/B/x")
    records = planner.record(lambda: MonitoringStack("seoul-monitoring", args))
    got = {(r.type, r.name): r for r in records}
    assert sorted(got) == [
        ("kubernetes:core/v1:ConfigMap", "seoul-monitoring-dashboard-phasescale-scaling"),
        ("kubernetes:core/v1:Namespace", "seoul-monitoring-ns"),
        ("kubernetes:core/v1:Secret", "seoul-monitoring-slack"),
        ("kubernetes:helm.sh/v3:Release", "seoul-monitoring"),
        ("kubernetes:monitoring.coreos.com/v1:PrometheusRule", "seoul-monitoring-rules"),
        (COMPONENT, "seoul-monitoring"),
    ]
    assert all(r.parent == f"{COMPONENT}::seoul-monitoring" for k, r in got.items() if k[0] != COMPONENT)
    secret = got[("kubernetes:core/v1:Secret", "seoul-monitoring-slack")].inputs
    assert secret["metadata"]["name"] == mp.SLACK_SECRET
    assert secret["stringData"] == {mp.SLACK_KEY: planner.REDACTED}
    release = got[("kubernetes:helm.sh/v3:Release", "seoul-monitoring")].inputs
    assert release["createNamespace"] is False and release["atomic"] is True
    assert "hooks.slack.com" not in json.dumps([r.inputs for r in records])


def test_without_a_webhook_no_secret_is_mounted_and_every_alert_goes_to_null() -> None:
    plan = mp.MonitoringPlan(phase=4, app_namespace="app", slack=False)
    records = planner.record(lambda: MonitoringStack("m", MonitoringStackArgs(plan=plan)))
    assert not [r for r in records if r.type == "kubernetes:core/v1:Secret"]
    values = mp.helm_values(plan)
    assert values["alertmanager"]["alertmanagerSpec"]["secrets"] == []
    assert {r["name"] for r in values["alertmanager"]["config"]["receivers"]} == {"null"}
    (rule,) = [r for r in records if r.name == "m-rules"]
    (group,) = [g for g in rule.inputs["spec"]["groups"] if "triggers" in g["name"]]
    # the last phase: its move-down conditions, no move up to recommend
    assert not [r for r in group["rules"] if "alert" in r]
    assert [r["record"] for r in group["rules"] if r["record"].startswith("phasescale:move_down:")] == [
        c.record for c in PHASE_DOWN_TRIGGERS[4].conditions
    ]


# ------------------------------------------------------------------ dashboards


def _dashboard(stack: str, phase: int) -> dict[str, Any]:
    cms = k8s_objects(plan_of(stack, phase), "ConfigMap")
    found = [o for o in cms.values() if o["metadata"]["name"] == "phasescale-scaling"]
    assert found and all(o["metadata"]["namespace"] == MONITORING_NAMESPACE for o in found)
    assert all(o["metadata"]["labels"]["grafana_dashboard"] == "1" for o in found)
    (text,) = found[0]["data"].values()
    return json.loads(text)


def _panel(board: dict[str, Any], title_start: str) -> dict[str, Any]:
    (panel,) = [p for p in board["panels"] if p["title"].startswith(title_start)]
    return panel


def test_scaling_dashboard_is_valid_grafana_json_with_the_decision_panels() -> None:
    board = _dashboard("prod", 2)
    assert board["schemaVersion"] >= 36 and board["uid"] == "phasescale-scaling"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for p in board["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        assert set(p["gridPos"]) == {"h", "w", "x", "y"} and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        assert p["targets"] and all(
            t["expr"] and t["refId"] and t["datasource"] == p["datasource"] for t in p["targets"]
        )
    gpu = _panel(board, "GPU utilisation")
    assert [s["value"] for s in gpu["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 30, 85]
    assert gpu["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "line"}
    replicas = [t["expr"] for t in _panel(board, "Replicas against max")["targets"]]
    assert any("kube_horizontalpodautoscaler_status_current_replicas" in e for e in replicas)
    assert any("kube_horizontalpodautoscaler_spec_max_replicas" in e for e in replicas)
    assert (
        "kube_horizontalpodautoscaler_status_desired_replicas"
        in _panel(board, "Scale events")["targets"][0]["expr"]
    )
    assert "histogram_quantile(0.95" in _panel(board, "p95 latency")["targets"][0]["expr"]
    assert 'status=~"5.."' in _panel(board, "Error rate")["targets"][0]["expr"]
    assert "max_connections" in _panel(board, "DB connections")["targets"][0]["expr"]
    assert "redis_memory_used_bytes" in _panel(board, "Redis memory")["targets"][0]["expr"]
    triggers = _panel(board, "Phase 2 -> 3 triggers holding (upgrade at 4 of 11)")
    assert "phasescale:trigger:" in triggers["targets"][0]["expr"]
    holding = _panel(board, "Triggers holding")
    assert [s["value"] for s in holding["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 4]


def test_dashboard_trigger_query_matches_the_recorded_triggers() -> None:
    pattern = re.compile(r'__name__=~"([^"]+)"')
    board = _dashboard("prod", 1)
    (regex,) = set(pattern.findall(_panel(board, "Phase 1 -> 2")["targets"][0]["expr"]))
    group = _group(plan_of("prod", 1), "phasescale.phase1-triggers")
    records = [r["record"] for r in group["rules"] if r.get("record", "").startswith("phasescale:trigger:")]
    assert len(records) == len(PHASE_TRIGGERS[1].conditions)
    assert all(re.fullmatch(regex, r) for r in records)
    assert _panel(_dashboard("prod", 4), "Phase 4 is the last phase")


# ------------------------------------------------------------------ validation


def _raw(stack: str, drop: str | None = None) -> tuple[dict[str, str], frozenset[str]]:
    raw, secret = planner.read_stack_config(planner.stack_file(stack))
    if drop:
        raw.pop(f"phasescale:{drop}")
        secret = secret - {f"phasescale:{drop}"}
    return raw, secret


def test_validate_requires_the_webhook_in_production_only() -> None:
    raw, secret = _raw("prod", drop="slackWebhookUrl")
    problems = part.validate(resolve(raw, secret))
    assert [(p.path, p.value) for p in problems] == [("phasescale:slackWebhookUrl", None)]
    assert "required in production" in problems[0].expected
    raw, secret = _raw("dev", drop="slackWebhookUrl")
    settings = resolve(raw, secret)
    assert part.validate(settings) == []
    assert part.plan(settings).slack is False


def test_validate_rejects_retention_below_the_trigger_history() -> None:
    raw, secret = _raw("dev")
    raw["phasescale:overrides"] = json.dumps({"monitoring": {"retentionDays": 10}})
    problems = part.validate(resolve(raw, secret, phase_override=2))
    assert [(p.path, p.value) for p in problems] == [("phasescale:overrides.monitoring.retentionDays", 10)]
    assert "at least 36 days at phase 2" in problems[0].expected
    assert part.validate(resolve(raw, secret, phase_override=3)) == []  # phase 3 needs 10 (3 -> 2 DAU: 9 days)
    # The last phase has no move up, but its move-down GPU condition reads 12 days back.
    raw["phasescale:overrides"] = json.dumps({"monitoring": {"retentionDays": 12}})
    problems = part.validate(resolve(raw, secret, phase_override=4))
    assert [(p.path, p.value) for p in problems] == [("phasescale:overrides.monitoring.retentionDays", 12)]
    assert "at least 13 days at phase 4: the phase's move-up and move-down conditions read" in problems[0].expected


# ------------------------------------------------------------------ promtool / amtool over the plan


def _route(amtool: str, config: Path, *labels: str) -> list[str]:
    return [amtool, "config", "routes", "test", f"--config.file={config}", *labels]


def test_plan_rule_files_and_alertmanager_config_pass_promtool_and_amtool(tmp_path: Path) -> None:
    promtool, amtool = tool("promtool"), tool("amtool")
    # planner.write writes these files (checked once below); write_monitoring alone skips the
    # manifests and resources.json of twelve plans, which tests/infra/test_manifests.py writes already.
    for stack in STACKS:
        for phase in PHASES:
            planner.write_monitoring(plan_of(stack, phase), tmp_path / f"{stack}-{phase}")
    full = tmp_path / "full"
    planner.write(plan_of("dev", 1), full)
    assert sorted(p.name for p in (full / "rules").iterdir()) == sorted(
        p.name for p in (tmp_path / "dev-1" / "rules").iterdir()
    )
    assert (full / "alertmanager.yaml").read_text() == (tmp_path / "dev-1" / "alertmanager.yaml").read_text()
    rule_files = sorted(f for f in tmp_path.glob("*/rules/*.yaml") if f.parts[-3] != "full")
    am_files = sorted(f for f in tmp_path.glob("*/alertmanager.yaml") if f.parts[-2] != "full")
    assert len(am_files) == len(STACKS) * len(PHASES)
    # One file per PrometheusRule: the stack's in every active region, plus the logging part's (Loki, prod-aws).
    assert len(rule_files) == sum(
        1 for s in STACKS for p in PHASES for _, o in plan_of(s, p).manifests() if o["kind"] == "PrometheusRule"
    )
    assert len(rule_files) > sum(len(plan_of(s, p).settings.active_regions) for s in STACKS for p in PHASES)
    assert sorted(f.name for f in (tmp_path / "prod-4" / "rules").iterdir()) == [
        "seoul-phasescale.yaml",
        "tokyo-phasescale.yaml",
    ]
    for f in am_files:
        text = f.read_text()
        assert "hooks.slack.com" not in text and "api_url_file" in text
    am = am_files[0]
    results = run_all({
        "rules": [promtool, "check", "rules", "--lint=all", "--lint-fatal", *map(str, rule_files)],
        "config": [amtool, "check-config", *map(str, am_files)],
        "scaled": _route(amtool, am, "alertname=HPAScaled", "severity=info", "namespace=app", "service=api"),
        "maxed": _route(amtool, am, "alertname=HPAMaxedOut", "severity=warning", "namespace=app", "service=api"),
        "upgrade": _route(amtool, am, "alertname=PhaseUpgradeRecommended", "severity=info"),
        "warning": _route(amtool, am, "alertname=HighLatency", "severity=warning"),
        "critical": _route(amtool, am, "alertname=HighErrorRate", "severity=critical"),
    })  # fmt: skip
    for key in ("rules", "config"):
        assert results[key].returncode == 0, results[key].stdout + results[key].stderr
    assert results["rules"].stdout.count("SUCCESS") == len(rule_files)
    routed = {k: r.stdout.strip() for k, r in results.items() if k not in ("rules", "config")}
    assert routed == {"scaled": "slack-scaling", "maxed": "slack-scaling", "upgrade": "slack-scaling",
                      "warning": "slack-warning", "critical": "slack-critical"}  # fmt: skip
    assert set(SCALING_ALERTS) == {"HPAScaled", "HPAMaxedOut", "PhaseUpgradeRecommended"}
    written = yaml.safe_load((tmp_path / "prod-3" / "rules" / "seoul-phasescale.yaml").read_text())
    (autoscaling,) = [g for g in written["groups"] if g["name"] == "phasescale.autoscaling"]
    assert {r["alert"] for r in autoscaling["rules"]} == {"HPAScaled", "HPAMaxedOut"}
