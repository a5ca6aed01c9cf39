"""cdn part."""
