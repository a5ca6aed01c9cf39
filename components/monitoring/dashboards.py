"""The Grafana dashboard JSON models of MonitoringStack (pure: no Pulumi imports), provisioned by the
chart's sidecar from labelled ConfigMaps.

The scaling-decision dashboard (seed 001) reads the same rules ``infra advise`` evaluates: each
move-up trigger of the phase as its recorded signal (the rolling daily peak where the rule reads
peaks) against its threshold, and the move-down conditions through their own expressions
(``TriggerCondition.expr``: 1 holds, 0 not, no value while the history is short)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.monitoring.alert_rules import signal_rules
from components.monitoring.plan import DATASOURCE, MonitoringPlan
from components.monitoring.thresholds import (
    CEILING_TRIGGERS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    USERS,
    Hold,
    PostgresMetrics,
    TriggerCondition,
)

DASHBOARD_SCHEMA_VERSION = 39
GPU_SCALE_UP_PERCENT = 85.0
"""001's GPU autoscaler: scale up above 85 % utilisation..."""
GPU_SCALE_DOWN_PERCENT = 30.0
"""... and down below 30 %."""
USER_PHASE_LINES = (
    *sorted({c.threshold for t in PHASE_TRIGGERS.values() for c in t.conditions if c.signal == USERS}),
    500_000.0,
)
"""001's signup triggers for leaving phases 1-3 (the rules' own thresholds) and 4 -> 5 (500,000): the
forecast panel's phase lines."""
SCALE_ALERTS = ("GPUScaleUpNeeded", "APIScaleUpNeeded", "DBScaleUpNeeded", "CacheScaleUpNeeded",
                "LLMQueueBacklog", "HPAMaxedOut", "HPAScaled", "PhaseUpgradeRecommended")  # fmt: skip
TRIGGERS = '{__name__=~"phasescale:trigger:.+"}'


def _target(expr: str, legend: str = "", ref: str = "A") -> dict[str, Any]:
    return {"refId": ref, "datasource": dict(DATASOURCE), "expr": expr, "legendFormat": legend, "range": True}


def _thresholds(*lines: tuple[float, str], base: str = "green") -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": base, "value": None}]
    steps += [{"color": color, "value": value} for value, color in lines]
    return {"mode": "absolute", "steps": steps}


def _panel(
    title: str, targets: list[dict[str, Any]], *, unit: str = "short", kind: str = "timeseries",
    lines: tuple[tuple[float, str], ...] = (), base: str = "green", description: str = "",
    extra: Mapping[str, Any] | None = None, custom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    defaults: dict[str, Any] = {"unit": unit, "thresholds": _thresholds(*lines, base=base)}
    if kind == "timeseries":
        defaults["custom"] = {"thresholdsStyle": {"mode": "line" if lines else "off"}, **(custom or {})}
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": dict(DATASOURCE),
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]}}
        if kind == "timeseries" else {},
        **(extra or {}),
    }  # fmt: skip


def _layout(panels: list[dict[str, Any]], per_row: int = 2, height: int = 8) -> list[dict[str, Any]]:
    width = 24 // per_row
    return [
        {
            "id": i + 1,
            "gridPos": {"h": height, "w": width, "x": (i % per_row) * width, "y": (i // per_row) * height},
            **p,
        }
        for i, p in enumerate(panels)
    ]


def _db_connections(plan: MonitoringPlan) -> str:
    if plan.postgres_metrics is PostgresMetrics.CNPG:
        return (
            "sum by (namespace, pod) (cnpg_backends_total) / on (namespace, pod) "
            'max by (namespace, pod) (cnpg_pg_settings_setting{name="max_connections"})'
        )
    return (
        "sum by (namespace, service, pod) (pg_stat_activity_count) / on (namespace, service, pod) "
        "max by (namespace, service, pod) (pg_settings_max_connections)"
    )


def _signal_panel(c: TriggerCondition, kind: str, color: str) -> dict[str, Any]:
    """One condition's recorded series (the rolling daily peak where the rule reads peaks) against
    its threshold."""
    series = c.peak_record if c.hold is Hold.DAILY_PEAK else c.signal
    return _panel(f"{kind}: {c.description}", [_target(series, c.name)], lines=((c.threshold, color),),
                  description=f"{c.name if kind == 'Move down' else c.record}: {c.expr}")  # fmt: skip


def _decision_panels(phase: int) -> list[dict[str, Any]]:
    """The current phase's move-up triggers and move-down conditions, one panel each, and the
    move-down conditions' own expressions side by side."""
    up, down = PHASE_TRIGGERS.get(phase), PHASE_DOWN_TRIGGERS.get(phase)
    panels = [_signal_panel(c, "Move up", "red") for c in (up.conditions if up else ())]
    ceiling = CEILING_TRIGGERS.get(phase)  # the top phase: seed 001's 4 -> 5 figures (no phase 5)
    panels += [_signal_panel(c, "Beyond the catalog", "purple") for c in (ceiling.conditions if ceiling else ())]
    if down:
        panels.append(_panel(
            f"Move down {phase} -> {phase - 1}: conditions holding (move at {down.required} of {len(down.conditions)})",
            [_target(c.expr, c.name, chr(ord("A") + i)) for i, c in enumerate(down.conditions)],
            kind="stat", lines=((1, "blue"),), base="text",
            extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background",
                               "textMode": "name", "graphMode": "none"},
                   "description": "The move-down expressions (thresholds.PHASE_DOWN_TRIGGERS): blue = holds, "
                                  "grey = not, no value = not enough history (unknown)."}),
        )  # fmt: skip
        panels += [_signal_panel(c, "Move down", "blue") for c in down.conditions]
    return panels


def scaling_dashboard(plan: MonitoringPlan) -> dict[str, Any]:
    """001's "scaling decision" dashboard and 000's instance / CPU / memory / scaling-event panels."""
    t = plan.thresholds
    ns = f'namespace="{plan.app_namespace}"'
    hpa = "max by (horizontalpodautoscaler) (kube_horizontalpodautoscaler_{m}{{" + ns + "}})"
    w = "5m"
    triggers = PHASE_TRIGGERS.get(plan.phase)
    trigger_title = (
        f"Phase {plan.phase} -> {plan.phase + 1} triggers holding (upgrade at {triggers.required} of "
        f"{len(triggers.conditions)})"
        if triggers
        else f"Phase {plan.phase} is the last phase: no upgrade triggers"
    )
    required = float(triggers.required) if triggers else 1.0
    users = signal_rules(plan.sources)[USERS]
    panels = [
        _panel("GPU utilisation", [
            _target("avg(DCGM_FI_DEV_GPU_UTIL)", "mean"),
            _target("DCGM_FI_DEV_GPU_UTIL", "{{Hostname}} gpu {{gpu}}", "B"),
        ], unit="percent", lines=((GPU_SCALE_DOWN_PERCENT, "blue"), (GPU_SCALE_UP_PERCENT, "red")), base="green",
            description=f"Scale up above {GPU_SCALE_UP_PERCENT:g}% (3 checks), down below {GPU_SCALE_DOWN_PERCENT:g}% (5 checks).",
            custom={"min": 0, "max": 100}),
        _panel("Replicas against max per service", [
            _target(hpa.format(m="status_current_replicas"), "{{horizontalpodautoscaler}} replicas"),
            _target(hpa.format(m="spec_max_replicas"), "{{horizontalpodautoscaler}} max", "B"),
        ], description="kube-state-metrics HPA series; HPAMaxedOut fires when replicas sit at max."),
        _panel("Scale events (desired replica changes)", [
            _target(f"sum by (horizontalpodautoscaler) (changes(kube_horizontalpodautoscaler_status_desired_replicas{{{ns}}}[{w}]))",
                    "{{horizontalpodautoscaler}}"),
        ], custom={"drawStyle": "bars"}),
        _panel("Scaling alerts timeline", [
            _target(f'max by (alertname) (ALERTS{{alertstate="firing", alertname=~"{"|".join(SCALE_ALERTS)}"}})',
                    "{{alertname}}"),
        ], kind="state-timeline"),
        _panel("p95 latency per service", [
            _target(f"histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket{{{ns}}}[{w}])))",
                    "{{service}}"),
        ], unit="s", lines=((0.2, "yellow"), (0.3, "orange"), (0.5, "red")),
            description="Phase goals: p95 < 500 ms (1), < 300 ms (2), < 200 ms (3)."),
        _panel("Error rate (5xx) per service", [
            _target(f'sum by (service) (rate(http_requests_total{{{ns}, status=~"5.."}}[{w}])) / '
                    f"sum by (service) (rate(http_requests_total{{{ns}}}[{w}]))", "{{service}}"),
        ], unit="percentunit", lines=((0.01, "orange"), (t.error_ratio, "red"))),
        _panel("DB connections / max_connections", [_target(_db_connections(plan), "{{namespace}}/{{pod}}")],
               unit="percentunit", lines=((t.db_connections_ratio, "red"),)),
        _panel("Redis memory / maxmemory", [
            _target("max by (namespace, pod) (redis_memory_used_bytes / (redis_memory_max_bytes > 0))",
                    "{{namespace}}/{{pod}}"),
        ], unit="percentunit", lines=((t.cache_memory_ratio, "red"),)),
        _panel("CPU per service (cores)", [
            _target(f'sum by (container) (rate(container_cpu_usage_seconds_total{{{ns}, container!="", container!="POD"}}[{w}]))',
                    "{{container}}"),
        ]),
        _panel("Memory per service", [
            _target(f'sum by (container) (container_memory_working_set_bytes{{{ns}, container!="", container!="POD"}})',
                    "{{container}}"),
        ], unit="bytes"),
        _panel(trigger_title, [_target(f"max by (trigger) ({TRIGGERS})", "{{trigger}}")], kind="stat",
               lines=((1, "green"),), base="text",
               extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background",
                                  "textMode": "name", "graphMode": "none"},
                      "description": "phasescale:trigger:* recording rules: green = holds, grey = not (yet)."}),
        _panel("Triggers holding", [_target(f"count({TRIGGERS} == 1) or vector(0)", "holding")], kind="stat",
               lines=((required, "red"),), base="green",
               extra={"options": {"reduceOptions": {"calcs": ["lastNotNull"], "values": False}, "colorMode": "background",
                                  "graphMode": "area"},
                      "description": "PhaseUpgradeRecommended fires at the threshold (red)."}),
        _panel("Registered users: 30-day forecast with phase lines", [
            _target(users, "users"),
            _target(f"predict_linear(({users})[7d:1h], 30 * 86400)", "forecast (+30 d)", "B"),
        ], lines=tuple((float(n), "red") for n in USER_PHASE_LINES),
            description="Signups leaving phase 1 / 2 / 3 / 4 (001)."),
        *_decision_panels(plan.phase),
    ]  # fmt: skip
    return {
        "uid": "phasescale-scaling",
        "title": "phasescale / scaling decisions",
        "tags": ["phasescale", "scaling"],
        "timezone": "utc",
        "editable": False,
        "schemaVersion": DASHBOARD_SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": []},
        "annotations": {
            "list": [
                {
                    "name": "Scale events",
                    "enable": True,
                    "datasource": dict(DATASOURCE),
                    "expr": 'ALERTS{alertname="HPAScaled", alertstate="firing"}',
                    "iconColor": "orange",
                    "step": "1m",
                    "titleFormat": "{{service}} scaled",
                    "textFormat": "{{namespace}}/{{service}}",
                }
            ]
        },
        "panels": _layout(panels),
    }


def dashboards(plan: MonitoringPlan) -> dict[str, dict[str, Any]]:
    """Dashboard JSON models by ConfigMap key (``<uid>.json``)."""
    board = scaling_dashboard(plan)
    return {f"{board['uid']}.json": board}
