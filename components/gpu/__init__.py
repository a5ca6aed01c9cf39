"""gpu part."""
