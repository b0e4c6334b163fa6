"""convert/optimize."""
