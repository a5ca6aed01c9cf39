"""MonitoringStack: kube-prometheus-stack, alert and recording rules, Alertmanager config."""
