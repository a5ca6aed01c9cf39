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
``components.monitoring.thresholds``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

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

SCALING_ALERTS = ("HPAScaled", "HPAMaxedOut", "PhaseUpgradeRecommended")
"""Alerts the Alertmanager routes to the scaling-events channel, whatever their severity."""


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


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
    """Builds alert rules with the common labels and annotations."""

    def __init__(self, runbook_base_url: str | None) -> None:
        self.runbook_base_url = runbook_base_url

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
        sel = _sel(namespace=spec.namespace, service=name)
        rps = spec.rps_threshold if spec.rps_threshold is not None else t.api_rps_per_service
        err = spec.error_ratio if spec.error_ratio is not None else t.error_ratio
        p99 = spec.p99_latency_s if spec.p99_latency_s is not None else t.p99_latency_s
        per_service = [
            alert("APIScaleUpNeeded", f"{_requests_record(t.rate_window_s)}{sel} > {rps:g}", t.api_rps_for_s,
                  Severity.WARNING, f"{name} serves more than {rps:g} requests/s",
                  f"{_WHERE} has served {{{{ $value | humanize }}}} requests/s for {duration(t.api_rps_for_s)}; "
                  "raise its max replicas or move up a phase."),
            alert("HighErrorRate",
                  f"{_requests_record(t.rate_window_s, True)}{sel} / {_requests_record(t.rate_window_s)}{sel} > {err:g}",
                  t.error_for_s, Severity.CRITICAL, f"{name} answers more than {err:.0%} of requests with 5xx",
                  f"{{{{ $value | humanizePercentage }}}} of {_WHERE} requests failed with 5xx over {w}."),
            alert("HighLatency", f"histogram_quantile(0.99, {_latency_record(t.rate_window_s)}{sel}) > {p99:g}",
                  t.latency_for_s, Severity.WARNING, f"{name} p99 latency is above {p99:g} s",
                  f"{_WHERE} p99 latency is {{{{ $value | humanizeDuration }}}} over {w}."),
        ]  # fmt: skip
        # A static service label (equal to the series' own) keeps the rules of two services distinct.
        rules += [{**r, "labels": {**r["labels"], "service": name}} for r in per_service]
    return {"name": "phasescale.api", "rules": rules}


def _gpu_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    return {"name": "phasescale.gpu", "rules": [
        alert("GPUScaleUpNeeded", f"avg(DCGM_FI_DEV_GPU_UTIL) > {t.gpu_util_percent:g}", t.gpu_util_for_s,
              Severity.WARNING, f"GPU pool utilisation above {t.gpu_util_percent:g}%",
              "Mean utilisation of all GPUs is {{ $value | humanize }}%; add a GPU worker or move up a phase."),
        alert("LLMQueueBacklog",
              f"sum by (namespace, service) (vllm:num_requests_waiting) > {t.llm_queue_requests:g}",
              t.llm_queue_for_s, Severity.WARNING, f"More than {t.llm_queue_requests:g} LLM requests waiting",
              f"{{{{ $value | humanize }}}} requests wait in the {_WHERE} vLLM queue; the GPU pool needs a worker."),
    ]}  # fmt: skip


def _database_group(t: AlertThresholds, sources: MetricSources, alert: _Alerts) -> RuleGroup:
    pg = _postgres(sources, duration(t.rate_window_s))
    where = "{{ $labels.namespace }}/{{ $labels.pod }}"
    lag = [
        alert("ReplicationLagHigh", f"{pg['lag']} > {limit:g}", t.replication_lag_for_s, severity,
              f"PostgreSQL replica lags more than {limit:g} s",
              f"Replica {where} replays WAL {{{{ $value | humanizeDuration }}}} behind the primary.")
        for severity, limit in ((Severity.WARNING, t.replication_lag_warning_s),
                                (Severity.CRITICAL, t.replication_lag_critical_s))
    ]  # fmt: skip
    return {"name": "phasescale.database", "rules": [
        alert("DBScaleUpNeeded", f"sum by (namespace, service) ({pg['tps']}) > {t.db_tps:g}", t.db_tps_for_s,
              Severity.WARNING, f"PostgreSQL cluster above {t.db_tps:g} transactions/s",
              "{{ $labels.namespace }}/{{ $labels.service }} runs {{ $value | humanize }} transactions/s; "
              "add read replicas, a bigger instance or move up a phase."),
        alert("DatabaseConnectionsHigh",
              f"{pg['connections']} / on (namespace, service, pod) {pg['max_connections']} > {t.db_connections_ratio:g}",
              t.db_connections_for_s, Severity.WARNING,
              f"PostgreSQL connections above {t.db_connections_ratio:.0%} of max_connections",
              f"{where} uses {{{{ $value | humanizePercentage }}}} of max_connections; check pool sizes and PgBouncer."),
        *lag,
    ]}  # fmt: skip


def _cache_group(t: AlertThresholds, alert: _Alerts) -> RuleGroup:
    return {"name": "phasescale.cache", "rules": [
        alert("CacheScaleUpNeeded",
              "max by (namespace, service, pod) (redis_memory_used_bytes / (redis_memory_max_bytes > 0))"
              f" > {t.cache_memory_ratio:g}",
              t.cache_memory_for_s, Severity.WARNING, f"Redis memory above {t.cache_memory_ratio:.0%} of maxmemory",
              "Redis {{ $labels.namespace }}/{{ $labels.pod }} uses {{ $value | humanizePercentage }} of maxmemory; "
              "grow maxmemory or move to a Redis cluster."),
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
        alert("HPAMaxedOut", as_service(maxed), t.hpa_maxed_out_for_s, Severity.WARNING,
              "{{ $labels.service }} runs at its maximum replicas",
              f"{_WHERE} has run {{{{ $value }}}} replicas, its HPA maximum, for {duration(t.hpa_maxed_out_for_s)}; "
              "raise max replicas or move up a phase."),
        alert("HPAScaled", as_service(scaled), 0, Severity.INFO,
              "{{ $labels.service }} scaled to {{ $value }} replicas",
              f"The HPA of {_WHERE} changed its desired replicas within {window}; it now wants {{{{ $value }}}}."),
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
        rules.append(_upgrade_alert(t, up, alert))
    return {"name": f"phasescale.phase{phase}-triggers", "rules": rules}


def _upgrade_alert(t: AlertThresholds, triggers: PhaseTriggers, alert: _Alerts) -> Rule:
    nxt = triggers.phase + 1
    holding = " or ".join(f"{c.record} == 1" for c in triggers.conditions)
    n = len(triggers.conditions)
    return alert(
        "PhaseUpgradeRecommended", f"count({holding}) >= {triggers.required}", t.phase_upgrade_for_s, Severity.INFO,
        f"Phase {triggers.phase} -> {nxt}: {{{{ $value }}}} of {n} triggers hold",
        f"At least {triggers.required} of the {n} phase {triggers.phase} -> {nxt} triggers hold: "
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
    ceiling_triggers: PhaseTriggers | None = None,
) -> list[RuleGroup]:
    """The ``groups:`` list of a Prometheus rule file for a stack at ``phase``.

    Groups: ``phasescale.api`` (request recording rules, then per service APIScaleUpNeeded,
    HighErrorRate, HighLatency), ``.gpu``, ``.database``, ``.cache``, ``.autoscaling``, and
    ``phasescale.phase<N>-triggers`` (the signals of the move up and the move down, daily peaks,
    ``phasescale:trigger:*`` and ``phasescale:move_down:*``, PhaseUpgradeRecommended when there is a
    move up: not at the last phase). ``triggers`` replaces ``PHASE_TRIGGERS[phase]``, ``down_triggers``
    ``PHASE_DOWN_TRIGGERS[phase]``, ``ceiling_triggers`` ``CEILING_TRIGGERS[phase]``
    (``phasescale:ceiling:*``, the top phase only). Each rule is ``{"record"|"alert", "expr", ["for"], "labels", ["annotations"]}``.
    """
    if phase not in API_RPS_PER_SERVICE_BY_PHASE:
        raise ValueError(f"phase must be one of {sorted(API_RPS_PER_SERVICE_BY_PHASE)}, got {phase!r}")
    for given in (triggers, down_triggers, ceiling_triggers):
        if given is not None and given.phase != phase:
            raise ValueError(f"triggers are for phase {given.phase}, not {phase}")
    src = sources or MetricSources()
    alert = _Alerts(runbook_base_url)
    groups = [
        _api_group(thresholds, services, alert),
        _gpu_group(thresholds, alert),
        _database_group(thresholds, src, alert),
        _cache_group(thresholds, alert),
        _autoscaling_group(thresholds, alert),
    ]
    up = triggers or PHASE_TRIGGERS.get(phase)
    down = down_triggers or PHASE_DOWN_TRIGGERS.get(phase)
    ceiling = ceiling_triggers or CEILING_TRIGGERS.get(phase)
    if up is not None or down is not None or ceiling is not None:
        groups.append(_phase_group(thresholds, phase, up, down, src, alert, ceiling))
    return groups
