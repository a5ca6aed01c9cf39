"""redis part."""
