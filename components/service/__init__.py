"""service part."""
