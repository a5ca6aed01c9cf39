"""kube-prometheus-stack on managed control planes: GKE and EKS expose no controller manager,
scheduler or etcd and bind kube-proxy's metrics to the node's loopback, so their scrapes and
rule groups are off there (else their *Down alerts fire from the first day); on `existing` they stay."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.monitoring import plan as mp
from tests.monitoring.test_monitoring import releases
from tests.planning import PHASES, plan_of

CHART_VALUES = Path("/work/shared/validation/chart-values/kube-prometheus-stack-values.yaml")


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("stack", ["prod", "prod-aws"])
def test_managed_clusters_scrape_no_control_plane_component(stack: str, phase: int) -> None:
    rels = releases(plan_of(stack, phase))
    assert rels
    for rel in rels.values():
        values = rel["values"]
        for key in ("kubeControllerManager", "kubeScheduler", "kubeProxy", "kubeEtcd"):
            assert values[key] == {"enabled": False}, key
        assert values["defaultRules"] == {"rules": {
            "etcd": False, "kubeControllerManager": False, "kubeProxy": False,
            "kubeSchedulerAlerting": False, "kubeSchedulerRecording": False,
        }}  # fmt: skip


def test_existing_cluster_keeps_the_chart_defaults() -> None:
    for rel in releases(plan_of("dev", 1)).values():
        for key in (*mp.MANAGED_OFF, "defaultRules"):
            assert key not in rel["values"], key


@pytest.mark.skipif(not CHART_VALUES.exists(), reason="the pinned chart's values are not beside the project")
def test_the_switched_keys_exist_in_the_pinned_chart() -> None:
    defaults = yaml.safe_load(CHART_VALUES.read_text())
    for key in mp.MANAGED_OFF:
        assert defaults[key]["enabled"] is True, key
    for key in mp.MANAGED_OFF_RULES:
        assert defaults["defaultRules"]["rules"][key] is True, key


def test_without_a_gpu_pool_no_rule_reads_gpu_series() -> None:
    plan = plan_of("dev", 1)
    assert not plan.settings.stack.parts.gpu
    rules = [o for _, o in plan.manifests() if o["kind"] == "PrometheusRule"]
    text = yaml.safe_dump([o["spec"] for o in rules])
    assert "DCGM_FI_DEV_GPU_UTIL" not in text and "vllm:" not in text
    triggers = [r for o in rules for g in o["spec"]["groups"] for r in g["rules"] if r.get("alert") == "PhaseUpgradeRecommended"]
    # Phase 1 -> 2 asks 3 of the 11 conditions; without GPU/LLM-queue signals 3 of the 9 left.
    assert [t["expr"].endswith(">= 3") and t["expr"].count("== 1") == 9 for t in triggers] == [True]
