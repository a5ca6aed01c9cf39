"""Application services: StatelessService on Kubernetes and CloudRunService on GCP."""
