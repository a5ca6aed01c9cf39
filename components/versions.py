"""Every chart and image version phasescale deploys, pinned exactly, in one place.

Bumping a version is a reviewed one-line change here; nothing else in the code names a version.
Each entry says where its figure was read so the next bump knows where to look.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    """A Helm chart pinned to an exact version in a named repository."""

    name: str
    version: str
    repo: str
    """Chart repository URL (or ``oci://`` registry prefix)."""
    source: str
    """Where this version was read (repository and file)."""
    control_plane_ports: tuple[int, ...] = ()
    """TCP ports on the pods that the Kubernetes API server itself calls: admission webhooks and
    aggregated APIServices, as the pinned chart's defaults set them (the program overrides none).
    A private GKE control plane reaches the nodes on 443 and 10250 only, so every other port here
    needs a firewall rule (``components/cluster/webhooks.py``)."""


# Compatibility target: the stack's Kubernetes minor (infra/config.py default 1.35; EKS allows 1.34-1.36,
# the minors in EKS standard support in 2026-12; GKE follows its release channel). Each entry's comment
# names the upstream support window it was checked against.
CHARTS: dict[str, Chart] = {
    # KEDA tested windows (keda.sh/docs/2.22/operate/cluster): 2.19 -> 1.32-1.34, 2.20 -> 1.33-1.35,
    # 2.21 -> 1.34-1.36. The EKS default 1.35 (and 1.34) is inside 2.20's window; 1.36 only in 2.21's.
    # No 2.21 chart is in the snapshot of the chart repository we can read (kedacore/charts main
    # @ 1444d00, newest keda/Chart.yaml 2.20.2), so the pin stays at 2.20.2 (tested on the default);
    # bump to 2.21 before moving a stack to 1.36.
    # Control-plane ports (keda/values.yaml @ 1444d00): admission webhooks `webhooks.port` "Default is
    # 9443"; metrics API server (APIService v1beta1.external.metrics.k8s.io) `service.portHttpsTarget` 6443.
    "keda": Chart(
        "keda",
        "2.20.2",
        "https://kedacore.github.io/charts",
        "kedacore/charts keda/Chart.yaml @ 1444d00d90d7668cf7f53f270777d039371d90d0 (appVersion 2.20.2); "
        "KEDA 2.20 is tested on Kubernetes 1.33-1.35",
        control_plane_ports=(6443, 9443),
    ),
    "kube-prometheus-stack": Chart(
        "kube-prometheus-stack",
        "88.5.3",
        "https://prometheus-community.github.io/helm-charts",
        "prometheus-community/helm-charts charts/kube-prometheus-stack/Chart.yaml"
        " @ ea930baeebeba39f56d6b44e351f23b2a072a600 (tag kube-prometheus-stack-88.5.3; appVersion v0.93.1;"
        " kubeVersion >=1.25.0-0)",
        # values.yaml prometheusOperator.tls.internalPort 10250: the operator's admission webhook, "10250 in
        # order to work out-of-the-box in GKE private clusters" (the same file @ cf408a2 in shared/validation).
        control_plane_ports=(10250,),
    ),
    # CNPG 1.30: supported on 1.34-1.36, tested on 1.30-1.33 (docs/src/supported_releases.md).
    "cloudnative-pg": Chart(
        "cloudnative-pg",
        "0.29.0",
        "https://cloudnative-pg.github.io/charts",
        "cloudnative-pg/charts charts/cloudnative-pg/Chart.yaml @ d1b5ad60cee2d9432a9cc05627b42a8d8dc7bbae"
        " (tag cloudnative-pg-v0.29.0; operator appVersion 1.30.0; kubeVersion >=1.29.0-0)",
        # values.yaml `webhook.port: 9443` (mutating and validating webhooks of Cluster, Pooler, Backup, ...).
        control_plane_ports=(9443,),
    ),
    # Plugin v0.13.0 needs CNPG >= 1.26 and cert-manager; the chart's image tags default to appVersion.
    "plugin-barman-cloud": Chart(
        "plugin-barman-cloud",
        "0.7.0",
        "https://cloudnative-pg.github.io/charts",
        "cloudnative-pg/charts charts/plugin-barman-cloud/Chart.yaml @ 83bd9c59514cb7ff3692049d85ba604dcb458700"
        " (tag plugin-barman-cloud-v0.7.0; plugin appVersion v0.13.0 ="
        " ghcr.io/cloudnative-pg/plugin-barman-cloud{,-sidecar}:v0.13.0)",
        # No admission webhook or APIService: the CNPG operator calls the plugin's gRPC service pod to pod
        # (TLS from cert-manager), so nothing here is called by the control plane.
    ),
    # Strimzi 1.2.0 (tag 1.2.0 @ 6c7b43c4af0db547c10463ba09d1dfa6f5e156a0, 2026-08-18): the chart is published
    # at the release's version to the OCI registry its README installs from; "Kubernetes 1.30+"
    # (packaging/helm-charts/helm3/strimzi-kafka-operator/README.md). Kafka versions it runs:
    # kafka-versions.yaml (components/queue/plan.KAFKA_VERSION). No admission webhook or APIService.
    "strimzi-kafka-operator": Chart(
        "strimzi-kafka-operator",
        "1.2.0",
        "oci://quay.io/strimzi-helm",
        "strimzi/strimzi-kafka-operator packaging/helm-charts/helm3/strimzi-kafka-operator @ 1.2.0 "
        "(6c7b43c4af0db547c10463ba09d1dfa6f5e156a0; values.yaml defaultImageTag 1.2.0)",
    ),
    "milvus-operator": Chart(
        "milvus-operator",
        "1.3.8",
        "https://zilliztech.github.io/milvus-operator/",
        "zilliztech/milvus-operator charts/milvus-operator/Chart.yaml @ 31b2ec588d19d7c66535125422d8e4de732835ab"
        " (tag v1.3.8); repo URL from README.md 'helm repo add milvus-operator'",
        # values.yaml `enableWebhook: false` (@ a6dcc63, shared/validation) and the program does not enable
        # it: no control-plane port.
    ),
    "redis-operator": Chart(
        "redis-operator",
        "0.26.1",
        "https://ot-container-kit.github.io/helm-charts/",
        "OT-CONTAINER-KIT/redis-operator charts/redis-operator/Chart.yaml @ 0bc34813ac968663d42e48c31436314cb173bd1f"
        " (main; appVersion 0.26.0); repo URL from charts/redis-operator/README.md"
        " (also pushed to oci://ghcr.io/ot-container-kit/charts by .github/workflows/publish-charts.yaml)",
        # values.yaml `redisOperator.webhook: false` (@ 5dd04e1, shared/validation), not enabled here.
    ),
    "dcgm-exporter": Chart(
        "dcgm-exporter",
        "4.8.2",
        "https://nvidia.github.io/dcgm-exporter/helm-charts",
        "NVIDIA/dcgm-exporter deployment/Chart.yaml @ 691c92762eb551313c825f6efe4ceeee20982801 (tag 4.5.3-4.8.2);"
        " repo URL from README.md; listed in gh-pages helm-charts/index.yaml",
    ),
    # metrics-server 0.8.x supports Kubernetes 1.31+ (README compatibility matrix; 0.7.x: 1.27+).
    "metrics-server": Chart(
        "metrics-server",
        "3.13.1",
        "https://kubernetes-sigs.github.io/metrics-server/",
        "kubernetes-sigs/metrics-server charts/metrics-server/Chart.yaml @ 842dcc8c42f22cc19f10c7d5f2d32a9f4b6013b0"
        " (tag metrics-server-helm-chart-3.13.1; appVersion 0.8.1)",
        # values.yaml `containerPort: 10250`: the v1beta1.metrics.k8s.io APIService (installed on EKS only).
        control_plane_ports=(10250,),
    ),
    # Cluster Autoscaler must match the cluster's minor version: the chart's image.tag is set from
    # CLUSTER_AUTOSCALER_TAGS for the stack's kubernetesVersion (default 1.35 = this chart's appVersion).
    # The chart's `expanderPriorities` renders the cluster-autoscaler-priority-expander ConfigMap.
    "cluster-autoscaler": Chart(
        "cluster-autoscaler",
        "9.59.0",
        "https://kubernetes.github.io/autoscaler",
        "kubernetes/autoscaler cluster-autoscaler/charts/cluster-autoscaler/Chart.yaml"
        " @ 5a0b98e45f896e98132737240ac131a519d3b33d (tag cluster-autoscaler-chart-9.59.0; appVersion 1.35.0)",
    ),
    # cert-manager support windows (cert-manager.io/docs/releases): 1.19 -> 1.31-1.35 (end of life at the
    # 1.21 release, 2026-07-08), 1.20 -> 1.32-1.35, 1.21 -> 1.33-1.36. Chart versions carry the leading "v".
    "cert-manager": Chart(
        "cert-manager",
        "v1.20.3",
        "https://charts.jetstack.io",
        "cert-manager/cert-manager releases: 1.20 supports Kubernetes 1.32-1.35 and is maintained "
        "(1.19 reached end of life on 2026-07-08)",
        # deploy/charts/cert-manager/values.yaml @ v1.20.3 (1e1d16d1744e6d9c80e464e58e8d9ab1caed222b)
        # `webhook.securePort: 10250`, chosen upstream so that GKE private clusters reach it without a rule.
        control_plane_ports=(10250,),
    ),
    "haproxy-ingress": Chart(
        "kubernetes-ingress",
        "1.52.1",
        "https://haproxytech.github.io/helm-charts",
        "haproxytech/helm-charts kubernetes-ingress/Chart.yaml @ b8973b06fa626389b35b43be3dbe4b4f467bf8ff"
        " (tag kubernetes-ingress-1.52.1; appVersion 3.2.12; kubeVersion >=1.23.0-0)",
    ),
    "nvidia-device-plugin": Chart(
        "nvidia-device-plugin",
        "0.20.0",
        "https://nvidia.github.io/k8s-device-plugin",
        "NVIDIA/k8s-device-plugin deployments/helm/nvidia-device-plugin/Chart.yaml"
        " @ 1b826acc6af3079d8923bac395c3124b8861a9a6 (tag v0.20.0); listed in gh-pages index.yaml",
    ),
    # Dev in-cluster S3. MinIO's community edition is archived (no images or charts since 2025) and Bitnami's
    # chart is withdrawn, so this slot holds SeaweedFS (Apache-2.0, S3 API), under the key code asks for.
    "minio": Chart(
        "seaweedfs",
        "4.44.0",
        "https://seaweedfs.github.io/seaweedfs/helm",
        "seaweedfs/seaweedfs k8s/charts/seaweedfs/Chart.yaml @ 3563738699f29fd1c9efde6fcbf4ba253439cac8"
        " (tag 4.44; appVersion 4.44); listed in gh-pages helm/index.yaml",
    ),
    # The logging part (components/logging). ECK 3.5 manages Elastic Stack 8.x and 9.x; its CRDs come with
    # the chart (subchart eck-operator-crds 3.5.0, installCRDs true) and are copied in validation/crds.
    # Control-plane port: values.yaml `webhook.port: 9443` (validating webhook of every Elastic resource).
    "eck-operator": Chart(
        "eck-operator",
        "3.5.0",
        "https://helm.elastic.co",
        "elastic/cloud-on-k8s deploy/eck-operator/Chart.yaml @ 386c7b14f2d1bbb7f2af1e7da997e64875f16e47"
        " (tag v3.5.0; appVersion 3.5.0; kubeVersion >=1.21.0-0)",
        control_plane_ports=(9443,),
    ),
    # The OSS Loki chart moved from grafana/loki (now GEL-only, chart 7.x) to grafana-community/helm-charts
    # on 2026-03-16 (grafana/loki production/helm/loki/CHANGELOG.md 7.0.0). No webhook or APIService.
    "loki": Chart(
        "loki",
        "18.11.0",
        "https://grafana-community.github.io/helm-charts",
        "grafana-community/helm-charts charts/loki/Chart.yaml @ 3386a1156177c6bcd7fdb1ad4c6b1dda094296e0"
        " (tag loki-18.11.0; appVersion 3.7.6; kubeVersion >=1.25.0-0)",
    ),
    # Promtail is deprecated (EOL 2026-03-02, Grafana's "Promtail agent" docs): Alloy ships the logs.
    "alloy": Chart(
        "alloy",
        "1.11.1",
        "https://grafana.github.io/helm-charts",
        "grafana/alloy operations/helm/charts/alloy/Chart.yaml @ 233907cff225ce253f812bdfc14138dac1fa0cd2"
        " (tag helm-chart/1.11.1; appVersion v1.18.1)",
    ),
}


@dataclass(frozen=True)
class Image:
    """A container image pinned to an exact tag."""

    repository: str
    tag: str
    source: str

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.tag}"


IMAGES: dict[str, Image] = {
    # The CUDA 12.9 build: unsuffixed tags are CUDA 13 since v0.20.0 (driver R580+), which GKE's
    # LATEST driver (R570) cannot run; CUDA 12.x runs on R525+ (components/gpu/driver.py checks it).
    "vllm": Image(
        "vllm/vllm-openai",
        "v0.28.0-cu129",
        "vllm-project/vllm release v0.28.0 (notes quoted in mudler/LocalAI PR #11638, 2026-08-20);"
        " -cu129 variant tags since vllm-project/vllm PR #39878 (2026-04-15); v0.28.0-cu129 pinned with digest"
        " sha256:50509e700235cea487715cedeb501d20a1cd15fa6a54ce93688284bd0d96995d in public repositories",
    ),
    # "standard" = PostgreSQL + pgaudit/pgvector/pg-failover-slots, meant for the barman-cloud plugin;
    # "system" images are deprecated (postgres-containers README). Trixie is Debian stable.
    "postgres": Image(
        "ghcr.io/cloudnative-pg/postgresql",
        "17.11-standard-trixie",
        "cloudnative-pg/postgres-containers docker-bake.hcl @ a949ae5871b3685ebd569070fe8657e261328e7f"
        " (postgreSQLVersions 17.11; tags <minor>-<type>-<distro>); 17.11 built 2026-08-17 per"
        " Debian/ClusterImageCatalog-bookworm.yaml @ 75660d8575902ad77e4dca1bdec22673e941763a",
    ),
    "pgbouncer": Image(
        "ghcr.io/cloudnative-pg/pgbouncer",
        "1.25.1",
        "cloudnative-pg/cloudnative-pg pkg/versions/versions.go DefaultPgbouncerImage"
        " @ v1.30.0 (and main a95a534dbe0854495b863bbc1b7651f74d310916)",
    ),
    # Not the charts' default v7.0.15 (7.0 is past end of life and exposed to CVE-2025-49844, fixed in
    # 7.2.11, 7.4.6 and 8.2.2): OT-CONTAINER-KIT/redis builds quay.io/opstree/redis and redis-sentinel
    # as v<Redis release> for every new Redis release (.github/workflows/auto-redis-version-check.yaml
    # @ 066d6228dd542647918b88f637069fe5e893e3c8), and the operator's own tests run
    # quay.io/opstree/redis-sentinel:v8.2.2 (internal/k8sutils/sentinel_volume_mount_test.go
    # @ 5dd04e17419a9a32bd0d220fc9dae5dffbf4f39a, commit 44479b3d) and an e2e suite on Redis 8
    # (tests/e2e-chainsaw/v1beta2/version-v8). RDB files of 8.2 load into 7.4+ only, not 7.0.
    "redis": Image(
        "quay.io/opstree/redis",
        "v8.2.2",
        "OT-CONTAINER-KIT/redis .github/workflows/auto-redis-version-check.yaml + manual-release.yaml"
        " @ 066d6228dd542647918b88f637069fe5e893e3c8 (tag v<Redis release>); Redis 8.2.2 fixes CVE-2025-49844",
    ),
    # The operator's chart default quay.io/opstree/redis-exporter:v1.44.0 (2022) is a rebuild of
    # oliver006/redis_exporter; the upstream image, current release, as prometheus-community's chart
    # pins it (and the managed-cache exporter in components/monitoring/exporters_plan.py uses).
    "redis-exporter": Image(
        "oliver006/redis_exporter",
        "v1.89.0",
        "prometheus-community/helm-charts charts/prometheus-redis-exporter/Chart.yaml appVersion v1.89.0"
        " (chart 6.29.0) @ cf408a290aec489277a94450bb3511432477a53a; values.yaml image.repository",
    ),
    # milvus-operator works with Milvus >= v2.0.0 (README) and defaults to v2.6.11 (pkg/config/config.go @ v1.3.8).
    "milvus": Image(
        "milvusdb/milvus",
        "v2.6.15",
        "zilliztech/milvus-helm charts/milvus/values.yaml image.all.tag @ 98324768aeb70ebfea91f9968853e0fa29838639"
        " (chart 5.0.19, appVersion 2.6.15); milvus.io/docs/v2.6.x/release_notes.md (v2.6.15, 2026-04-24)",
    ),
    # The chart's appVersion (4.8.2) is not a published image tag, so the tag is set explicitly.
    # Managed PostgreSQL (Cloud SQL, RDS) exporter: components/monitoring/exporters.py.
    "postgres-exporter": Image(
        "quay.io/prometheuscommunity/postgres-exporter",
        "v0.20.1",
        "prometheus-community/helm-charts charts/prometheus-postgres-exporter/Chart.yaml appVersion v0.20.1"
        " (chart 8.2.0) @ cf408a290aec489277a94450bb3511432477a53a; values.yaml image.registry/repository",
    ),
    # Cloud Monitoring metrics of Memorystore Cluster and Cloud Run: components/monitoring/stackdriver.py.
    "stackdriver-exporter": Image(
        "quay.io/prometheuscommunity/stackdriver-exporter",
        "v0.19.0",
        "prometheus-community/stackdriver_exporter tag v0.19.0 (VERSION 0.19.0, CHANGELOG 2026-06-05);"
        " .github/workflows/ci.yml publishes quay_io_organization prometheuscommunity, Makefile DOCKER_IMAGE_NAME"
        " stackdriver-exporter",
    ),
    "dcgm-exporter": Image(
        "nvcr.io/nvidia/k8s/dcgm-exporter",
        "4.5.3-4.8.2-distroless",
        "NVIDIA/dcgm-exporter deployment/values.yaml image.tag @ 691c92762eb551313c825f6efe4ceeee20982801"
        " (tag 4.5.3-4.8.2)",
    ),
    # The image of the default EKS minor (1.35); CLUSTER_AUTOSCALER_TAGS holds one per allowed minor.
    "cluster-autoscaler": Image(
        "registry.k8s.io/autoscaling/cluster-autoscaler",
        "v1.35.2",
        "kubernetes/autoscaler tag cluster-autoscaler-1.35.2 @ 2d42588803c71fe9b35dcd9e3669ac6bb550ca22 (2026-07-22)",
    ),
    # In-cluster dependencies of the Milvus CR (milvus-operator renders milvus-helm's etcd and minio charts);
    # set as image values in the CR so the operator's bundled defaults cannot drift.
    "milvus-etcd": Image(
        "milvusdb/etcd",
        "3.5.25-r1",
        "zilliztech/milvus-helm charts/milvus/values.yaml etcd.image.tag @ 98324768aeb70ebfea91f9968853e0fa29838639"
        " (chart 5.0.19)",
    ),
    "milvus-minio": Image(
        "minio/minio",
        "RELEASE.2024-12-18T13-15-44Z",
        "zilliztech/milvus-helm charts/milvus/values.yaml minio.image.tag @ 98324768aeb70ebfea91f9968853e0fa29838639"
        " (chart 5.0.19); dev (target existing) only",
    ),
    # The cdn part's dev S3 store (target existing). MinIO's community images stopped being published freely
    # in late 2025 and Bitnami's catalogue went paid, so: SeaweedFS (Apache-2.0), `weed server -s3` in one pod.
    # Same release as CHARTS["minio"] (the seaweedfs chart, appVersion 4.44).
    "seaweedfs": Image(
        "chrislusf/seaweedfs",
        "4.44",
        "seaweedfs/seaweedfs tag 4.44 (k8s/charts/seaweedfs/Chart.yaml appVersion 4.44; the chart's image"
        " default is chrislusf/seaweedfs:<appVersion>); Docker Hub chrislusf/seaweedfs",
    ),
    # Same Redis release as "redis" (built together by OT-CONTAINER-KIT/redis, see above).
    "redis-sentinel": Image(
        "quay.io/opstree/redis-sentinel",
        "v8.2.2",
        "OT-CONTAINER-KIT/redis-operator internal/k8sutils/sentinel_volume_mount_test.go"
        " @ 5dd04e17419a9a32bd0d220fc9dae5dffbf4f39a; OT-CONTAINER-KIT/redis Dockerfile.sentinel",
    ),
    # The Redis backup job (components/redis/backup_plan.py): rclone uploads the operator's RDB files,
    # the cloud CLIs call Memorystore's export/backup and ElastiCache's snapshot APIs.
    # Each runs as root by default; the job sets UID 10001 and a writable /tmp (HOME, CLOUDSDK_CONFIG).
    "rclone": Image(
        "rclone/rclone",
        "1.75.1",
        "rclone/rclone release v1.75.1 (GitHub releases, marked latest); multi-arch image built by"
        " .github/workflows/build_publish_docker_image.yml, Alpine with /bin/sh",
    ),
    "google-cloud-cli": Image(
        "gcr.io/google.com/cloudsdktool/google-cloud-cli",
        "587.0.0-slim",
        "GoogleCloudPlatform/cloud-sdk-docker cloudbuild.yaml (every release tagged <version>-slim, Debian"
        " trixie, amd64 and arm64); 587.0.0 seen pinned publicly. Tags older than a year are removed: bump yearly",
    ),
    "aws-cli": Image(
        "amazon/aws-cli",
        "2.36.7",
        "aws/aws-cli tag 2.36.7 (2026-07-23); docker/Dockerfile on amazonlinux:2023 (bash, GNU date)",
    ),
    # The Elastic Stack the ECK resources run (their spec.version; ECK picks docker.elastic.co/<product>
    # images of that version): the stack version ECK 3.5.0's end-to-end tests run (Makefile
    # E2E_STACK_VERSION ?= 9.4.3 @ 386c7b14, tag v3.5.0). Elasticsearch, Kibana and Filebeat move together.
    "elasticsearch": Image(
        "docker.elastic.co/elasticsearch/elasticsearch",
        "9.4.3",
        "elastic/cloud-on-k8s Makefile E2E_STACK_VERSION @ 386c7b14f2d1bbb7f2af1e7da997e64875f16e47 (v3.5.0)",
    ),
    "kibana": Image(
        "docker.elastic.co/kibana/kibana",
        "9.4.3",
        "same as elasticsearch: Kibana must run the Elasticsearch version",
    ),
    "filebeat": Image(
        "docker.elastic.co/beats/filebeat",
        "9.4.3",
        "same as elasticsearch: Beats no newer than Elasticsearch",
    ),
}

CLUSTER_AUTOSCALER_TAGS: dict[str, str] = {
    # The autoscaler's minor must match the cluster's (kubernetes/autoscaler README). Newest patch tags
    # of each minor in kubernetes/autoscaler (snapshot of 2026-08-22): cluster-autoscaler-1.34.5
    # @ cb2123ed, -1.35.2 @ 2d425888, -1.36.1 @ 35e8a280, all 2026-07-22. EKS standard support in
    # 2026-12 covers 1.34-1.36 (1.33 left it in July 2026), so those are the minors allowed.
    "1.34": "v1.34.5",
    "1.35": "v1.35.2",
    "1.36": "v1.36.1",
}
"""EKS minor versions this program supports, with the cluster-autoscaler image tag for each."""


@dataclass(frozen=True)
class Manifest:
    """An operator installed from the single manifest its release publishes (no Helm chart upstream)."""

    name: str
    version: str
    url: str
    source: str


MANIFESTS: dict[str, Manifest] = {
    # RabbitMQ Cluster Operator v2.22.3 (tag @ 03e0b49c077a9c8d926fb4c8cbe2dd0bbdffd539, 2026-07-17): README
    # "kubectl apply -f https://github.com/rabbitmq/cluster-operator/releases/latest/download/cluster-operator.yml";
    # pinned here to the release's own asset. No admission webhook (the Messaging Topology Operator has
    # one; it is not installed).
    "rabbitmq-cluster-operator": Manifest(
        "rabbitmq-cluster-operator",
        "2.22.3",
        "https://github.com/rabbitmq/cluster-operator/releases/download/v2.22.3/cluster-operator.yml",
        "rabbitmq/cluster-operator tag v2.22.3 @ 03e0b49c077a9c8d926fb4c8cbe2dd0bbdffd539 (README.md)",
    ),
}
"""Operators installed from a release manifest, by key."""
