"""MilvusCluster: the Milvus operator's custom resource and its object store."""
