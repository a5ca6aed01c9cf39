"""milvus part."""
