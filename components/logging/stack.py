"""LoggingStack: the logging part of one region, with the backend its plan names.

- eck: the ECK operator (Helm), an ``Elasticsearch`` and a ``Kibana`` in ``logging``, a Filebeat
  ``Beat`` DaemonSet in ``log-shipper`` with its ServiceAccount, RBAC and the ILM policy ConfigMap.
- loki: the Loki release in ``logging``, the Alloy release in ``log-shipper``, and (with monitoring) a
  Grafana datasource ConfigMap in the monitoring namespace.

Both: two namespaces (the shipper's is ``privileged``: hostPath and root; ``logging`` enforces
``baseline`` and warns on ``restricted``), NetworkPolicies (ingress) on every workload. Stateful: the
``logging`` namespace and the Elasticsearch CR are registered with ``protect`` in production.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import kube
from components.helm import release
from components.logging import eck_plan as ep
from components.logging import loki_plan as lp
from components.logging import rules
from components.logging.plan import (
    NAME,
    NAMESPACE,
    OPERATOR_NAMESPACE,
    SHIPPER_NAMESPACE,
    Backend,
    LoggingPlan,
)

TYPE = "phasescale:components:LoggingStack"
SHIPPER_SA = "filebeat"
ILM_CONFIG_MAP = "filebeat-ilm-policy"


def _pod_security(enforce: str) -> dict[str, str]:
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


@dataclass(frozen=True)
class LoggingStackArgs:
    plan: LoggingPlan
    service_account_annotations: dict[str, pulumi.Input[str]] | None = None
    """Loki's cloud identity: ``iam.gke.io/gcp-service-account`` or ``eks.amazonaws.com/role-arn``."""
    protect: bool = False


class LoggingStack(pulumi.ComponentResource):
    def __init__(self, name: str, args: LoggingStackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        self._name = name
        self._deps = list((opts.depends_on if opts and isinstance(opts.depends_on, list) else None) or [])
        self._labels = kube.labels(NAME, "logging")
        self.namespace = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={"name": NAMESPACE, "labels": {**self._labels, **_pod_security("baseline")}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._deps, protect=args.protect),
        )
        self.shipper_namespace = k8s.core.v1.Namespace(
            f"{name}-shipper-ns",
            # hostPath volumes and UID 0: refused by baseline, so this namespace holds the shipper only.
            metadata={"name": SHIPPER_NAMESPACE, "labels": {**self._labels, **_pod_security("privileged")}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=self._deps),
        )
        if plan.backend is Backend.ECK:
            self._eck(plan, args.protect)
        else:
            self._loki(plan, args.service_account_annotations)
        self.register_outputs({"backend": plan.backend.value, "retentionDays": plan.retention_days})

    def _in(self, *extra: pulumi.Resource, protect: bool = False) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(
            parent=self, depends_on=[*self._deps, self.namespace, self.shipper_namespace, *extra], protect=protect
        )

    def _meta(self, name: str, namespace: str) -> dict[str, object]:
        return {"name": name, "namespace": namespace, "labels": self._labels}

    def _policy(self, key: str, name: str, namespace: str, spec: dict[str, object]) -> None:
        k8s.networking.v1.NetworkPolicy(f"{self._name}-{key}-netpol", metadata=self._meta(name, namespace), spec=spec,
                                        opts=self._in())

    def _eck(self, plan: LoggingPlan, protect: bool) -> None:
        n = self._name
        operator = release(f"{n}-eck-operator", "eck-operator", OPERATOR_NAMESPACE, ep.operator_values(),
                           pulumi.ResourceOptions(parent=self, depends_on=self._deps))
        self.elasticsearch = k8s.apiextensions.CustomResource(
            f"{n}-es", api_version=ep.ES_API, kind="Elasticsearch", metadata=self._meta(NAME, NAMESPACE),
            spec=ep.elasticsearch_spec(plan), opts=self._in(operator, protect=protect),
        )
        k8s.apiextensions.CustomResource(
            f"{n}-kibana", api_version=ep.KIBANA_API, kind="Kibana", metadata=self._meta(NAME, NAMESPACE),
            spec=ep.kibana_spec(plan), opts=self._in(operator, self.elasticsearch),
        )
        if plan.kibana_replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(f"{n}-kibana-pdb", metadata=self._meta(f"{NAME}-kibana", NAMESPACE),
                                              spec=ep.kibana_pdb(), opts=self._in())
        sa = k8s.core.v1.ServiceAccount(f"{n}-filebeat-sa", metadata=self._meta(SHIPPER_SA, SHIPPER_NAMESPACE),
                                        opts=self._in())
        role = k8s.rbac.v1.ClusterRole(f"{n}-filebeat", metadata={"name": "phasescale-filebeat", "labels": self._labels},
                                       rules=ep.shipper_rules(), opts=self._in())
        k8s.rbac.v1.ClusterRoleBinding(
            f"{n}-filebeat", metadata={"name": "phasescale-filebeat", "labels": self._labels},
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "phasescale-filebeat"},
            subjects=[{"kind": "ServiceAccount", "name": SHIPPER_SA, "namespace": SHIPPER_NAMESPACE}],
            opts=self._in(role, sa),
        )
        ilm = k8s.core.v1.ConfigMap(f"{n}-ilm", metadata=self._meta(ILM_CONFIG_MAP, SHIPPER_NAMESPACE),
                                    data={ep.ILM_FILE: ep.ilm_policy_json(plan)}, opts=self._in())
        k8s.apiextensions.CustomResource(
            f"{n}-filebeat", api_version=ep.BEAT_API, kind="Beat", metadata=self._meta(NAME, SHIPPER_NAMESPACE),
            spec=ep.beat_spec(plan, SHIPPER_SA, ILM_CONFIG_MAP), opts=self._in(operator, self.elasticsearch, sa, ilm),
        )
        for key, spec in ep.network_policies(plan).items():
            self._policy(key, f"{NAME}-{key}", NAMESPACE, spec)
        self._policy("filebeat", f"{NAME}-filebeat", SHIPPER_NAMESPACE, ep.shipper_network_policy())

    def _loki(self, plan: LoggingPlan, annotations: dict[str, pulumi.Input[str]] | None) -> None:
        n = self._name
        loki = release(f"{n}-loki", "loki", NAMESPACE, lp.loki_values(plan, annotations), self._in(),
                       create_namespace=False)
        release(f"{n}-alloy", "alloy", SHIPPER_NAMESPACE, lp.alloy_values(plan), self._in(loki),
                create_namespace=False)
        self._policy("loki", lp.RELEASE, NAMESPACE, lp.network_policies(plan))
        self._policy("alloy", lp.ALLOY_RELEASE, SHIPPER_NAMESPACE, lp.shipper_network_policy(plan))
        if plan.monitoring:
            rule = rules.prometheus_rule(dict(plan.monitor_labels))
            k8s.apiextensions.CustomResource(
                f"{n}-rules", api_version="monitoring.coreos.com/v1", kind="PrometheusRule",
                metadata=rule["metadata"], spec=rule["spec"], opts=self._in(),
            )
            k8s.core.v1.ConfigMap(
                f"{n}-grafana-datasource",
                metadata={"name": "loki-datasource", "namespace": plan.monitoring_namespace,
                          "labels": {**self._labels, **lp.DATASOURCE_LABEL}},
                data={"loki-datasource.yaml": lp.datasource_config_map_data()},
                opts=self._in(loki),
            )
