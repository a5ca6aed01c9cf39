"""LoggingStack: container logs into Elasticsearch/Kibana (ECK, Filebeat) or Loki (Alloy, Grafana)."""
