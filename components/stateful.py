"""What counts as state: the resource types whose replacement or deletion loses data.

Pure. The diff command names every change to these on its own line with the word ``stateful``;
components register them with :func:`protect_opts` so production stacks refuse to delete them.
"""

from __future__ import annotations

STATEFUL_TYPES = frozenset(
    {
        "kubernetes:postgresql.cnpg.io/v1:Cluster",
        "kubernetes:redis.redis.opstreelabs.in/v1beta2:Redis",
        "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisReplication",
        "kubernetes:redis.redis.opstreelabs.in/v1beta2:RedisCluster",
        "kubernetes:milvus.io/v1beta1:Milvus",
        "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch",
        "kubernetes:core/v1:PersistentVolumeClaim",
        "kubernetes:apps/v1:StatefulSet",
        "gcp:sql/databaseInstance:DatabaseInstance",
        "gcp:redis/instance:Instance",
        "gcp:redis/cluster:Cluster",
        "gcp:memorystore/instance:Instance",
        "gcp:storage/bucket:Bucket",
        "aws:rds/instance:Instance",
        "aws:rds/cluster:Cluster",
        "aws:elasticache/replicationGroup:ReplicationGroup",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        # The queue part (components/queue): brokers' volumes hang off these; a deleted topic loses its messages.
        "kubernetes:kafka.strimzi.io/v1:Kafka",
        "kubernetes:kafka.strimzi.io/v1:KafkaNodePool",
        "kubernetes:kafka.strimzi.io/v1:KafkaTopic",
        "kubernetes:rabbitmq.com/v1beta1:RabbitmqCluster",
        "aws:msk/cluster:Cluster",
        "aws:msk/topic:Topic",
        "gcp:managedkafka/cluster:Cluster",
        "gcp:managedkafka/topic:Topic",
    }
)

REPLACE_ON_CHANGE: dict[str, tuple[str, ...]] = {
    # Inputs whose change makes the provider replace the resource (force-new), by type.
    "gcp:sql/databaseInstance:DatabaseInstance": (
        "name", "region", "project", "masterInstanceName", "encryptionKeyName",
    ),
    "gcp:storage/bucket:Bucket": ("name", "location", "project"),
    "gcp:redis/instance:Instance": ("name", "region", "tier", "redisVersion", "authorizedNetwork"),
    "gcp:redis/cluster:Cluster": (
        "name", "region", "project", "authorizationMode", "transitEncryptionMode", "pscConfigs",
    ),
    "aws:rds/instance:Instance": (
        "identifier", "engine", "storageEncrypted", "kmsKeyId", "username", "dbName", "availabilityZone",
        "characterSetName", "timezone",
    ),
    "aws:elasticache/replicationGroup:ReplicationGroup": (
        "replicationGroupId", "engine", "atRestEncryptionEnabled", "subnetGroupName", "clusterMode",
    ),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:s3/bucketV2:BucketV2": ("bucket",),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec.storageClassName", "spec.accessModes"),
    "kubernetes:apps/v1:StatefulSet": ("spec.serviceName", "spec.volumeClaimTemplates", "spec.selector"),
    "kubernetes:postgresql.cnpg.io/v1:Cluster": ("spec.bootstrap",),
    # standalone -> cluster: a new topology over the same etcd and bucket (MilvusCluster sets
    # replace_on_changes, so a protected stack refuses it until the data is migrated).
    "kubernetes:milvus.io/v1beta1:Milvus": ("spec.mode",),
    # Force-new inputs of the managed Kafka clusters (provider schemas: clusterName, clientSubnets and the
    # at-rest key on MSK; clusterId, location and the KMS key on Managed Kafka); a topic's name.
    "aws:msk/cluster:Cluster": (
        "clusterName", "brokerNodeGroupInfo.clientSubnets", "encryptionInfo.encryptionAtRestKmsKeyArn",
    ),
    "aws:msk/topic:Topic": ("name", "clusterArn"),
    "gcp:managedkafka/cluster:Cluster": ("clusterId", "location", "project", "gcpConfig.kmsKey"),
    "gcp:managedkafka/topic:Topic": ("topicId", "cluster", "location"),
}


def is_stateful(type_: str) -> bool:
    return type_ in STATEFUL_TYPES
