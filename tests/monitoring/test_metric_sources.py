"""Every metric an alert, a recording rule or a KEDA trigger reads is produced by a scrape the plan
deploys, in every cluster of every stack at every phase (``components.monitoring.metrics``)."""

from __future__ import annotations

import pytest

from components.monitoring.metrics import Producer, metric_names, unproduced
from infra.deployability import metric_reads
from tests.planning import PHASES, STACKS, plan_of


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("stack", STACKS)
def test_every_metric_read_is_produced(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    clusters = metric_reads(plan.settings, plan.manifests(), plan.helm_releases())
    assert clusters
    for cluster, (groups, keda, found) in clusters.items():
        assert groups, cluster
        assert unproduced(groups, keda, found) == [], (cluster, sorted(found))


def test_metric_names_of_the_rule_shapes() -> None:
    assert metric_names(
        'label_replace(sum by (namespace, pod) (rate(cnpg_pg_stat_database_xact_commit[5m])), "service", "$1", "pod", "(.+)-[0-9]+")'
    ) == {"cnpg_pg_stat_database_xact_commit"}
    assert metric_names("max(a_total offset 7d) / on (x) group_left (y) b:c:d{l=~\"v\"} > bool 5e+08") == {"a_total", "b:c:d"}


def test_a_managed_database_without_its_exporter_is_caught() -> None:
    # Breaks: the rules of a postgres_exporter source with no postgres-exporter monitor deployed.
    groups = [{"name": "g", "rules": [
        {"alert": "DatabaseConnectionsHigh", "expr": "sum by (pod) (pg_stat_activity_count) > 1"},
        {"record": "phasescale:x", "expr": "sum(redis_memory_used_bytes)"},
        {"alert": "Uses", "expr": "phasescale:x > 1"},
    ]}]  # fmt: skip
    keda = {"ScaledObject api trigger 1": 'sum(rate(http_requests_total{service="api"}[2m]))'}
    assert unproduced(groups, keda, {Producer.SERVICES}) == [
        "DatabaseConnectionsHigh: pg_stat_activity_count", "phasescale:x: redis_memory_used_bytes",
    ]  # fmt: skip
    assert unproduced(groups, keda, {Producer.SERVICES, Producer.POSTGRES_EXPORTER, Producer.REDIS_EXPORTER}) == []
    assert unproduced(groups, keda, set()) == [
        "DatabaseConnectionsHigh: pg_stat_activity_count", "ScaledObject api trigger 1: http_requests_total",
        "phasescale:x: redis_memory_used_bytes",
    ]  # fmt: skip
