"""GKE and EKS clusters and the add-ons every cluster gets."""
