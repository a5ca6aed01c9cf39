"""RedisCluster (operator, Memorystore, ElastiCache) and RedisBackup."""
