"""convert/data."""
