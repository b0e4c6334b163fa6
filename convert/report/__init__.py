"""convert/report."""
