"""The managed Kafka engines: Amazon MSK (eks) and Google Managed Service for Apache Kafka (gke).

MSK (pulumi-aws ``aws.msk.Cluster``, MSK developer guide "Username and password authentication with
AWS Secrets Manager"): brokers in the cluster's private subnets (one per zone, the broker count a
multiple of them), EBS storage per broker, TLS between clients and brokers and inside the cluster,
at rest under a customer-managed KMS key; SASL/SCRAM only, from a Secrets Manager secret whose name
starts with ``AmazonMSK_`` and which is encrypted with a customer-managed KMS key (MSK cannot read a
secret under the default ``aws/secretsmanager`` key), associated by ``ScramSecretAssociation``, with
the resource policy that lets ``kafka.amazonaws.com`` read it kept in state (``SecretPolicy``; the
provider's ScramSecretAssociation docs). Its security group admits 9096 from the EKS cluster security
group only (the managed nodes' group). Broker defaults from an ``aws.msk.Configuration``.

Managed Kafka (pulumi-gcp ``gcp.managedkafka.Cluster``, 10.2.0): vCPUs (3 at least) and memory (1-8
GiB per vCPU), reachable in the GKE cluster's own subnet (its network config), rebalanced on scale up.
Clients use SASL/PLAIN with a service account that holds ``roles/managedkafka.client``: the e-mail as
username, the base64 key file as password (Managed Service for Apache Kafka "Authenticate to open
source Apache Kafka API"); the key is created here and kept only in the connection Secret.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pulumi

from components.queue.plan import MSK_SCRAM_PORT, QueuePlan, kafka_config
from components.sdk import aws, gcp

MSK_KAFKA_VERSION = "4.1.x"
"""MSK "Supported Apache Kafka versions": 4.1.x (KRaft) is the newest line it runs."""
MANAGED_KAFKA_VERSION = "3.7.x"
"""The version the pinned provider documents as the create-time default (pulumi-gcp 10.2.0)."""
MANAGED_KAFKA_ROLE = "roles/managedkafka.client"


@dataclass(frozen=True)
class MskOptions:
    cloud_name: str
    vpc_id: pulumi.Input[str]
    subnet_ids: list[pulumi.Input[str]]
    node_security_group_id: pulumi.Input[str]
    """The EKS cluster security group (attached to every managed node group's nodes)."""
    username: str
    password: pulumi.Input[str]


@dataclass(frozen=True)
class ManagedKafkaOptions:
    cloud_name: str
    project: str
    region: str
    subnet: pulumi.Input[str]
    """``projects/P/regions/R/subnetworks/S`` of the GKE cluster's subnet."""


def server_properties(p: QueuePlan) -> str:
    """MSK's broker configuration in server.properties form."""
    return "".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}\n" for k, v in kafka_config(p).items())


def account_id(cloud_name: str) -> str:
    """A service account id (6-30 characters): the cluster's name, or its head and a hash when longer."""
    if len(cloud_name) <= 30:
        return cloud_name
    return f"{cloud_name[:21].rstrip('-')}-{hashlib.sha256(cloud_name.encode()).hexdigest()[:8]}"


def topic_configs(p: QueuePlan) -> dict[str, str]:
    """Per-topic settings (strings, as both topic APIs take them)."""
    return {"min.insync.replicas": str(p.min_insync_replicas), "retention.ms": str(p.retention_hours * 3_600_000)}


def msk(name: str, p: QueuePlan, o: MskOptions, protect: bool, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The MSK cluster and its SCRAM secret; returns the SASL/SCRAM bootstrap brokers."""
    child = pulumi.ResourceOptions(parent=parent)
    stateful = pulumi.ResourceOptions(parent=parent, protect=protect)
    key = aws.kms.Key(f"{name}-kms", description=f"MSK {o.cloud_name}: data at rest and its SCRAM secret",
                      enable_key_rotation=True, deletion_window_in_days=30, opts=stateful)
    sg = aws.ec2.SecurityGroup(
        f"{name}-sg", description=f"MSK {o.cloud_name}: SASL/SCRAM over TLS from the EKS nodes only", vpc_id=o.vpc_id,
        ingress=[{"protocol": "tcp", "from_port": MSK_SCRAM_PORT, "to_port": MSK_SCRAM_PORT,
                  "security_groups": [o.node_security_group_id], "description": "EKS cluster security group"}],
        opts=child,
    )
    config = aws.msk.Configuration(
        f"{name}-config", name=o.cloud_name, kafka_versions=[MSK_KAFKA_VERSION],
        server_properties=server_properties(p), opts=child,
    )
    cluster = aws.msk.Cluster(
        name,
        cluster_name=o.cloud_name,
        kafka_version=MSK_KAFKA_VERSION,
        number_of_broker_nodes=p.brokers,
        broker_node_group_info={
            "instance_type": p.msk_instance_type,
            "client_subnets": o.subnet_ids,
            "security_groups": [sg.id],
            "storage_info": {"ebs_storage_info": {"volume_size": p.storage_gib}},
        },
        client_authentication={"sasl": {"scram": True}, "unauthenticated": False},
        encryption_info={
            "encryption_at_rest_kms_key_arn": key.arn,
            "encryption_in_transit": {"client_broker": "TLS", "in_cluster": True},
        },
        configuration_info={"arn": config.arn, "revision": config.latest_revision},
        opts=stateful,
    )
    secret = aws.secretsmanager.Secret(
        f"{name}-scram", name=f"AmazonMSK_{o.cloud_name}", kms_key_id=key.key_id, recovery_window_in_days=7 if protect else 0, opts=child,
    )
    version = aws.secretsmanager.SecretVersion(
        f"{name}-scram-value", secret_id=secret.id,
        # The password arrives as a secret output, so the JSON built from it stays secret.
        secret_string=pulumi.Output.from_input(o.password).apply(
            lambda pw: json.dumps({"username": o.username, "password": pw})),
        opts=child,
    )
    aws.secretsmanager.SecretPolicy(
        f"{name}-scram-policy", secret_arn=secret.arn,
        policy=secret.arn.apply(lambda arn: json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "AWSKafkaResourcePolicy", "Effect": "Allow", "Principal": {"Service": "kafka.amazonaws.com"},
            "Action": "secretsmanager:getSecretValue", "Resource": arn}]})),
        opts=child,
    )
    aws.msk.ScramSecretAssociation(
        f"{name}-scram-association", cluster_arn=cluster.arn, secret_arn_lists=[secret.arn],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[version]),
    )
    for topic in p.topics:  # MSK topic API (provider's aws.msk.Topic); configs as JSON
        aws.msk.Topic(
            f"{name}-topic-{topic}", cluster_arn=cluster.arn, name=topic, partition_count=p.partitions,
            replication_factor=p.replication_factor, configs=json.dumps(topic_configs(p)), opts=stateful,
        )
    return cluster.bootstrap_brokers_sasl_scram


def managed_kafka(name: str, p: QueuePlan, o: ManagedKafkaOptions, namespace: str, protect: bool,
                  parent: pulumi.Resource) -> tuple[pulumi.Output[str], pulumi.Output[str], pulumi.Output[str]]:
    """The Managed Kafka cluster and its client identity; returns (bootstrap, username, password)."""
    child = pulumi.ResourceOptions(parent=parent)
    cluster = gcp.managedkafka.Cluster(
        name,
        cluster_id=o.cloud_name,
        project=o.project,
        location=o.region,
        kafka_version=MANAGED_KAFKA_VERSION,
        capacity_config={"vcpu_count": str(p.managed_kafka_vcpus),
                         "memory_bytes": str(p.managed_kafka_memory_gib * 1024**3)},
        gcp_config={"access_config": {"network_configs": [{"subnet": o.subnet}]}},
        rebalance_config={"mode": "AUTO_REBALANCE_ON_SCALE_UP"},
        deletion_policy="PREVENT" if protect else "DELETE",
        labels={"part-of": "phasescale", "namespace": namespace},
        opts=pulumi.ResourceOptions(parent=parent, protect=protect),
    )
    for topic in p.topics:
        gcp.managedkafka.Topic(
            f"{name}-topic-{topic}", cluster=cluster.cluster_id, topic_id=topic, project=o.project, location=o.region,
            partition_count=p.partitions, replication_factor=p.replication_factor, configs=topic_configs(p),
            deletion_policy="PREVENT" if protect else "DELETE",
            opts=pulumi.ResourceOptions(parent=parent, protect=protect),
        )
    account = gcp.serviceaccount.Account(
        f"{name}-client", project=o.project, account_id=account_id(o.cloud_name),
        display_name=f"Kafka client of {o.cloud_name} (SASL/PLAIN)", opts=child,
    )
    gcp.projects.IAMMember(
        f"{name}-client-role", project=o.project, role=MANAGED_KAFKA_ROLE,
        member=account.email.apply(lambda e: f"serviceAccount:{e}"), opts=child,
    )
    key = gcp.serviceaccount.Key(f"{name}-client-key", service_account_id=account.name, opts=child)
    return cluster.bootstrap_address, account.email, pulumi.Output.secret(key.private_key)
