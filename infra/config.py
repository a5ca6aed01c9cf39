"""Typed stack configuration: what a stack file may say, validated before anything is built.

A stack file (``Pulumi.<stack>.yaml``) holds keys in the ``phasescale:`` namespace. Each top-level key
is a field of :class:`StackConfig` (camelCase in YAML). Misspelled keys are errors (``extra="forbid"``).
The phase catalog (``infra/catalog.py``) supplies every size; ``phasescale:overrides`` may replace any
catalog value for this stack.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from infra import config_alerts, config_logging, cost_config, rules
from infra.config_base import NAME_RE, Cidr, DnsName, Model, Name
from infra.config_tls import DnsZone


class Target(StrEnum):
    """Where the Kubernetes clusters come from."""

    EXISTING = "existing"
    GKE = "gke"
    EKS = "eks"


class Environment(StrEnum):
    DEVELOPMENT = "development"
    STAGING = "staging"
    PRODUCTION = "production"


class Runtime(StrEnum):
    KUBERNETES = "kubernetes"
    CLOUDRUN = "cloudrun"


class Region(Model):
    """One region of the stack. The first region listed is the primary; phases below the catalog's
    multi-region phase deploy only the primary."""

    location: str = Field(description="Cloud region of the target's cloud, e.g. asia-northeast3 (gke) or ap-northeast-2 (eks).")
    kube_context: str | None = Field(
        default=None, description="kubeconfig context (target existing only)."
    )
    zones: list[str] = Field(
        default_factory=list,
        description="Zones for nodes and subnets, of the region, each once; empty means the cloud's zones a, b, c.",
    )
    vpc_cidr: Annotated[str, AfterValidator(rules.vpc_cidr)] = Field(
        default="10.0.0.0/16",
        description="Address range of the region's VPC (node subnets are carved from it): a private range "
        "(10/8, 172.16/12, 192.168/16, 100.64/10); gke /16 or larger; eks /16 or /17 (AWS allows /16-/28, the "
        "subnets need /18s per zone); regions must not overlap from the multi-region phase.",
    )


class Cluster(Model):
    """The cluster target shared by every region."""

    target: Target = Field(description="existing (a kubeconfig context), gke or eks.")
    gcp_project: str | None = Field(default=None, description="GCP project id (gke).")
    kubernetes_version: str = Field(
        default="1.35",
        pattern=r"^1\.\d+$",
        description="Minor version for EKS (1.34-1.36, the minors in EKS standard support); GKE follows the channel.",
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(default="REGULAR", description="GKE release channel.")
    api_allowed_cidrs: list[Cidr] = Field(
        default_factory=lambda: ["0.0.0.0/0"],
        description="CIDRs allowed to reach the public API endpoint (GKE master authorized "
        "networks / EKS public access CIDRs). Production refuses 0.0.0.0/0 and ::/0: give the CIDR of the "
        "machine that runs pulumi up.",
    )
    kubeconfig: str | None = Field(
        default=None, description="Path to a kubeconfig file (existing); default ~/.kube/config."
    )
    acme_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="E-mail of the Let's Encrypt account that issues the Ingress hosts' certificates (expiry "
        "notices). Required in production and staging when an Ingress exists; none: no certificates.",
    )
    dns_zone: DnsZone | None = Field(
        default=None,
        description="The public DNS zone of the Ingress hosts, for ACME DNS-01 (Cloud DNS on gke, Route53 on eks): "
        "required when two active regions serve a host; none: every certificate over HTTP-01.",
    )


class Replicas(Model):
    min: int = Field(ge=0, le=1000)
    max: int = Field(ge=1, le=1000)
    """HPA bounds; 1000 keeps a typo (10^9) from reaching the cluster."""

    @model_validator(mode="after")
    def _min_le_max(self) -> Replicas:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) must not be above max ({self.max})")
        return self


class Autoscaling(Model):
    """What makes a service scale. CPU and memory go to the HPA; the others are Prometheus queries
    evaluated by KEDA, which then owns the HPA."""

    cpu_percent: int | None = Field(default=70, ge=1, le=100)
    memory_percent: int | None = Field(default=None, ge=1, le=100)
    rps_per_pod: int | None = Field(default=None, ge=1, le=1_000_000, description="Requests per second per pod.")
    concurrent_users_per_pod: int | None = Field(default=None, ge=1, le=1_000_000)
    queue_length_per_pod: int | None = Field(default=None, ge=1, le=1_000_000)
    scale_to_zero: bool = Field(
        default=False, description="Allow KEDA to scale to zero when idle (catalog min must be 0)."
    )
    scale_down_stabilization_s: int = Field(default=300, ge=0, le=3600)


class IngressRoute(Model):
    host: DnsName | None = Field(
        default=None, description="The host in every region without its own in regionHosts (required unless "
        "regionHosts names every region).",
    )
    path_prefix: Annotated[str, AfterValidator(rules.url_path)] = "/"
    tls_secret: DnsName | None = Field(
        default=None, description="Secret holding the TLS certificate; none means cert-manager."
    )
    region_hosts: dict[Name, DnsName] = Field(
        default_factory=dict, description="A region's own host (region key -> host), e.g. {korea: api.koto-kr.com, "
        "indonesia: api.koto-id.com}: that region's Ingress and certificate carry it instead of host.",
    )


class DatabaseUse(Model):
    pool_size: int = Field(default=10, ge=1, le=500, description="Client connections per pod.")


class Resources(Model):
    """Requests and limits of each container (bounded by the largest node the catalogs offer)."""

    cpu_millicores: int = Field(default=250, ge=10, le=192_000)
    memory_mib: int = Field(default=512, ge=16, le=1_048_576)
    cpu_limit_millicores: int | None = Field(default=None, ge=10, le=192_000, description="Not below the request.")
    memory_limit_mib: int | None = Field(default=None, ge=16, le=1_048_576, description="Not below the request.")

    @model_validator(mode="after")
    def _limit_not_below_request(self) -> Resources:
        # Kubernetes refuses a limit below its request (core/v1 validation: "must be less than or equal to limit").
        if self.cpu_limit_millicores is not None and self.cpu_limit_millicores < self.cpu_millicores:
            raise ValueError(f"cpuLimitMillicores ({self.cpu_limit_millicores}) must not be below cpuMillicores "
                             f"({self.cpu_millicores})")
        if self.memory_limit_mib is not None and self.memory_limit_mib < self.memory_mib:
            raise ValueError(f"memoryLimitMib ({self.memory_limit_mib}) must not be below memoryMib ({self.memory_mib})")
        return self


class Service(Model):
    """One stateless service (StatelessService on Kubernetes, or Cloud Run on GCP)."""

    image: Annotated[str, AfterValidator(rules.image)]
    port: int = Field(default=8080, ge=1, le=65535)
    runtime: Runtime = Runtime.KUBERNETES
    replicas: Replicas | None = Field(
        default=None, description="Replica bounds for every phase; default: the catalog's."
    )
    phase_replicas: dict[Annotated[int, Field(ge=1, le=4)], Replicas] = Field(
        default_factory=dict, description="Replica bounds for given phases (wins over replicas)."
    )
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    resources: Resources = Field(default_factory=Resources)
    callers: list[str] = Field(
        default_factory=list,
        description="Services (or 'ingress') allowed to connect; everything else is denied.",
    )
    ingress: IngressRoute | None = None
    database: DatabaseUse | None = None
    health_path: str = Field(default="/healthz", pattern=r"^/")
    ready_path: str = Field(default="/ready", pattern=r"^/")
    metrics_path: str = Field(default="/metrics", pattern=r"^/")
    vpa: bool = Field(default=False, description="Add a VerticalPodAutoscaler in recommend mode.")
    env: Annotated[dict[str, str], AfterValidator(rules.env_keys)] = Field(
        default_factory=dict, description="Plain, non-secret environment; names of letters, digits and '_'."
    )
    timeout_s: int = Field(default=300, ge=1, le=3600, description="Request timeout (Cloud Run).")
    concurrency: int = Field(default=100, ge=1, le=1000, description="Requests per instance (Cloud Run).")
    cache: bool = Field(
        default=False,
        description="Uses the stack's Redis: REDIS_* env from the Secret redis-connection (README, Connection settings).",
    )

    @model_validator(mode="after")
    def _checks(self) -> Service:
        if self.runtime is Runtime.CLOUDRUN and self.ingress is not None:
            raise ValueError("ingress routes apply to runtime kubernetes; Cloud Run has its own URL")
        return self


class Parts(Model):
    """Which optional parts run: true, false, or at some phases ({fromPhase: 4}, {phases: [2, 3]}; infra/phased.py)."""

    postgres: bool = True
    redis: bool = True
    milvus: bool = False
    gpu: bool = False
    monitoring: bool = True
    cdn: bool = True
    logging: bool = False
    queue: bool = Field(default=False, description="A queue or event stream (queue.engine), at the phases of queue.enabled.")


class PostgresEngine(StrEnum):
    CNPG = "cnpg"
    CLOUDSQL = "cloudsql"
    RDS = "rds"


class PostgresConfig(Model):
    """How the stack runs PostgreSQL (sizes come from the catalog)."""

    engine: PostgresEngine = Field(
        default=PostgresEngine.CNPG, description="cnpg (in-cluster, every target), cloudsql (gke), rds (eks)."
    )
    database: Annotated[Name, AfterValidator(rules.database_name)] = Field(default="app", description="Not a reserved name (postgres, template0/1, rdsadmin, ...).")
    owner: Annotated[Name, AfterValidator(rules.role_name)] = Field(default="app", description="Not a reserved role (postgres, rdsadmin, streaming_replica, ...).")
    storage_class: DnsName | None = Field(default=None, description="Default: the cluster's default class.")
    backup_bucket_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][-a-z0-9]{1,40}[a-z0-9]$",
        description="cnpg: backups go to the bucket <prefix>-<region>; default <gcpProject or phasescale>-"
        "<stack>-pg. Never change it on a live stack: it replaces the bucket.",
    )
    backup_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="cnpg on target existing: an S3-compatible endpoint (MinIO) for WAL and base backups; the "
        "bucket <prefix>-<region> must exist there. None: no backups (development only).",
    )
    backup_secret: Name = Field(
        default="pg-backup-s3",
        description="With backupEndpointUrl: a Secret in the app namespace with ACCESS_KEY_ID and ACCESS_SECRET_KEY.",
    )


class RedisEngine(StrEnum):
    OPERATOR = "operator"
    MEMORYSTORE = "memorystore"
    ELASTICACHE = "elasticache"


class RedisConfig(Model):
    """How the stack runs Redis (sizes and mode come from the catalog)."""

    engine: RedisEngine = Field(
        default=RedisEngine.OPERATOR,
        description="operator (in-cluster, every target), memorystore (gke), elasticache (eks).",
    )
    storage_class: DnsName | None = Field(default=None, description="Default: the cluster's default class.")
    appendonly: bool = Field(
        default=True, description="Operator: AOF (fsync every second) besides the hourly RDB snapshot."
    )
    backup_bucket_prefix: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][-a-z0-9]{1,40}[a-z0-9]$",
        description="operator (gke, eks) and memorystore basic/HA: hourly RDB files go to the bucket "
        "<prefix>-<region>; default <gcpProject or phasescale>-<stack>-redis. Never change it on a live "
        "stack: it replaces the bucket.",
    )
    backup_endpoint_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="operator on target existing: an S3-compatible endpoint (MinIO, SeaweedFS) for the hourly "
        "RDB files; the bucket <prefix>-<region> must exist there. None: no off-node backups (development only).",
    )
    backup_secret: Name = Field(
        default="redis-backup-s3",
        description="With backupEndpointUrl: a Secret in the app namespace with ACCESS_KEY_ID and ACCESS_SECRET_KEY.",
    )


class MilvusConfig(Model):
    storage_class: DnsName | None = None


class GpuConfig(Model):
    spot_only_accepted: bool = Field(
        default=False, description="Allow base replicas on spot nodes (else on-demand only)."
    )


class SlackChannels(Model):
    critical: str = "#alerts-critical"
    warning: str = "#alerts"
    scaling: str = "#scaling-events"


class MonitoringConfig(Model):
    """The MonitoringStack (kube-prometheus-stack) of each region. Checked by infra/parts/monitoring.py.

    Alerts go to Slack through the webhook of ``pulumi config set --secret phasescale:slackWebhookUrl``
    (required in production; without it, development stacks route every alert to a null receiver).
    """

    slack_channels: SlackChannels = Field(default_factory=SlackChannels)
    grafana_host: DnsName | None = Field(
        default=None,
        description="Ingress host for Grafana (TLS secret grafana-tls); none: kubectl port-forward.",
    )
    grafana_admin_secret: str | None = Field(
        default=None,
        pattern=NAME_RE,
        max_length=63,
        description="A Secret you create in the monitoring namespace with keys admin-user and admin-password; "
        "none: the chart generates a random password into the Secret monitoring-grafana.",
    )
    storage_class: DnsName | None = Field(default=None, description="Prometheus/Alertmanager volumes; default: the cluster's.")
    runbook_base_url: str | None = Field(
        default=None, pattern=r"^https?://", description="Alerts link <url>/<alertname lowercased> as runbook_url."
    )


class CdnConfig(Model):
    """Object storage and its CDN (components/cdn/bucket.py). Checked by infra/parts/cdn.py."""

    domain: DnsName | None = Field(
        default=None,
        description="Hostname served by the CDN. Required on gke (Google-managed certificate); on eks it "
        "needs acmCertificateArn; none on eks: the distribution's own *.cloudfront.net name.",
    )
    bucket_name: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][-a-z0-9]{1,50}[a-z0-9]$",
        description="Bucket name (global namespace); default <project or phasescale>-<stack>-cdn. The "
        "replica adds -replica. Never change it on a live stack: it replaces the bucket.",
    )
    gcp_project_number: str | None = Field(
        default=None,
        pattern=r"^\d{6,20}$",
        description="gke: the project's number (gcloud projects describe P --format='value(projectNumber)'); "
        "names the Cloud CDN fill and Storage Transfer service agents.",
    )
    acm_certificate_arn: str | None = Field(
        default=None,
        description="eks with a domain: an ACM certificate for it, issued in us-east-1 (CloudFront's region).",
    )
    dev_store_gib: int = Field(default=10, ge=1, le=1000, description="existing: the dev S3 store's volume.")
    storage_class: DnsName | None = Field(default=None, description="existing: the dev store's storage class.")


class StackConfig(Model):
    """Everything under ``phasescale:`` in a stack file."""

    phase: int = Field(ge=1, le=4, description="1 MVP, 2 Growth, 3 Scale, 4 Enterprise.")
    environment: Environment = Field(
        default=Environment.DEVELOPMENT,
        description="production protects every database, cache and bucket (Pulumi protect, deletion protection).",
    )
    cluster: Cluster
    regions: dict[Name, Region] = Field(
        min_length=1, description="Regions by name; the first is primary; all are deployed from the multi-region phase."
    )
    namespace: Annotated[Name, AfterValidator(rules.app_namespace)] = Field(
        default="phasescale",
        description="Namespace of the services (restricted Pod Security); not kube-system, default or a "
        "namespace the program installs into (monitoring, cnpg-system, ...).",
    )
    parts: Parts = Field(default_factory=Parts)
    services: dict[Name, Service] = Field(
        default_factory=dict, description="Not named like an object the program creates (redis, vllm, cdn-store, <region>-pg...) "
        "nor ingress or monitoring (the callers keywords).",
    )
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    redis: RedisConfig = Field(default_factory=RedisConfig)
    milvus: MilvusConfig = Field(default_factory=MilvusConfig)
    gpu: GpuConfig = Field(default_factory=GpuConfig)
    monitoring: MonitoringConfig = Field(default_factory=MonitoringConfig)
    cdn: CdnConfig = Field(default_factory=CdnConfig)
    overrides: dict[str, object] = Field(
        default_factory=dict, description="Catalog values replaced for this stack (any phase)."
    )
    alerts: config_alerts.AlertsConfig = Field(default_factory=dict, description=config_alerts.DESCRIPTION)
    phase_overrides: dict[int | str, object] = Field(default_factory=dict, description="Catalog values for given "
                                                     "phases, over overrides: {3: {...}} or {'2-4': {...}}.")
    usage: cost_config.UsageConfig = Field(default_factory=cost_config.UsageConfig, description="Usage the cost estimate assumes.")
    budget_usd_per_month: float | None = Field(default=None, gt=0, description="The estimate's minimum may not exceed it (infra cost).")
    logging: config_logging.LoggingConfig = Field(default_factory=config_logging.LoggingConfig)
    queue: QueueConfig = Field(default_factory=lambda: QueueConfig())
    workers: dict[Name, Worker] = Field(default_factory=dict, description="Queue consumers (no Service), not named like a service.")

    @property
    def protect_stateful(self) -> bool:
        """Production stacks protect every database, cache and bucket from deletion."""
        return self.environment is Environment.PRODUCTION


TOP_LEVEL_KEYS = tuple((field.alias or name) for name, field in StackConfig.model_fields.items())
"""The keys a stack file may set under ``phasescale:``."""

SECRET_KEYS = ("slackWebhookUrl", "hfToken", "dbPassword", "redisPassword", "cdnSignedUrlKey", "kafkaPassword")
"""Keys that must come from ``pulumi config set --secret`` (never plaintext in a stack file)."""
from infra.config_queue import QueueConfig, Worker  # noqa: E402  (the queue models use the types above)
