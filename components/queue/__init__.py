"""The queue part: Kafka (Strimzi, MSK, Managed Kafka) or RabbitMQ, and what its clients read."""
