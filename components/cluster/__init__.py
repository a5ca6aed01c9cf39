"""cluster part."""
