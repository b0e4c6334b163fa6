"""convert/conversion."""
