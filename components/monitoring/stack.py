"""MonitoringStack: kube-prometheus-stack (Prometheus, Alertmanager, Grafana, node exporter,
kube-state-metrics) as one exact-pinned Helm release, the stack's PrometheusRules, the Slack webhook
Secret Alertmanager reads, and the dashboards Grafana's sidecar provisions.

Children: the ``monitoring`` Namespace (Pod Security ``privileged``: node exporter needs the host's
network, PID namespace and root filesystem), ``<name>-slack`` (Secret, when a webhook URL is given),
``<name>`` (the Helm release), ``<name>-rules`` (the PrometheusRule ``phasescale``, every rule group) and
``<name>-dashboard-<uid>`` (ConfigMaps labelled ``grafana_dashboard: "1"``). The rules wait
for the release (its CRDs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.helm import release
from components.monitoring import dashboards as md
from components.monitoring import plan as mp

TYPE = "phasescale:components:MonitoringStack"
CHART_KEY = "kube-prometheus-stack"


@dataclass(frozen=True)
class MonitoringStackArgs:
    plan: mp.MonitoringPlan
    slack_webhook_url: pulumi.Input[str] | None = None
    """The Slack incoming-webhook URL (a secret Output); required when ``plan.slack``."""


class MonitoringStack(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        if plan.slack and args.slack_webhook_url is None:
            raise ValueError("plan.slack needs slack_webhook_url")
        child = pulumi.ResourceOptions(parent=self)
        ns = plan.namespace
        labels = kube.labels(mp.RELEASE, "monitoring")

        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": ns,
                "labels": {
                    **labels,
                    "pod-security.kubernetes.io/enforce": "privileged",
                    "pod-security.kubernetes.io/enforce-version": "latest",
                },
            },
            opts=child,
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[self.namespace])
        secrets: list[pulumi.Resource] = []
        if plan.slack:
            secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-slack",
                    metadata={"name": mp.SLACK_SECRET, "namespace": ns, "labels": labels},
                    type="Opaque",
                    string_data={mp.SLACK_KEY: pulumi.Output.secret(args.slack_webhook_url)},
                    opts=in_ns,
                )
            )
        self.release = release(
            name,
            CHART_KEY,
            ns,
            mp.helm_values(plan),
            pulumi.ResourceOptions(parent=self, depends_on=[self.namespace, *secrets]),
            release_name=mp.RELEASE,  # the release name decides the selectors' label (monitoring_plan)
            create_namespace=False,
        )
        rule = mp.prometheus_rule(plan)
        self.rules = k8s.apiextensions.CustomResource(
            f"{name}-rules",
            api_version=rule["apiVersion"],
            kind=rule["kind"],
            metadata=rule["metadata"],
            spec=rule["spec"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.release]),
        )
        for key, board in md.dashboards(plan).items():
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard-{board['uid']}",
                metadata={"name": board["uid"], "namespace": ns, "labels": {**labels, **mp.DASHBOARD_LABEL}},
                data={key: json.dumps(board, indent=1, sort_keys=True)},
                opts=in_ns,
            )
        self.register_outputs({"release": self.release.name, "namespace": ns})
