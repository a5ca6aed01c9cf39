"""CloudRunService: a stateless service on Cloud Run v2, for phase-1 teams starting serverless on GCP.

Sizes follow the seeds: 0-3 / 1-8 / 2-15 instances by phase, 100 concurrent requests per instance,
2 vCPU and 4 GiB, 300 s timeout (001).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components.sdk import gcp

TYPE = "phasescale:components:CloudRunService"


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


class CloudRunService(pulumi.ComponentResource):
    def __init__(self, name: str, args: CloudRunServiceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{name}-sa",
            project=args.project,
            account_id=f"run-{args.service}"[:30],
            display_name=f"Cloud Run service {args.service}",
            opts=child,
        )
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
                "containers": [
                    {
                        "image": args.image,
                        "ports": {"container_port": args.port},
                        "resources": {
                            "limits": {"cpu": args.cpu, "memory": args.memory},
                            "cpu_idle": True,
                            "startup_cpu_boost": True,
                        },
                        "envs": [{"name": k, "value": v} for k, v in args.env],
                        "startup_probe": {"http_get": {"path": args.health_path}},
                        "liveness_probe": {"http_get": {"path": args.health_path}},
                    }
                ],
            },
            opts=child,
        )
        self.register_outputs({"uri": self.service.uri})
