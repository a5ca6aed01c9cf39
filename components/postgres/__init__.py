"""postgres part."""
