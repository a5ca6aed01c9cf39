"""StatelessService: exact children, names and the inputs that matter."""

from __future__ import annotations

from typing import Any

from components.service import stateless_plan as sp
from components.service.stateless import IngressOptions, StatelessService, StatelessServiceArgs
from infra import plan as planner


def build(plan: sp.ServicePlan, **kw: Any) -> dict[tuple[str, str], planner.Record]:
    args = StatelessServiceArgs(plan=plan, prometheus_url="http://prom:9090", **kw)
    records = planner.record(lambda: StatelessService("seoul-auth", args))
    return {(r.type, r.name): r for r in records}


def auth(**kw: Any) -> sp.ServicePlan:
    base: dict[str, Any] = dict(
        name="auth", namespace="app", image="reg/auth:1.0", port=8080, min_replicas=2, max_replicas=10,
        cpu_percent=70, callers=("web",), caller_namespaces={"monitoring": "monitoring"},
    )
    base.update(kw)
    return sp.ServicePlan(**base)


def test_cpu_only_service_gets_exactly_these_children() -> None:
    got = build(auth())
    assert sorted(got) == [
        ("kubernetes:apps/v1:Deployment", "seoul-auth"),
        ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "seoul-auth-hpa"),
        ("kubernetes:core/v1:Service", "seoul-auth-svc"),
        ("kubernetes:core/v1:ServiceAccount", "seoul-auth-sa"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-auth-netpol"),
        ("kubernetes:policy/v1:PodDisruptionBudget", "seoul-auth-pdb"),
        ("phasescale:components:StatelessService", "seoul-auth"),
    ]
    for (type_, name), rec in got.items():
        if type_ != "phasescale:components:StatelessService":
            assert rec.parent == "phasescale:components:StatelessService::seoul-auth", name


def test_deployment_is_hardened_and_leaves_replicas_to_the_autoscaler() -> None:
    dep = build(auth())[("kubernetes:apps/v1:Deployment", "seoul-auth")].inputs
    assert "replicas" not in dep["spec"]
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"}}
    pod = dep["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    (c,) = pod["containers"]
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert [t["topologyKey"] for t in pod["topologySpreadConstraints"]] == [
        "topology.kubernetes.io/zone", "kubernetes.io/hostname",
    ]


def test_hpa_bounds_targets_and_behaviour() -> None:
    hpa = build(auth())[("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "seoul-auth-hpa")].inputs["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"] == [
        {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}
    ]
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert hpa["behavior"]["scaleUp"]["stabilizationWindowSeconds"] == 0


def test_custom_metric_switches_to_a_keda_scaledobject_that_owns_the_hpa() -> None:
    metrics = sp.custom_metrics("auth", "app", 500, None, None)
    got = build(auth(custom_metrics=metrics))
    assert ("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "seoul-auth-hpa") not in got
    so = got[("kubernetes:keda.sh/v1alpha1:ScaledObject", "seoul-auth-scaler")].inputs
    assert so["apiVersion"] == "keda.sh/v1alpha1"
    spec = so["spec"]
    assert (spec["minReplicaCount"], spec["maxReplicaCount"]) == (2, 10)
    assert spec["triggers"] == [
        {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "70"}},
        {
            "type": "prometheus", "name": "rps", "metricType": "AverageValue",
            "metadata": {
                "serverAddress": "http://prom:9090",
                "query": 'sum(rate(http_requests_total{namespace="app",service="auth"}[2m]))',
                "threshold": "500",
            },
        },
    ]
    assert "cooldownPeriod" not in spec  # only meaningful with scale to zero


def test_single_replica_service_gets_no_pdb() -> None:
    got = build(auth(min_replicas=1, max_replicas=1))
    assert not [k for k in got if k[0] == "kubernetes:policy/v1:PodDisruptionBudget"]


def test_network_policy_admits_only_declared_callers() -> None:
    np = build(auth())[("kubernetes:networking.k8s.io/v1:NetworkPolicy", "seoul-auth-netpol")].inputs["spec"]
    assert np["policyTypes"] == ["Ingress"]
    assert np["ingress"] == [
        {
            "from": [
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}}},
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}},
            ],
            "ports": [{"protocol": "TCP", "port": 8080}],
        }
    ]


def test_ingress_vpa_and_service_monitor_are_optional_children() -> None:
    ing = IngressOptions("api.example.com", "/auth", "auth-tls", "haproxy", {"haproxy.org/load-balance": "leastconn"})
    got = build(auth(), ingress=ing, vpa=True, service_monitor_labels={"release": "monitoring"})
    rule = got[("kubernetes:networking.k8s.io/v1:Ingress", "seoul-auth-ingress")].inputs
    assert rule["metadata"]["annotations"] == {"haproxy.org/load-balance": "leastconn"}
    assert rule["spec"]["tls"] == [{"hosts": ["api.example.com"], "secretName": "auth-tls"}]
    assert rule["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/auth"
    vpa = got[("kubernetes:autoscaling.k8s.io/v1:VerticalPodAutoscaler", "seoul-auth-vpa")].inputs
    assert vpa["spec"]["updatePolicy"] == {"updateMode": "Off"}
    mon = got[("kubernetes:monitoring.coreos.com/v1:ServiceMonitor", "seoul-auth-monitor")].inputs
    assert mon["metadata"]["labels"]["release"] == "monitoring"
    assert mon["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]


def test_scaling_validation_messages() -> None:
    assert [p.render() for p in sp.validate(auth(min_replicas=0), "phasescale:services.auth")] == [
        "phasescale:services.auth.replicas.min: got 0; 0 needs autoscaling.scaleToZero: true (KEDA scales to zero); else 1 or more"
    ]
    assert [p.render() for p in sp.validate(auth(min_replicas=0, scale_to_zero=True), "p")] == [
        "p.autoscaling.scaleToZero: got true; needs a custom metric (rpsPerPod, concurrentUsersPerPod or "
        "queueLengthPerPod): CPU and memory cannot wake a service from zero"
    ]
    assert [p.render() for p in sp.validate(auth(min_replicas=3, max_replicas=2), "p")] == [
        "p.replicas: got {'min': 3, 'max': 2}; min must not be above max"
    ]
