"""PostgresCluster: CloudNativePG, Cloud SQL or RDS, with PgBouncer, sizing and the connection budget."""
