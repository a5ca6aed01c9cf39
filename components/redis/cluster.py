"""RedisCluster: one region's Redis, standalone, replication with Sentinel, or cluster mode.

- engine ``operator``: OT redis-operator custom resources (Redis / RedisReplication + RedisSentinel /
  RedisCluster), a password Secret, the redis.conf additions (ConfigMap), a NetworkPolicy and a
  PodMonitor for the exporter. The operator release must exist first (pass it in ``depends_on``).
- engine ``memorystore``: gcp.redis.Instance (standalone, replication) or gcp.redis.Cluster.
- engine ``elasticache``: aws.elasticache.ReplicationGroup with its subnet, security and parameter groups.

With ``monitor_labels`` and ``exporter_image`` a managed cache gets a redis_exporter
(:class:`~components.monitoring.exporters.ManagedExporter`, ``<name>-exporter``) against its
endpoint, over TLS, with the credentials of its connection Secret; except Memorystore cluster mode,
whose IAM auth redis_exporter cannot do (it sends a static password, no refreshed access token).

The data resource is named after the component (``{region}-redis``) in every mode; the mode shows in
its kind (or tier), so a mode change is a replacement the diff names, and ``protect`` refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.eks import VpcPlacement, vpc_only_security_group
from components.monitoring import exporters_plan as xp
from components.monitoring.exporters import ManagedExporter, ManagedExporterArgs
from components.redis import connection as rc
from components.redis import managed as rm
from components.redis import operator as ro
from components.redis import plan as rp
from components.sdk import aws, gcp

TYPE = "phasescale:components:RedisCluster"


@dataclass(frozen=True)
class MemorystoreOptions:
    project: str
    region: str
    network: pulumi.Input[str]
    """The VPC the GKE cluster runs in (clients reach Memorystore from there)."""
    subnetwork: pulumi.Input[str]
    """Subnet for the cluster mode's Private Service Connect endpoints."""


@dataclass(frozen=True)
class RedisClusterArgs:
    plan: rp.RedisPlan
    cloud_name: str = "redis"
    """Physical name of managed resources (unique per project/account and region)."""
    password: pulumi.Input[str] | None = None
    """AUTH password (operator, elasticache); Memorystore generates its own."""
    monitor_labels: dict[str, str] | None = None
    """Labels Prometheus selects monitors by; ``None`` creates no PodMonitor (operator) and no
    exporter (managed engines)."""
    memorystore: MemorystoreOptions | None = None
    elasticache: VpcPlacement | None = None
    protect: bool = False
    """Protect the data resource from deletion and replacement (production)."""
    exporter_image: str | None = None
    """Managed engines, with ``monitor_labels``: the redis_exporter image (see the module doc)."""


class RedisCluster(pulumi.ComponentResource):
    endpoint: pulumi.Output[str]
    export_identity: pulumi.Output[str] | None = None
    """Memorystore basic/HA: the identity the instance exports RDB files to Cloud Storage as."""

    def __init__(self, name: str, args: RedisClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(TYPE, name, None, opts)
        plan = args.plan
        self._child = pulumi.ResourceOptions(parent=self)
        self._data = pulumi.ResourceOptions(parent=self, protect=args.protect)
        if plan.engine is rp.Engine.OPERATOR:
            self.endpoint = pulumi.Output.from_input(f"{plan.endpoint}.{plan.namespace}.svc:{rp.REDIS_PORT}")
            self._operator(name, args)
        elif plan.engine is rp.Engine.MEMORYSTORE:
            assert args.memorystore is not None
            self._memorystore(name, args, args.memorystore)
        else:
            assert args.elasticache is not None
            self._elasticache(name, args, args.elasticache)
        self.register_outputs({"endpoint": self.endpoint})

    def _connection_secret(
        self, name: str, plan: rp.RedisPlan, host: pulumi.Input[str], port: pulumi.Input[int],
        password: pulumi.Input[str] | None, ca: pulumi.Input[str] | None = None,
    ) -> None:
        """``redis-connection`` in the app namespace: what services with ``cache`` read REDIS_* from."""
        secret_password: pulumi.Output[str] | None = None
        if password is not None:
            text: pulumi.Output[str] = pulumi.Output.from_input(password).apply(lambda p: p or "")
            secret_password = pulumi.Output.secret(text)
        text_port = pulumi.Output.from_input(port).apply(lambda p: str(p or rp.REDIS_PORT))
        data = rc.connection_data(plan, pulumi.Output.from_input(host).apply(lambda h: h or ""), text_port,
                                  secret_password, ca)
        self.connection_data: dict[str, Any] = data
        """The Secret's values (Cloud Run reads the same ones from Secret Manager)."""
        self.connection_secret = k8s.core.v1.Secret(
            f"{name}-connection",
            metadata={"name": rc.secret_name(plan), "namespace": plan.namespace, "labels": ro.labels(plan)},
            type="Opaque",
            string_data=data,
            opts=self._child,
        )

    def _operator(self, name: str, args: RedisClusterArgs) -> None:
        plan = args.plan

        def meta(k8s_name: str) -> dict[str, object]:
            return {"name": k8s_name, "namespace": plan.namespace, "labels": ro.labels(plan, k8s_name)}

        secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata=meta(plan.secret_name),
            type="Opaque",
            string_data={"password": pulumi.Output.secret(args.password or "")},
            opts=self._child,
        )
        config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(plan.config_name), data=ro.config_map_data(plan), opts=self._child
        )
        after = pulumi.ResourceOptions(depends_on=[secret, config])
        self._connection_secret(
            name, plan, f"{plan.endpoint}.{plan.namespace}.svc", rp.REDIS_PORT, args.password or ""
        )
        self.data = k8s.apiextensions.CustomResource(
            name,
            api_version=ro.API,
            kind=plan.kind,
            metadata=meta(plan.name),
            spec=ro.data_spec(plan),
            opts=pulumi.ResourceOptions.merge(self._data, after),
        )
        if plan.mode is rp.Mode.REPLICATION:
            k8s.apiextensions.CustomResource(
                f"{name}-sentinel",
                api_version=ro.API,
                kind="RedisSentinel",
                metadata=meta(plan.sentinel_name),
                spec=ro.sentinel_spec(plan),
                opts=pulumi.ResourceOptions.merge(
                    self._child, pulumi.ResourceOptions(depends_on=[self.data])
                ),
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-netpol", metadata=meta(plan.name), spec=ro.network_policy_spec(plan), opts=self._child
        )
        if args.monitor_labels is not None:
            k8s.apiextensions.CustomResource(
                f"{name}-monitor",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata={**meta(plan.name), "labels": {**ro.labels(plan), **args.monitor_labels}},
                spec=ro.pod_monitor_spec(plan),
                opts=self._child,
            )

    def _memorystore(self, name: str, args: RedisClusterArgs, gcp_opts: MemorystoreOptions) -> None:
        plan = args.plan
        if plan.mode is rp.Mode.CLUSTER:
            policy = gcp.networkconnectivity.ServiceConnectionPolicy(
                f"{name}-psc",
                name=f"{args.cloud_name}-psc",
                project=gcp_opts.project,
                location=gcp_opts.region,
                service_class="gcp-memorystore-redis",
                network=gcp_opts.network,
                psc_config={"subnetworks": [gcp_opts.subnetwork]},
                opts=self._child,
            )
            cluster = gcp.redis.Cluster(
                name,
                name=args.cloud_name,
                project=gcp_opts.project,
                region=gcp_opts.region,
                psc_configs=[{"network": gcp_opts.network}],
                deletion_protection_enabled=args.protect,
                **rm.memorystore_cluster_args(plan),  # type: ignore[arg-type]
                opts=pulumi.ResourceOptions.merge(self._data, pulumi.ResourceOptions(depends_on=[policy])),
            )
            self.data = cluster
            self.endpoint = cluster.discovery_endpoints.apply(
                lambda eps: f"{eps[0].address}:{eps[0].port}" if eps else ""
            )
            # IAM auth: no password; TLS with the cluster's managed CA (the whole chain).
            self._connection_secret(
                name, plan,
                cluster.discovery_endpoints.apply(lambda eps: eps[0].address if eps else ""),
                cluster.discovery_endpoints.apply(lambda eps: eps[0].port if eps else rp.REDIS_PORT),
                None,
                cluster.managed_server_cas.apply(
                    lambda cas: "\n".join(c for ca in cas or [] for cert in ca.ca_certs or [] for c in cert.certificates or [])
                ),
            )
            return
        instance = gcp.redis.Instance(
            name,
            name=args.cloud_name,
            project=gcp_opts.project,
            region=gcp_opts.region,
            authorized_network=gcp_opts.network,
            deletion_protection=args.protect,
            **rm.memorystore_instance_args(plan),  # type: ignore[arg-type]
            opts=self._data,
        )
        self.data = instance
        self.export_identity = instance.persistence_iam_identity
        self.endpoint = pulumi.Output.all(instance.host, instance.port).apply(lambda a: f"{a[0]}:{a[1]}")
        # AUTH string generated by Memorystore (auth_enabled) and the CA of its TLS (SERVER_AUTHENTICATION).
        self._connection_secret(
            name, plan, instance.host, instance.port, instance.auth_string,
            instance.server_ca_certs.apply(lambda certs: "\n".join(c.cert for c in certs or [] if c.cert)),
        )
        self._exporter(name, args, instance.host, instance.port, instance.auth_string,
                       instance.server_ca_certs.apply(lambda certs: "\n".join(c.cert for c in certs or [] if c.cert)))

    def _elasticache(self, name: str, args: RedisClusterArgs, aws_opts: VpcPlacement) -> None:
        plan = args.plan
        subnets = aws.elasticache.SubnetGroup(
            f"{name}-subnets",
            description=f"{args.cloud_name}: private subnets of the EKS VPC",
            subnet_ids=list(aws_opts.subnet_ids),
            opts=self._child,
        )
        group = vpc_only_security_group(
            f"{name}-sg", f"{args.cloud_name}: Redis from the VPC only", aws_opts.vpc_id, aws_opts.vpc_cidr,
            rp.REDIS_PORT, "Redis clients in the VPC", self._child,
        )
        params = aws.elasticache.ParameterGroup(
            f"{name}-params",
            family=rm.ELASTICACHE_FAMILY,
            description=f"{args.cloud_name}: eviction policy and mode",
            parameters=rm.elasticache_parameters(plan),
            opts=self._child,
        )
        rg = aws.elasticache.ReplicationGroup(
            name,
            replication_group_id=args.cloud_name,
            description=f"phasescale Redis ({plan.mode.value})",
            auth_token=pulumi.Output.secret(args.password or ""),
            subnet_group_name=subnets.name,
            security_group_ids=[group.id],
            parameter_group_name=params.name,
            final_snapshot_identifier=f"{args.cloud_name}-final",
            **rm.elasticache_args(plan),  # type: ignore[arg-type]
            opts=self._data,
        )
        self.data = rg
        address = (
            rg.configuration_endpoint_address if plan.mode is rp.Mode.CLUSTER else rg.primary_endpoint_address
        )
        self.endpoint = address.apply(lambda a: f"{a}:{rp.REDIS_PORT}")
        self._connection_secret(name, plan, address, rp.REDIS_PORT, args.password or "")
        self._exporter(name, args, address, rp.REDIS_PORT, args.password or "", None)

    def _exporter(
        self, name: str, args: RedisClusterArgs, host: pulumi.Input[str], port: pulumi.Input[int],
        password: pulumi.Input[str], ca: pulumi.Input[str] | None,
    ) -> None:
        """redis_exporter against the endpoint clients use, ``rediss://`` (both clouds require TLS
        here), the AUTH password (Memorystore's ``auth_string``, ElastiCache's token) and, for
        Memorystore, its private CA. ElastiCache cluster mode: the configuration endpoint, so each
        scrape reads the node it resolves to, not every shard (README "Monitoring")."""
        plan = args.plan
        if args.monitor_labels is None or args.exporter_image is None:
            return
        exporter = xp.ExporterPlan(
            f"{plan.name}-exporter", xp.ExporterKind.REDIS, plan.namespace, args.exporter_image,
            monitor_labels=args.monitor_labels, prometheus_namespace=plan.monitoring_namespace or "monitoring",
            ca=ca is not None,
        )
        address = pulumi.Output.all(host, port).apply(
            lambda hp: xp.redis_address(f"{hp[0] or ''}:{hp[1] or rp.REDIS_PORT}", tls=True)
        )
        secret: dict[str, pulumi.Input[str]] = {
            "password-file": pulumi.Output.all(address, password).apply(lambda ap: xp.redis_password_file(ap[0], ap[1] or "")),
        }
        if ca is not None:
            secret[xp.CA_KEY] = ca
        ManagedExporter(f"{name}-exporter", ManagedExporterArgs(exporter, secret, redis_addr=address), opts=self._child)
