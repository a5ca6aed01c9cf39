"""The monthly cost of a plan: every priced resource of the recorded plan, at the autoscalers'
minimum and maximum, from the price table ``infra/prices.yaml``.

Pure: reads ``Record``s (type, name, provider, inputs: what the engine would receive) and the
price table; no Pulumi calls, no second description of the stack. A resource type that costs
money but has no figure in the table (or a size/region without one) is collected as an
``Unpriced`` entry naming it; callers refuse to print a total while any is left
(``Estimate.require_priced``), so a gap is never a silent zero. Resource types that cost nothing
by themselves (networks, IAM, Kubernetes objects, ...) are not listed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from components.stateful import is_stateful
from infra.cost_config import UsageConfig as Usage
from infra.cost_estimate import (
    BUDGET_KEY,
    Estimate,
    Line,
    Unpriced,
    UnpricedError,
    budget_problems,
    require_priced,
)
from infra.cost_types import FREE_TYPES
from infra.recording import Record

__all__ = ["BUDGET_KEY", "Estimate", "Line", "Unpriced", "UnpricedError", "budget_problems", "estimate", "prices",
           "require_priced"]  # re-exported from infra.cost_estimate: callers use infra.cost.<name>

PRICES = Path(__file__).with_name("prices.yaml")

GKE_STORAGE_CLASSES = {None: "pd-balanced", "standard-rwo": "pd-balanced", "premium-rwo": "pd-ssd", "standard": "pd-standard"}
"""GKE's built-in StorageClasses and the disk each provisions (the default class is standard-rwo,
a pd-balanced disk: cloud.google.com/kubernetes-engine/docs/how-to/persistent-volumes/gce-pd-csi-driver)."""

EKS_STANDARD_SUPPORT = ("1.34", "1.35", "1.36")

GKE_DEFAULT_ZONES = 3
"""Zones a regional GKE cluster's node pool spans without ``nodeLocations`` (GKE: "regional
clusters replicate node pools across three zones of the region" by default); per-zone
``minNodeCount``/``maxNodeCount`` multiply by it, ``totalMin/MaxNodeCount`` do not."""


@functools.cache
def prices(path: Path = PRICES) -> dict[str, Any]:
    table: dict[str, Any] = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return table


def _month(hourly: float) -> float:
    return hourly * float(prices()["hours_per_month"])


def _pair(table: Mapping[str, Any], key: str, region: str) -> tuple[float, float | None] | None:
    row = (table or {}).get(key) or {}
    value = row.get(region)
    if value is None:
        return None
    return float(value[0]), (None if value[1] is None else float(value[1]))


def _gib(quantity: str | int | float) -> float:
    """A Kubernetes storage quantity in GiB (``500Gi``, ``1Ti``, ``10G``)."""
    text = str(quantity)
    for suffix, factor in (("Ei", 2.0**30), ("Pi", 2.0**20), ("Ti", 1024.0), ("Gi", 1.0), ("Mi", 1 / 1024), ("Ki", 2.0**-20),
                           ("E", 1e18 / 2**30), ("P", 1e15 / 2**30), ("T", 1e12 / 2**30), ("G", 1e9 / 2**30),
                           ("M", 1e6 / 2**30), ("k", 1e3 / 2**30)):  # fmt: skip
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text) / 2**30


def _part(name: str) -> str:
    if "vllm-gpu-spot" in name:
        return "gpu spot"
    if "vllm-gpu" in name:
        return "gpu on-demand"
    if name.endswith("system"):
        return "system pool"
    if name.endswith("data"):
        return "data pool"
    return "node pool"


class _Pricer:
    def __init__(self, records: list[Record], usage: Usage):
        self.p = prices()
        self.usage = usage
        self.est = Estimate(usage=usage)
        self.aws_regions = {
            r.name: str(r.inputs.get("region"))
            for r in records
            if r.type == "pulumi:providers:aws"
        }
        self.forwarding_rules = 0
        self.has_global_rule = any(r.type == "gcp:compute/globalForwardingRule:GlobalForwardingRule" for r in records)
        self.nodes: dict[str, tuple[int, int]] = {}
        self.k8s_clusters: dict[str, tuple[str, str]] = {}
        self.cluster_zones = {str(r.inputs.get("name", r.name)): len(r.inputs.get("nodeLocations") or [])
                              for r in records if r.type == "gcp:container/cluster:Cluster"}
        # cluster <stack>-<region> (GKE) / provider <region>-aws (EKS) -> <region>-k8s; a region key may
        # hold hyphens, so a GKE cluster goes to the longest Kubernetes provider key its name ends with
        keys = sorted((r.name.removesuffix("-k8s") for r in records if r.type == "pulumi:providers:kubernetes"), key=len, reverse=True)
        for r in records:
            if r.type == "gcp:container/cluster:Cluster":
                name = str(r.inputs.get("name", r.name))
                key = next((k for k in keys if name == k or name.endswith(f"-{k}")), name.rsplit("-", 1)[-1])
                self.k8s_clusters[f"{key}-k8s"] = ("gke", str(r.inputs["location"]))
            elif r.type == "aws:eks/cluster:Cluster":
                self.k8s_clusters[f"{r.provider.removesuffix('-aws')}-k8s"] = ("eks", self.aws_regions.get(r.provider, r.provider))

    def add(self, region: str, part: str, r: Record, detail: str, low: float, high: float | None = None) -> None:
        self.est.lines.append(Line(region, part, r.name, detail, round(low, 2), round(low if high is None else high, 2)))

    def missing(self, r: Record, what: str) -> None:
        self.est.unpriced.append(Unpriced(r.name, r.type, what))

    # --- GCP ---
    def gke_cluster(self, r: Record) -> None:
        self.add(str(r.inputs["location"]), "cluster fee", r, "GKE cluster", _month(self.p["gke_cluster_hour"]))

    def node_pool(self, r: Record) -> None:
        i = r.inputs
        region = str(i["location"])
        nc = i.get("nodeConfig") or {}
        machine = str(nc.get("machineType"))
        spot = bool(nc.get("spot") or nc.get("preemptible"))
        auto = i.get("autoscaling") or {}
        # Per-zone bounds count the pool's zones, else its cluster's (regions.<r>.zones), else three.
        zones = len(i.get("nodeLocations") or []) or self.cluster_zones.get(str(i.get("cluster")), 0) or GKE_DEFAULT_ZONES
        if "totalMinNodeCount" in auto or "totalMaxNodeCount" in auto:
            lo = int(auto.get("totalMinNodeCount", 0))
            hi = int(auto.get("totalMaxNodeCount", lo))
        elif auto:
            lo, hi = int(auto.get("minNodeCount", 0)) * zones, int(auto.get("maxNodeCount", 0)) * zones
        else:
            lo = hi = int(i.get("nodeCount", i.get("initialNodeCount", 1))) * zones
        pair = _pair(self.p["gce_machines"], machine, region)
        if pair is None or (spot and pair[1] is None):
            return self.missing(r, f"machine {machine} ({'spot' if spot else 'on-demand'}) in {region}")
        hourly = pair[1] if spot else pair[0]
        assert hourly is not None
        for acc in nc.get("guestAccelerators") or []:
            if machine.startswith("n1-"):  # a2/a3/g2 prices include their GPUs
                gpu = _pair(self.p["gce_accelerators"], str(acc["type"]), region)
                if gpu is None or gpu[1] is None:
                    return self.missing(r, f"accelerator {acc['type']} in {region}")
                hourly += int(acc["count"]) * (gpu[1] if spot else gpu[0])
        disk_type = str(nc.get("diskType", "pd-balanced"))
        disk = (self.p["gce_disks"].get(disk_type) or {}).get(region)
        if disk is None:
            return self.missing(r, f"disk {disk_type} in {region}")
        per_node = _month(hourly) + float(disk) * float(nc.get("diskSizeGb", 100))
        detail = f"{lo}-{hi} x {machine}{' spot' if spot else ''} + {nc.get('diskSizeGb', 100)} GiB {disk_type}"
        self.add(region, _part(r.name), r, detail, lo * per_node, hi * per_node)
        n_lo, n_hi = self.nodes.get(region, (0, 0))
        self.nodes[region] = (n_lo + lo, n_hi + hi)

    def router_nat(self, r: Record) -> None:
        """Priced after every node pool: the gateway's hourly rate counts the region's VMs."""
        region = str(r.inputs["region"])
        g = self.p["cloud_nat_gateway_hour"]
        lo, hi = self.nodes.get(region, (0, 0))

        def month(vms: int) -> float:
            hourly = g["capped"] if vms > g["vm_cap"] else vms * g["per_vm"]
            return _month(hourly + g["per_ip"]) + self.p["cloud_nat_data_per_gib"][region] * self.usage.nat_egress_gib

        self.add(region, "nat", r, f"{lo}-{hi} VMs, 1 IP, {self.usage.nat_egress_gib:g} GiB", month(lo), month(hi))

    def gcs_bucket(self, r: Record) -> None:
        region = str(r.inputs.get("location", "")).lower()
        rate = (self.p["gcs_standard_per_gib_month"] or {}).get(region)
        if rate is None or str(r.inputs.get("storageClass", "STANDARD")) != "STANDARD":
            return self.missing(r, f"{r.inputs.get('storageClass', 'STANDARD')} storage in {region}")
        self.add(region, "buckets", r, f"{self.usage.bucket_gib:g} GiB", rate * self.usage.bucket_gib)

    def forwarding_rule(self, r: Record) -> None:
        self.forwarding_rules += 1
        rates = self.p["gclb_forwarding_rule_hour"]
        rate = rates["first_5"] if self.forwarding_rules <= 5 else rates["additional"]
        self.add("global", "cdn and load balancers", r, "forwarding rule", _month(rate))

    def url_map(self, r: Record) -> None:
        if r.inputs.get("defaultService") or r.inputs.get("hostRules") or r.inputs.get("pathMatchers"):
            gib = self.usage.lb_data_gib
            self.add("global", "cdn and load balancers", r, f"{gib:g} GiB processed", gib * self.p["gclb_data_per_gib"])
        else:  # the HTTP -> HTTPS redirect: its few bytes are inside the processed GiB above
            self.add("global", "cdn and load balancers", r, "redirect (data counted on the main URL map)", 0.0)

    def backend_bucket(self, r: Record) -> None:
        """Cloud CDN in front of a bucket: cache egress to Asia Pacific (the stacks' users), cache
        fill at the top of the page's range (an upper bound), lookups; usage from ``phasescale:usage``."""
        if not r.inputs.get("enableCdn"):
            return
        c, u = self.p["cloud_cdn"], self.usage
        month = (u.cdn_egress_gib * c["cache_egress_per_gib"]["asia_pacific"] + u.cdn_fill_gib * c["cache_fill_per_gib_max"]
                 + u.cdn_lookups / 10_000 * c["lookups_per_10k"])
        self.add("global", "cdn and load balancers", r,
                 f"Cloud CDN: {u.cdn_egress_gib:g} GiB to Asia Pacific, {u.cdn_fill_gib:g} GiB fill, {u.cdn_lookups:g} lookups", month)

    def global_address(self, r: Record) -> None:
        if r.inputs.get("addressType", "EXTERNAL") != "EXTERNAL" or not self.has_global_rule:
            return self.missing(r, f"a global {r.inputs.get('addressType', 'EXTERNAL')} address not held by a forwarding rule")
        self.add("global", "cdn and load balancers", r, "static IP held by the forwarding rule", _month(self.p["gce_ip_on_forwarding_rule_hour"]))

    def by_key(self, key: str, what: str | Callable[[Record], str]) -> Callable[[Record], None]:
        """A type whose price section (``key``) is ``null`` today: always unpriced, named by
        ``what``. Filling the section needs a handler here too, or it would stay unpriced."""

        def price(r: Record) -> None:
            named = what(r) if callable(what) else what
            self.missing(r, named if self.p.get(key) is None else f"{named} (in the table, not yet read by infra/cost.py)")

        return price

    # --- Kubernetes volumes and load balancers (on the region's cluster) ---
    def cluster_of(self, provider: str) -> tuple[str, str] | None:
        """``(cloud, region)`` of the cluster behind a Kubernetes provider ``<region>-k8s``."""
        return self.k8s_clusters.get(provider)

    def volume(self, r: Record, provider: str, part: str, what: str, gib: float, count: int, klass: str | None) -> None:
        cluster = self.cluster_of(provider)
        if cluster is None or gib * count == 0:  # an existing cluster: its owner pays its disks
            return
        cloud, region = cluster
        disk = GKE_STORAGE_CLASSES.get(klass) if cloud == "gke" else None
        rate = (self.p["gce_disks"].get(disk) or {}).get(region) if disk else None
        if rate is None:
            return self.missing(r, f"{what} volumes ({count} x {gib:g} GiB, class {klass or 'default'}) in {region}")
        self.add(region, part, r, f"{what}: {count} x {gib:g} GiB {disk}", count * gib * float(rate))

    def k8s_object(self, r: Record) -> None:
        obj, prov = r.inputs, r.provider
        kind, spec = obj.get("kind"), obj.get("spec") or {}
        if kind == "Cluster" and str(obj.get("apiVersion", "")).startswith("postgresql.cnpg.io/"):
            n = int(spec.get("instances", 1))
            for key in ("storage", "walStorage"):
                if spec.get(key):
                    self.volume(r, prov, "postgres", f"CNPG {key}", _gib(spec[key]["size"]), n, spec[key].get("storageClass"))
        elif kind == "StatefulSet":
            for t in spec.get("volumeClaimTemplates") or []:
                ts = t.get("spec") or {}
                self.volume(r, prov, "volumes", t["metadata"]["name"], _gib(ts["resources"]["requests"]["storage"]),
                            int(spec.get("replicas", 1)), ts.get("storageClassName"))
        elif kind == "PersistentVolumeClaim":
            self.volume(r, prov, "volumes", "PVC", _gib(spec["resources"]["requests"]["storage"]), 1, spec.get("storageClassName"))
        elif kind == "Milvus":
            etcd = (((spec.get("dependencies") or {}).get("etcd") or {}).get("inCluster") or {}).get("values") or {}
            size = (etcd.get("persistence") or {}).get("size")
            if size:
                self.volume(r, prov, "milvus", "etcd", _gib(size), int(etcd.get("replicaCount", 1)), etcd.get("global", {}).get("storageClass"))
        elif kind == "Elasticsearch":
            for ns in spec.get("nodeSets") or []:
                for t in ns.get("volumeClaimTemplates") or []:
                    ts = t.get("spec") or {}
                    self.volume(r, prov, "logging", f"Elasticsearch {ns['name']}", _gib(ts["resources"]["requests"]["storage"]),
                                int(ns.get("count", 1)), ts.get("storageClassName"))
        elif kind == "KafkaNodePool":
            st = spec.get("storage") or {}
            if st.get("type") == "persistent-claim":
                self.volume(r, prov, "queue", f"Kafka {obj['metadata']['name']}", _gib(st["size"]), int(spec.get("replicas", 1)), st.get("class"))
        elif kind == "RabbitmqCluster":
            st = spec.get("persistence") or {}
            self.volume(r, prov, "queue", "RabbitMQ", _gib(st.get("storage", "10Gi")), int(spec.get("replicas", 1)), st.get("storageClassName"))
        elif is_stateful(r.type) and self.cluster_of(prov) and kind not in ("Kafka", "KafkaTopic"):
            # A data resource whose volumes this table does not model yet: named, never a silent zero.
            self.missing(r, f"the volumes of {kind} {obj['metadata']['name']} in {self.cluster_of(prov)[1]}")  # type: ignore[index]
        if kind == "Milvus" and self.cluster_of(prov):  # etcd above; MinIO and the message queue are not modelled
            self.missing(r, f"Milvus {obj['metadata']['name']}'s object-store and queue volumes in {self.cluster_of(prov)[1]}")  # type: ignore[index]
        if kind == "Service" and spec.get("type") == "LoadBalancer" and self.cluster_of(prov):
            self.missing(r, f"the regional load balancer of Service {obj['metadata']['name']} in {self.cluster_of(prov)[1]}")  # type: ignore[index]

    def helm_release(self, r: Record) -> None:
        service = ((r.inputs.get("values") or {}).get("controller") or {}).get("service") or {}
        if r.inputs.get("chart") == "kubernetes-ingress" and service.get("type") == "LoadBalancer" and self.cluster_of(r.provider):
            return self.missing(r, f"the ingress controller's regional load balancer in {self.cluster_of(r.provider)[1]}")  # type: ignore[index]
        if r.inputs.get("chart") != "kube-prometheus-stack":
            return
        values = r.inputs.get("values") or {}
        for comp, spec_key, store_key in (("prometheus", "prometheusSpec", "storageSpec"), ("alertmanager", "alertmanagerSpec", "storage")):
            cspec = (values.get(comp) or {}).get(spec_key) or {}
            tmpl = ((cspec.get(store_key) or {}).get("volumeClaimTemplate") or {}).get("spec") or {}
            if tmpl:
                self.volume(r, r.provider, "monitoring", comp, _gib(tmpl["resources"]["requests"]["storage"]),
                            int(cspec.get("replicas", 1)), tmpl.get("storageClassName"))

    # --- AWS ---
    def region_of(self, r: Record) -> str:
        return self.aws_regions.get(r.provider, r.provider)

    def eks_cluster(self, r: Record) -> None:
        # The config allows 1.34-1.36, the minors in EKS standard support in 2026-12
        # (components/versions.py); any other minor is billed at the extended-support rate.
        support = "standard" if str(r.inputs.get("version")) in EKS_STANDARD_SUPPORT else "extended"
        self.add(self.region_of(r), "cluster fee", r, f"EKS cluster ({support} support)", _month(self.p["eks_cluster_hour"][support]))

    def node_group(self, r: Record) -> None:
        i = r.inputs
        region = self.region_of(r)
        kind = str(i.get("instanceTypes", ["?"])[0])
        spot = i.get("capacityType") == "SPOT"
        scaling = i.get("scalingConfig") or {}
        lo, hi = int(scaling.get("minSize", 0)), int(scaling.get("maxSize", 0))
        pair = _pair(self.p["ec2_instances"], kind, region)
        if pair is None or (spot and pair[1] is None):
            return self.missing(r, f"instance {kind} ({'spot' if spot else 'on-demand'}) in {region}")
        if self.p.get("ebs") is None:
            return self.missing(r, f"EBS gp3 root volumes in {region}")
        hourly = pair[1] if spot else pair[0]
        assert hourly is not None
        self.add(region, _part(str(i.get("nodeGroupName", r.name)) if "vllm" not in r.name else r.name), r,
                 f"{lo}-{hi} x {kind}", lo * _month(hourly), hi * _month(hourly))


    def eip(self, r: Record) -> None:
        self.add(self.region_of(r), "nat", r, "public IPv4 address", _month(self.p["aws_public_ipv4_hour"]))

    def kms_key(self, r: Record) -> None:  # first year: each annual rotation later adds a backing key's $1
        self.add(self.region_of(r), "keys", r, "KMS key (first year)", self.p["kms_key_month"])


def is_cloud_type(type_: str) -> bool:
    return type_.startswith(("gcp:", "aws:")) and not type_.startswith("pulumi:")


def estimate(records: Iterable[Record], usage: Usage | None = None) -> Estimate:
    """Price every record of a plan. Unpriced resources are listed in ``Estimate.unpriced``."""
    records = list(records)
    pr = _Pricer(records, usage or Usage())
    handlers = {
        "gcp:container/cluster:Cluster": pr.gke_cluster,
        "gcp:container/nodePool:NodePool": pr.node_pool,
        "gcp:compute/routerNat:RouterNat": pr.router_nat,
        "gcp:storage/bucket:Bucket": pr.gcs_bucket,
        "gcp:compute/globalForwardingRule:GlobalForwardingRule": pr.forwarding_rule,
        "gcp:compute/uRLMap:URLMap": pr.url_map,
        "gcp:compute/backendBucket:BackendBucket": pr.backend_bucket,
        "gcp:redis/instance:Instance": pr.by_key(
            "memorystore_redis", lambda r: f"Memorystore {r.inputs.get('tier')} {r.inputs.get('memorySizeGb')} GiB in {r.inputs.get('region')}"),
        "gcp:redis/cluster:Cluster": pr.by_key(
            "memorystore_redis_cluster", lambda r: f"Memorystore cluster node {r.inputs.get('nodeType')} in {r.inputs.get('region')}"),
        "gcp:sql/databaseInstance:DatabaseInstance": pr.by_key(
            "cloud_sql", lambda r: f"Cloud SQL {(r.inputs.get('settings') or {}).get('tier')} in {r.inputs.get('region')}"),
        "gcp:cloudrunv2/service:Service": pr.by_key("cloud_run", lambda r: f"Cloud Run in {r.inputs.get('location')}"),
        "gcp:compute/globalAddress:GlobalAddress": pr.global_address,
        "gcp:storage/transferJob:TransferJob": pr.by_key("storage_transfer", "Storage Transfer replication"),
        "aws:eks/cluster:Cluster": pr.eks_cluster,
        "aws:eks/nodeGroup:NodeGroup": pr.node_group,
        "aws:rds/instance:Instance": pr.by_key(
            "rds", lambda r: f"RDS {r.inputs.get('instanceClass')} ({'Multi-AZ' if r.inputs.get('multiAz') else 'single-AZ'}) + {r.inputs.get('allocatedStorage')} GiB {r.inputs.get('storageType')} in {pr.region_of(r)}"),
        "aws:elasticache/replicationGroup:ReplicationGroup": pr.by_key(
            "elasticache", lambda r: f"ElastiCache {r.inputs.get('nodeType')} in {pr.region_of(r)}"),
        "aws:ec2/natGateway:NatGateway": pr.by_key("nat_gateway", lambda r: f"NAT gateway hours and data in {pr.region_of(r)}"),
        "aws:ec2/eip:Eip": pr.eip,
        "aws:kms/key:Key": pr.kms_key,
        "aws:s3/bucket:Bucket": pr.by_key("s3", lambda r: f"S3 Standard storage in {pr.region_of(r)}"),
        "aws:cloudfront/distribution:Distribution": pr.by_key(
            "cloudfront", lambda r: f"CloudFront egress ({r.inputs.get('priceClass')})"),
        "aws:msk/cluster:Cluster": pr.by_key("msk", lambda r: f"MSK broker {((r.inputs.get('brokerNodeGroupInfo') or {}).get('instanceType'))}"),
        "gcp:managedkafka/cluster:Cluster": pr.by_key("managed_kafka", "Managed Service for Apache Kafka vCPU, memory and storage"),
    }
    last = {"gcp:compute/routerNat:RouterNat"}  # needs the node counts of its region
    for r in [*(r for r in records if r.type not in last), *(r for r in records if r.type in last)]:
        handler = handlers.get(r.type)
        if handler is not None:
            try:
                handler(r)
            except KeyError as err:  # a region or size the table has no row for: named, never a traceback
                pr.missing(r, f"{r.type} in {pr.region_of(r)} (no row {err.args[0]!r})")
        elif r.is_kubernetes_object or r.type == "kubernetes:helm.sh/v3:Release":
            try:
                pr.k8s_object(r) if r.is_kubernetes_object else pr.helm_release(r)
            except (KeyError, ValueError) as err:  # a quantity or field the table cannot read: named
                pr.missing(r, f"a volume it could not read ({err})")
        elif is_cloud_type(r.type) and r.type not in FREE_TYPES:
            pr.missing(r, "this resource type (not modelled by infra/cost.py)")
    return pr.est
