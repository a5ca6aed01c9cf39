"""Whole stacks: every stack file at every phase, the seed ERP table, and config errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from components.problems import ConfigError
from infra import plan as planner
from infra.__main__ import main
from tests.planning import PHASES, STACKS, k8s_objects, plan_of


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("phase", PHASES)
def test_every_stack_builds_at_every_phase(stack: str, phase: int) -> None:
    plan = plan_of(stack, phase)
    assert plan.settings.phase == phase
    names = [r.name for r in plan.records]
    assert len(plan.records) > 10
    # Resource names never carry the phase: a phase change must not rename (replace) anything.
    assert not [n for n in names if re.search(r"phase(?!scale)|mvp|growth|enterprise", n)]
    keys = [r.key for r in plan.records]
    assert len(keys) == len(set(keys)), "two resources share type, name and parent"


def _bounds(plan: planner.Plan) -> dict[str, tuple[int, int, list[str]]]:
    out = {}
    for obj in k8s_objects(plan, "HorizontalPodAutoscaler").values():
        s = obj["spec"]
        signals = [f"{m['resource']['name']} {m['resource']['target']['averageUtilization']}%" for m in s["metrics"]]
        out[s["scaleTargetRef"]["name"]] = (s["minReplicas"], s["maxReplicas"], signals)
    for obj in k8s_objects(plan, "ScaledObject").values():
        s = obj["spec"]
        signals = []
        for t in s["triggers"]:
            if t["type"] == "prometheus":
                signals.append(f"{t['name']} {t['metadata']['threshold']}/pod")
            else:
                signals.append(f"{t['type']} {t['metadata']['value']}%")
        out[s["scaleTargetRef"]["name"]] = (s["minReplicaCount"], s["maxReplicaCount"], signals)
    return {k: v for k, v in out.items() if k in plan.settings.stack.services}


def test_prod_shows_exactly_the_seed_erp_table() -> None:
    assert _bounds(plan_of("prod")) == {
        "auth-service": (2, 10, ["cpu 70%", "rps 500/pod"]),
        "system-service": (2, 5, ["cpu 70%"]),
        "hr-service": (1, 5, ["cpu 80%"]),
        "finance-service": (1, 5, ["cpu 80%"]),
        "general-service": (1, 5, ["cpu 80%"]),
        "web-admin": (2, 8, ["cpu 60%", "concurrent-users 500/pod"]),
        "ai-service": (2, 5, ["cpu 70%", "queue-length 100/pod"]),
    }


def test_catalog_bounds_follow_the_phase_for_services_without_their_own() -> None:
    got = {phase: _bounds(plan_of("prod-aws", phase))["web"][:2] for phase in PHASES}
    assert got == {1: (1, 3), 2: (2, 8), 3: (2, 15), 4: (3, 50)}


def test_phase_four_deploys_every_region_and_lower_phases_only_the_first() -> None:
    for stack in ("prod", "prod-aws"):
        clusters = {p: sorted({c for c, _ in plan_of(stack, p).manifests()}) for p in PHASES}
        assert clusters[3] == ["seoul-k8s"]
        assert clusters[4] == ["seoul-k8s", "tokyo-k8s"]


def test_changing_only_the_phase_changes_only_sizes() -> None:
    """Between phases 3 and 4 of prod-aws, everything kept keeps its name; what changes is sizes,
    and the second region is created."""
    from infra.diff import diff

    d = diff(plan_of("prod-aws", 3), plan_of("prod-aws", 4))
    assert not d.deleted and not d.replaced
    changed = {(b.type, b.name): paths for _, b, paths in d.changed}
    assert changed[("aws:eks/nodeGroup:NodeGroup", "prod-aws-seoul-system")] == ["scalingConfig.maxSize"]
    assert changed[("kubernetes:keda.sh/v1alpha1:ScaledObject", "seoul-api-scaler")] == [
        "spec.maxReplicaCount", "spec.minReplicaCount",
    ]
    assert changed[("aws:elasticache/replicationGroup:ReplicationGroup", "seoul-redis")] == ["numNodeGroups"]
    assert ("aws:eks/cluster:Cluster", "prod-aws-tokyo") in {(r.type, r.name) for r in d.created}


def test_phase_two_to_three_names_exactly_the_declared_migrations() -> None:
    from infra.diff import diff

    assert diff(plan_of("prod-aws", 2), plan_of("prod-aws", 3)).stateful_risks == [
        "STATEFUL REPLACE kubernetes:milvus.io/v1beta1:Milvus seoul-milvus on spec.mode "
        "(stateful: data is lost unless migrated first)",
        "STATEFUL REPLACE aws:elasticache/replicationGroup:ReplicationGroup seoul-redis on clusterMode "
        "(stateful: data is lost unless migrated first)",
    ]


def test_gke_cluster_is_private_regional_with_workload_identity() -> None:
    plan = plan_of("prod")
    cluster = plan.named("gcp:container/cluster:Cluster", "prod-seoul").inputs
    assert cluster["location"] == "asia-northeast3"
    assert cluster["releaseChannel"] == {"channel": "REGULAR"}
    assert cluster["workloadIdentityConfig"] == {"workloadPool": "phasescale-prod.svc.id.goog"}
    assert cluster["privateClusterConfig"]["enablePrivateNodes"] is True
    assert cluster["deletionProtection"] is True
    assert cluster["datapathProvider"] == "ADVANCED_DATAPATH"
    assert cluster["verticalPodAutoscaling"] == {"enabled": True}
    assert cluster["removeDefaultNodePool"] is True
    pool = plan.named("gcp:container/nodePool:NodePool", "prod-seoul-system").inputs
    assert pool["autoscaling"]["minNodeCount"] == 2 and pool["autoscaling"]["maxNodeCount"] == 6
    assert pool["nodeConfig"]["workloadMetadataConfig"] == {"mode": "GKE_METADATA"}
    subnet = plan.named("gcp:compute/subnetwork:Subnetwork", "prod-seoul-subnet").inputs
    assert [r["rangeName"] for r in subnet["secondaryIpRanges"]] == ["pods", "services"]


def test_eks_cluster_has_two_or_more_zones_oidc_and_al2023_nodes() -> None:
    plan = plan_of("prod-aws")
    subnets = [r for r in plan.of_type("aws:ec2/subnet:Subnet") if r.name.startswith("prod-aws-seoul-")]
    zones = {r.inputs["availabilityZone"] for r in subnets}
    assert zones == {"ap-northeast-2a", "ap-northeast-2b", "ap-northeast-2c"}
    assert {r.inputs["tags"].get("kubernetes.io/role/elb") for r in subnets} == {"1", None}
    oidc = plan.named("aws:iam/openIdConnectProvider:OpenIdConnectProvider", "prod-aws-seoul-oidc").inputs
    assert oidc["clientIdLists"] == ["sts.amazonaws.com"]
    ng = plan.named("aws:eks/nodeGroup:NodeGroup", "prod-aws-seoul-system").inputs
    assert ng["amiType"] == "AL2023_x86_64_STANDARD" and ng["capacityType"] == "ON_DEMAND"
    cluster = plan.named("aws:eks/cluster:Cluster", "prod-aws-seoul").inputs
    assert cluster["encryptionConfig"]["resources"] == ["secrets"]
    assert cluster["vpcConfig"]["publicAccessCidrs"] == ["203.0.113.0/24"]
    releases = {rel["name"]: rel for _, rel in plan.helm_releases()}
    assert set(releases) >= {"keda", "metrics-server", "cluster-autoscaler", "haproxy-ingress"}


def test_one_kubernetes_provider_per_cluster_used_by_every_kubernetes_object() -> None:
    plan = plan_of("prod", 4)
    providers = sorted(r.name for r in plan.of_type("pulumi:providers:kubernetes"))
    assert providers == ["seoul-k8s", "tokyo-k8s"]
    k8s_records = [r for r in plan.records if r.custom and r.type.startswith("kubernetes:")]
    assert {r.provider for r in k8s_records} == {"seoul-k8s", "tokyo-k8s"}


def test_helm_charts_are_pinned_exactly() -> None:
    for _, rel in plan_of("prod-aws", 4).helm_releases():
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", rel["version"]), rel


def _bad_stack(tmp_path: Path) -> Path:
    (tmp_path / "Pulumi.bad.yaml").write_text(
        "config:\n"
        "  phasescale:phase: 2\n"
        "  phasescale:cluster: {target: existing}\n"
        "  phasescale:regions: {local: {location: local, kubeContext: kind}}\n"
        "  phasescale:services:\n"
        "    api: {image: 'x:1', replicas: {min: 9, max: 3}, porte: 80}\n"
    )
    return tmp_path


def test_config_error_registers_nothing(tmp_path: Path) -> None:
    root = _bad_stack(tmp_path)
    with pytest.raises(ConfigError) as err:
        planner.run("bad", None, root)
    assert len(err.value.problems) == 2


def test_cli_reports_config_errors_with_exit_2_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _bad_stack(tmp_path)
    assert main(["plan", "--stack", "bad", "--dir", str(root), "--out", str(tmp_path / "out")]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        "2 config problem(s):",
        "  - phasescale:services.api.porte: got 80; unknown key (misspelled?); see the config reference in README.md",
        "  - phasescale:services.api.replicas: got {'min': 9, 'max': 3}; min (9) must not be above max (3)",
    ]
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_writes_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--stack", "dev", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stack dev: phase 1, target existing, regions local\n")
    assert "  service api: 1-3 replicas on cpu 70% or memory 80% (HPA)" in out
    dep = (tmp_path / "manifests/local-k8s/phasescale/Deployment-api.yaml").read_text()
    assert "containerPort: 8080\n" in dep  # integers stay integers
    assert (tmp_path / "helm/local-k8s/keda.yaml").read_text().startswith("release: keda\nchart: keda\n")
    assert (tmp_path / "resources.json").exists()
