"""monitoring part."""
