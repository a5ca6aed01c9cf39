"""CloudRunService: a stateless service on Cloud Run v2, for phase-1 teams starting serverless on GCP.

Sizes follow the seeds: 0-3 / 1-8 / 2-15 instances by phase, 100 concurrent requests per instance,
2 vCPU and 4 GiB, 300 s timeout (001).

With ``vpc`` the service sends private-range traffic into the region's GKE VPC by Direct VPC egress
(``template.vpcAccess``: one network interface, network and subnetwork, egress PRIVATE_RANGES_ONLY;
pulumi-gcp 10.2.0 ``cloudrunv2.Service`` ``ServiceTemplateVpcAccessArgs``) and reads its connection
settings as env: constants as values, addresses and credentials as Secret Manager references
(``valueSource.secretKeyRef`` with the secret and the version number, so a new value rolls a new
revision: env secrets are resolved at instance start-up, and Google recommends pinning a version
rather than ``latest``; Cloud Run docs, "Configure secrets for services"). Its own service account
gets ``roles/secretmanager.secretAccessor`` on exactly the secrets it reads, granted before the
service (a deployment checks that the account can read every secret it names, same page), and
``roles/redis.dbConnectionUser`` when the cache is a Memorystore cluster (IAM auth: the app sends
an access token of this account as the AUTH password). Memorystore is reached on its authorized
network by Direct VPC egress (Cloud Run docs, "Connect to a Redis instance from a Cloud Run service").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.sdk import gcp
from components.service import cloud_run_plan as crp

TYPE = "phasescale:components:CloudRunService"


@dataclass(frozen=True)
class VpcAccess:
    """Direct VPC egress and the connection settings of one service in one region."""

    network: pulumi.Input[str]
    subnetwork: pulumi.Input[str]
    env: Sequence[crp.EnvVar] = ()
    secrets: Mapping[tuple[str, str], Any] | None = None
    """The region's ``gcp.secretmanager.Secret`` by ``(part, key)`` (``CloudRunAccess.secrets``)."""
    versions: Mapping[tuple[str, str], Any] | None = None
    iam_roles: Sequence[str] = ()
    """Project roles of the service account (``roles/redis.dbConnectionUser`` for IAM auth)."""


@dataclass(frozen=True)
class CloudRunServiceArgs:
    service: str
    project: str
    location: str
    image: str
    port: int
    min_instances: int
    max_instances: int
    concurrency: int
    cpu: str
    memory: str
    timeout_s: int
    health_path: str
    env: tuple[tuple[str, str], ...] = ()
    deletion_protection: bool = False
    vpc: VpcAccess | None = None
    account_id: str | None = None
    """The service account id; default ``run-<service>`` (``cloud_run_plan.account_id``)."""


class CloudRunService(pulumi.ComponentResource):
    def __init__(self, name: str, args: CloudRunServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=args.account_id or f"run-{args.service}"[:30],
            display_name=f"Cloud Run service {args.service}",
            opts=child,
        )
        envs: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in args.env]
        template: dict[str, Any] = {}
        grants: list[pulumi.Resource] = []
        startup: dict[str, Any] = {"http_get": {"path": args.health_path}}
        if args.vpc is not None:
            envs += self._connection_env(name, args, args.vpc, grants)
            template["vpc_access"] = {
                "network_interfaces": [{"network": args.vpc.network, "subnetwork": args.vpc.subnetwork}],
                "egress": crp.EGRESS,
            }
            startup.update(period_seconds=10, failure_threshold=crp.STARTUP_FAILURES)
        self.service = gcp.cloudrunv2.Service(
            name,
            name=args.service,
            project=args.project,
            location=args.location,
            ingress="INGRESS_TRAFFIC_ALL",
            deletion_protection=args.deletion_protection,
            template={
                "service_account": self.account.email,
                "timeout": f"{args.timeout_s}s",
                "max_instance_request_concurrency": args.concurrency,
                "scaling": {"min_instance_count": args.min_instances, "max_instance_count": args.max_instances},
                **template,
                "containers": [
                    {
                        "image": args.image,
                        "ports": {"container_port": args.port},
                        "resources": {
                            "limits": {"cpu": args.cpu, "memory": args.memory},
                            "cpu_idle": True,
                            "startup_cpu_boost": True,
                        },
                        "envs": envs,
                        "startup_probe": startup,
                        "liveness_probe": {"http_get": {"path": args.health_path}},
                    }
                ],
            },
            # A revision that reads a secret its account may not access fails to deploy: grants first.
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
        )
        self.register_outputs({"uri": self.service.uri})

    def _connection_env(
        self, name: str, args: CloudRunServiceArgs, vpc: VpcAccess, grants: list[pulumi.Resource]
    ) -> list[dict[str, Any]]:
        """The env entries of the connection settings; appends the IAM grants they need to ``grants``."""
        child = pulumi.ResourceOptions(parent=self)
        member = self.account.email.apply(lambda e: f"serviceAccount:{e}")
        out: list[dict[str, Any]] = []
        for var in vpc.env:
            if var.secret is None:
                out.append({"name": var.name, "value": var.value})
                continue
            assert vpc.secrets is not None and vpc.versions is not None
            part, key = var.secret
            secret, version = vpc.secrets[var.secret], vpc.versions[var.secret]
            grants.append(gcp.secretmanager.SecretIamMember(
                f"{name}-{part}-{key.replace('.', '-')}-access",
                project=args.project,
                secret_id=secret.secret_id,
                role=crp.SECRET_ACCESSOR,
                member=member,
                opts=child,
            ))
            out.append({"name": var.name, "value_source": {"secret_key_ref": {
                "secret": secret.secret_id, "version": version.version,
            }}})
        for role in vpc.iam_roles:
            grants.append(gcp.projects.IAMMember(
                f"{name}-{role.split('/')[1].replace('.', '-').lower()}",
                project=args.project, role=role, member=member, opts=child,
            ))
        return out
