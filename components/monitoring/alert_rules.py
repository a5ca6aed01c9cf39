"""Prometheus recording and alerting rules for phasescale, as plain dicts (pure: no Pulumi imports).

``rule_groups(...)`` returns the ``groups:`` list of a Prometheus rule file; the MonitoringStack wraps
it in ``monitoring.coreos.com/v1`` PrometheusRule objects. What must be scraped (label names are the
ones a ServiceMonitor/PodMonitor adds: ``namespace``, ``service``, ``pod``):

- every API service: ``http_requests_total{status}`` (counter, ``status`` = HTTP code),
  ``http_request_duration_seconds_bucket`` (histogram), ``app_concurrent_users`` (gauge);
- dcgm-exporter ``DCGM_FI_DEV_GPU_UTIL``; vLLM ``vllm:num_requests_waiting`` and the
  ``vllm:request_queue_time_seconds`` histogram;
- CloudNativePG's built-in exporter (``cnpg_*``) or postgres_exporter (``pg_*``), see ``PostgresMetrics``;
- redis_exporter, node_exporter, kubelet volume stats, kube-state-metrics (HPA series);
- product KPIs the app exports as gauges (any pod may export them; rules take ``max``):
  ``phasescale_users_registered``, ``phasescale_daily_active_users`` (distinct users, trailing 24 h),
  ``phasescale_revenue_usd_30d``, ``phasescale_infra_cost_usd_30d``, ``phasescale_paid_conversion_ratio``,
  ``phasescale_churn_ratio_30d``, ``phasescale_nps``.

The thresholds, metric sources and next-phase triggers these rules read are in
``components.monitoring.thresholds``; the levels of each alert (severity, threshold, ``for``), with a
stack's ``phasescale:alerts`` over the defaults, in ``components.monitoring.levels``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from components.monitoring.levels import SCALING_ALERTS, AlertSettings, Level, Severity, levels, percent
from components.monitoring.thresholds import (
    API_P95,
    API_RPS_PER_SERVICE_BY_PHASE,
    CACHE_MISS,
    CEILING_TRIGGERS,
    CHURN,
    CONCURRENT,
    CONVERSION,
    DAU,
    DB_DISK,
    DB_TPS,
    GPU_UTIL,
    GROWTH,
    LLM_QUEUE_WAIT,
    NETWORK,
    NPS,
    PHASE_DOWN_TRIGGERS,
    PHASE_TRIGGERS,
    REDIS_MEMORY,
    REVENUE_COST,
    USERS,
    AlertThresholds,
    Hold,
    MetricSources,
    PhaseTriggers,
    PostgresMetrics,
    ServiceAlertSpec,
    duration,
)

RuleGroup = dict[str, Any]
Rule = dict[str, Any]

__all__ = ["SCALING_ALERTS", "Severity", "rule_groups", "signal_rules"]
"""``SCALING_ALERTS`` and ``Severity`` live in ``components.monitoring.levels`` (re-exported here)."""


def _sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _postgres(sources: MetricSources, w: str) -> dict[str, str]:
    """Per-instance PostgreSQL expressions, labelled ``namespace``, ``service`` (cluster) and ``pod``."""
    if sources.postgres is PostgresMetrics.CNPG:
        # CNPG pods are named <cluster>-<n>: the cluster becomes the ``service`` label.
        def by_pod(expr: str) -> str:
            return f'label_replace(sum by (namespace, pod) ({expr}), "service", "$1", "pod", "(.+)-[0-9]+")'

        return {
            "connections": by_pod("cnpg_backends_total"),
            "max_connections": by_pod('cnpg_pg_settings_setting{name="max_connections"}'),
            "tps": by_pod(f"rate(cnpg_pg_stat_database_xact_commit[{w}]) + rate(cnpg_pg_stat_database_xact_rollback[{w}])"),
            "lag": by_pod("cnpg_pg_replication_lag"),
        }  # fmt: skip
    # postgres_exporter runs beside each server: its ``service`` and ``pod`` name that server.
    return {
        "connections": "sum by (namespace, service, pod) (pg_stat_activity_count)",
        "max_connections": "max by (namespace, service, pod) (pg_settings_max_connections)",
        "tps": f"sum by (namespace, service, pod) (rate(pg_stat_database_xact_commit[{w}]) + rate(pg_stat_database_xact_rollback[{w}]))",
        "lag": "max by (namespace, service, pod) (pg_replication_lag_seconds)",
    }  # fmt: skip


def signal_rules(sources: MetricSources, rate_window_s: int = 300) -> dict[str, str]:
    """Every trigger signal: recording rule name -> PromQL yielding one unlabelled series."""
    w = duration(rate_window_s)
    pg = _postgres(sources, w)
    vol = _sel(persistentvolumeclaim=sources.db_volume_claim_regex).replace('="', '=~"')
    dev = _sel(device=sources.network_device_exclude_regex).replace('="', '!~"')
    return {
        GPU_UTIL: f"avg(avg_over_time(DCGM_FI_DEV_GPU_UTIL[{w}]))",
        API_P95: f"histogram_quantile(0.95, sum by (le) ({_latency_record(rate_window_s)}))",
        LLM_QUEUE_WAIT: f"sum(rate(vllm:request_queue_time_seconds_sum[{w}])) / sum(rate(vllm:request_queue_time_seconds_count[{w}]))",
        CACHE_MISS: f"sum(rate(redis_keyspace_misses_total[{w}])) / (sum(rate(redis_keyspace_hits_total[{w}])) + sum(rate(redis_keyspace_misses_total[{w}])))",
        DB_TPS: f"max(sum by (namespace, service) ({pg['tps']}))",
        REDIS_MEMORY: "max(redis_memory_used_bytes / (redis_memory_max_bytes > 0))",
        DB_DISK: f"max(kubelet_volume_stats_used_bytes{vol} / kubelet_volume_stats_capacity_bytes{vol})",
        NETWORK: f"max(sum by (instance) (rate(node_network_receive_bytes_total{dev}[{w}]) + rate(node_network_transmit_bytes_total{dev}[{w}]))) * 8",
        CONCURRENT: "sum(app_concurrent_users)",
        USERS: "max(phasescale_users_registered)",
        DAU: "max(phasescale_daily_active_users)",
        GROWTH: "max(phasescale_users_registered) / max(phasescale_users_registered offset 7d) - 1",
        REVENUE_COST: "max(phasescale_revenue_usd_30d) / max(phasescale_infra_cost_usd_30d > 0)",
        CONVERSION: "max(phasescale_paid_conversion_ratio)",
        CHURN: "max(phasescale_churn_ratio_30d)",
        NPS: "max(phasescale_nps)",
    }  # fmt: skip


def _requests_record(w_s: int, errors: bool = False) -> str:
    return f"namespace_service:http_requests{'_5xx' if errors else ''}:rate{duration(w_s)}"


def _latency_record(w_s: int) -> str:
    return f"namespace_service_le:http_request_duration_seconds_bucket:rate{duration(w_s)}"


class _Alerts:
    """Builds alert rules with the common labels and annotations, one per level of the alert
    (``components.monitoring.levels``: the defaults with the stack's ``phasescale:alerts`` over them)."""

    def __init__(self, runbook_base_url: str | None, settings: AlertSettings | None = None) -> None:
        self.runbook_base_url = runbook_base_url
        self.settings: AlertSettings = settings or {}

    def leveled(
        self, name: str, t: AlertThresholds, expr: Callable[[Level], str], summary: Callable[[Level], str],
        description: Callable[[Level], str], labels: Mapping[str, str] | None = None,
    ) -> list[Rule]:  # fmt: skip
        """A rule per level of alert ``name`` (a ``levels.TUNABLE`` name); none when it has no level."""
        return [
            self(name, expr(lv), lv.for_s, lv.severity, summary(lv), description(lv), labels)
            for lv in levels(name, t, self.settings)
        ]

    def __call__(
        self, name: str, expr: str, for_s: int, severity: Severity, summary: str, description: str,
        labels: Mapping[str, str] | None = None,
    ) -> Rule:  # fmt: skip
        rule: Rule = {"alert": name, "expr": expr}
        if for_s:
            rule["for"] = duration(for_s)
        rule["labels"] = {"severity": severity.value, **(labels or {})}
        rule["annotations"] = {"summary": summary, "description": description}
        if self.runbook_base_url:
            rule["annotations"]["runbook_url"] = f"{self.runbook_base_url.rstrip('/')}/{name.lower()}"
        return rule


_WHERE = "{{ $labels.namespace }}/{{ $labels.service }}"


def _service_alerts(name: str, spec: ServiceAlertSpec, t: AlertThresholds, alert: _Alerts) -> list[Rule]:
    """APIScaleUpNeeded, HighErrorRate, HighLatency (p99) and HighLatencyP95 of one service; the
    spec's own figures replace the defaults' before the stack's ``phasescale:alerts``."""
    w = duration(t.rate_window_s)
    sel = _sel(namespace=spec.namespace, service=name)
    requests, errors, latency = (_requests_record(t.rate_window_s), _requests_record(t.rate_window_s, True),
                                 _latency_record(t.rate_window_s))  # fmt: skip
    ts = replace(
        t,
        api_rps_per_service=t.api_rps_per_service if spec.rps_threshold is None else spec.rps_threshold,
        error_ratio=t.error_ratio if spec.error_ratio is None else spec.error_ratio,
        p99_latency_s=t.p99_latency_s if spec.p99_latency_s is None else spec.p99_latency_s,
    )

    def latency_alert(alertname: str, q: float, p: str) -> list[Rule]:
        return alert.leveled(
            alertname, ts, lambda lv: f"histogram_quantile({q:g}, {latency}{sel}) > {lv.threshold:g}",
            lambda lv: f"{name} {p} latency is above {lv.threshold:g} s",
            lambda lv: f"{_WHERE} {p} latency is {{{{ $value | humanizeDuration }}}} over {w}.",
        )  # fmt: skip

    return [
        *alert.leveled("APIScaleUpNeeded", ts, lambda lv: f"{requests}{sel} > {lv.threshold:g}",
                       lambda lv: f"{name} serves more than {lv.threshold:g} requests/s",
                       lambda lv: f"{_WHERE} has served {{{{ $value | humanize }}}} requests/s for "
                       f"{duration(lv.for_s)}; raise its max replicas or move up a phase."),
        *alert.leveled("HighErrorRate", ts, lambda lv: f"{errors}{sel} / {requests}{sel} > {lv.threshold:g}",
                       lambda lv: f"{name} answers more than {percent(lv.threshold or 0)} of requests with 5xx",
                       lambda lv: f"{{{{ $value | humanizePercentage }}}} of {_WHERE} requests failed with 5xx over {w}."),
        *latency_alert("HighLatency", 0.99, "p99"),
        *latency_alert("HighLatencyP95", 0.95, "p95"),
    ]  # fmt: skip


def _api_group(t: AlertThresholds, services: Mapping[str, ServiceAlertSpec], alert: _Alerts) -> RuleGroup:
    w = duration(t.rate_window_s)
    rules: list[Rule] = [
        {"record": _requests_record(t.rate_window_s), "expr": f"sum by (namespace, service) (rate(http_requests_total[{w}]))"},
        {"record": _requests_record(t.rate_window_s, errors=True),
         "expr": f'sum by (namespace, service) (rate(http_requests_total{{status=~"5.."}}[{w}]))'},
        {"record": _latency_record(t.rate_window_s),
         "expr": f"sum by (namespace, service, le) (rate(http_request_duration_seconds_bucket[{w}]))"},
    ]  # fmt: skip
    for name, spec in sorted(services.items()):
        per_service = _service_alerts(name, spec, t, alert)
        # A static service label (equal to the series' own) keeps the rules of two services distinct.
        rules += [{**r, "labels": {**r["labels"], "service": name}} for r in per_service]
    return {"name": "phasescale.api", "rules": rules}


def _gpu_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    return {"name": "phasescale.gpu", "rules": [
        *alert.leveled("GPUScaleUpNeeded", t, lambda lv: f"avg(DCGM_FI_DEV_GPU_UTIL) > {lv.threshold:g}",
                       lambda lv: f"GPU pool utilisation above {lv.threshold:g}%",
                       lambda lv: "Mean utilisation of all GPUs is {{ $value | humanize }}%; add a GPU worker or move up a phase."),
        *alert.leveled("LLMQueueBacklog", t,
                       lambda lv: f"sum by (namespace, service) (vllm:num_requests_waiting) > {lv.threshold:g}",
                       lambda lv: f"More than {lv.threshold:g} LLM requests waiting",
                       lambda lv: f"{{{{ $value | humanize }}}} requests wait in the {_WHERE} vLLM queue; the GPU pool needs a worker."),
    ]}  # fmt: skip


def _database_group(t: AlertThresholds, sources: MetricSources, alert: _Alerts) -> RuleGroup:
    pg = _postgres(sources, duration(t.rate_window_s))
    where = "{{ $labels.namespace }}/{{ $labels.pod }}"
    return {"name": "phasescale.database", "rules": [
        *alert.leveled("DBScaleUpNeeded", t, lambda lv: f"sum by (namespace, service) ({pg['tps']}) > {lv.threshold:g}",
                       lambda lv: f"PostgreSQL cluster above {lv.threshold:g} transactions/s",
                       lambda lv: "{{ $labels.namespace }}/{{ $labels.service }} runs {{ $value | humanize }} transactions/s; "
                       "add read replicas, a bigger instance or move up a phase."),
        *alert.leveled("DatabaseConnectionsHigh", t,
                       lambda lv: f"{pg['connections']} / on (namespace, service, pod) {pg['max_connections']} > {lv.threshold:g}",
                       lambda lv: f"PostgreSQL connections above {percent(lv.threshold or 0)} of max_connections",
                       lambda lv: f"{where} uses {{{{ $value | humanizePercentage }}}} of max_connections; check pool sizes and PgBouncer."),
        *alert.leveled("ReplicationLagHigh", t, lambda lv: f"{pg['lag']} > {lv.threshold:g}",
                       lambda lv: f"PostgreSQL replica lags more than {lv.threshold:g} s",
                       lambda lv: f"Replica {where} replays WAL {{{{ $value | humanizeDuration }}}} behind the primary."),
    ]}  # fmt: skip


def _cache_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    return {"name": "phasescale.cache", "rules": [
        *alert.leveled("CacheScaleUpNeeded", t,
                       lambda lv: "max by (namespace, service, pod) (redis_memory_used_bytes / (redis_memory_max_bytes > 0))"
                       f" > {lv.threshold:g}",
                       lambda lv: f"Redis memory above {percent(lv.threshold or 0)} of maxmemory",
                       lambda lv: "Redis {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of "
                       "maxmemory; grow maxmemory or move to a Redis cluster."),
    ]}  # fmt: skip


def _node_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    """NodeCPUHigh / NodeMemoryHigh (000's and 002's CPU and memory tables), off by default. node_exporter's
    ``node_cpu_seconds_total{mode="idle"}`` and ``node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes``
    (the node-mixin's ``instance:node_cpu_utilisation:*`` and ``instance:node_memory_utilisation:ratio``)."""
    w = duration(t.rate_window_s)
    where = "Node {{ $labels.instance }}"
    return {"name": "phasescale.nodes", "rules": [
        *alert.leveled("NodeCPUHigh", t,
                       lambda lv: f'1 - avg by (instance) (rate(node_cpu_seconds_total{{mode="idle"}}[{w}])) > {lv.threshold:g}',
                       lambda lv: f"Node CPU above {percent(lv.threshold or 0)}",
                       lambda lv: f"{where} has been {{{{ $value | humanizePercentage }}}} busy over {w}."),
        *alert.leveled("NodeMemoryHigh", t,
                       lambda lv: "1 - max by (instance) (node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)"
                       f" > {lv.threshold:g}",
                       lambda lv: f"Node memory above {percent(lv.threshold or 0)}",
                       lambda lv: f"{where} uses {{{{ $value | humanizePercentage }}}} of its memory."),
    ]}  # fmt: skip


def _autoscaling_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    def hpa(metric: str) -> str:
        return f"max by (namespace, horizontalpodautoscaler) (kube_horizontalpodautoscaler_{metric})"

    def as_service(expr: str) -> str:
        # StatelessService names its HPA (and the one KEDA creates) after the service.
        return f'label_replace({expr}, "service", "$1", "horizontalpodautoscaler", "(.+)")'

    window = duration(t.hpa_scaled_window_s)
    changes = f"changes(kube_horizontalpodautoscaler_status_desired_replicas[{window}])"
    maxed = (
        f"({hpa('status_current_replicas')} >= {hpa('spec_max_replicas')})"
        f" and ({hpa('spec_max_replicas')} > {hpa('spec_min_replicas')})"
    )
    scaled = (
        f"{hpa('status_desired_replicas')} and (max by (namespace, horizontalpodautoscaler) ({changes}) > 0)"
    )
    return {"name": "phasescale.autoscaling", "rules": [
        *alert.leveled("HPAMaxedOut", t, lambda lv: as_service(maxed),
                       lambda lv: "{{ $labels.service }} runs at its maximum replicas",
                       lambda lv: f"{_WHERE} has run {{{{ $value }}}} replicas, its HPA maximum, for {duration(lv.for_s)}; "
                       "raise max replicas or move up a phase."),
        *alert.leveled("HPAScaled", t, lambda lv: as_service(scaled),
                       lambda lv: "{{ $labels.service }} scaled to {{ $value }} replicas",
                       lambda lv: f"The HPA of {_WHERE} changed its desired replicas within {window}; it now wants {{{{ $value }}}}."),
    ]}  # fmt: skip


def _phase_group(
    t: AlertThresholds, phase: int, up: PhaseTriggers | None, down: PhaseTriggers | None, sources: MetricSources,
    alert: _Alerts, ceiling: PhaseTriggers | None = None,
) -> RuleGroup:  # fmt: skip
    """The signals every condition of the phase's move up, move down and ceiling (the top phase)
    reads (each once), the rolling daily peaks, one recording rule per condition, then
    PhaseUpgradeRecommended (move up only)."""
    conditions = [*(up.conditions if up else ()), *(down.conditions if down else ()),
                  *(ceiling.conditions if ceiling else ())]  # fmt: skip
    signals = signal_rules(sources, t.rate_window_s)
    used = sorted({c.signal for c in conditions})
    peaks = sorted(
        {(c.peak_record, c.signal, c.peak_period_s) for c in conditions if c.hold is Hold.DAILY_PEAK}
    )
    rules: list[Rule] = [{"record": s, "expr": signals[s]} for s in used]
    rules += [{"record": r, "expr": f"max_over_time({s}[{duration(p)}])"} for r, s, p in peaks]
    rules += [
        {"record": c.record, "expr": c.expr, "labels": {"trigger": c.name, "phase": str(phase)}}
        for c in conditions
    ]
    if up is not None:
        rules += _upgrade_alert(t, up, alert)
    return {"name": f"phasescale.phase{phase}-triggers", "rules": rules}


def _upgrade_alert(t: AlertThresholds, triggers: PhaseTriggers, alert: _Alerts) -> list[Rule]:
    nxt = triggers.phase + 1
    holding = " or ".join(f"{c.record} == 1" for c in triggers.conditions)
    n = len(triggers.conditions)
    return alert.leveled(
        "PhaseUpgradeRecommended", t, lambda lv: f"count({holding}) >= {triggers.required}",
        lambda lv: f"Phase {triggers.phase} -> {nxt}: {{{{ $value }}}} of {n} triggers hold",
        lambda lv: f"At least {triggers.required} of the {n} phase {triggers.phase} -> {nxt} triggers hold: "
        f'{{{{ range query `{holding}` | sortByLabel "trigger" }}}}{{{{ .Labels.trigger }}}} {{{{ end }}}}'
        f"- set phasescale:phase to {nxt}.",
        {"phase": str(triggers.phase), "next_phase": str(nxt)},
    )  # fmt: skip


def rule_groups(
    thresholds: AlertThresholds,
    phase: int,
    services: Mapping[str, ServiceAlertSpec],
    *,
    sources: MetricSources | None = None,
    runbook_base_url: str | None = None,
    triggers: PhaseTriggers | None = None,
    down_triggers: PhaseTriggers | None = None,
    alerts: AlertSettings | None = None,
    ceiling_triggers: PhaseTriggers | None = None,
) -> list[RuleGroup]:
    """The ``groups:`` list of a Prometheus rule file for a stack at ``phase``.

    Groups: ``phasescale.api`` (request recording rules, then per service APIScaleUpNeeded,
    HighErrorRate, HighLatency), ``.gpu``, ``.database``, ``.cache``, ``.autoscaling``, and
    ``phasescale.phase<N>-triggers`` (the signals of the move up and the move down, daily peaks,
    ``phasescale:trigger:*`` and ``phasescale:move_down:*``, PhaseUpgradeRecommended when there is a
    move up: not at the last phase). ``triggers`` replaces ``PHASE_TRIGGERS[phase]``, ``down_triggers``
    ``PHASE_DOWN_TRIGGERS[phase]``, ``ceiling_triggers`` ``CEILING_TRIGGERS[phase]``
    (``phasescale:ceiling:*``, the top phase only). ``alerts`` (``phasescale:alerts``) tunes each alert's
    levels over its defaults (``components.monitoring.levels``); ``phasescale.nodes`` (NodeCPUHigh,
    NodeMemoryHigh) is there only when it has a level. Each rule is ``{"record"|"alert", "expr", ["for"], "labels", ["annotations"]}``.
    """
    if phase not in API_RPS_PER_SERVICE_BY_PHASE:
        raise ValueError(f"phase must be one of {sorted(API_RPS_PER_SERVICE_BY_PHASE)}, got {phase!r}")
    for given in (triggers, down_triggers, ceiling_triggers):
        if given is not None and given.phase != phase:
            raise ValueError(f"triggers are for phase {given.phase}, not {phase}")
    src = sources or MetricSources()
    alert = _Alerts(runbook_base_url, alerts)
    groups = [
        _api_group(thresholds, services, alert),
        _gpu_group(thresholds, alert),
        _database_group(thresholds, src, alert),
        _cache_group(thresholds, alert),
        _autoscaling_group(thresholds, alert),
    ]
    nodes = _node_group(thresholds, alert)
    if nodes["rules"]:
        groups.append(nodes)
    up = triggers or PHASE_TRIGGERS.get(phase)
    down = down_triggers or PHASE_DOWN_TRIGGERS.get(phase)
    ceiling = ceiling_triggers or CEILING_TRIGGERS.get(phase)
    up, down, ceiling = (t if t is not None and t.conditions else None for t in (up, down, ceiling))  # none left: no group
    if up is not None or down is not None or ceiling is not None:
        groups.append(_phase_group(thresholds, phase, up, down, src, alert, ceiling))
    return groups
