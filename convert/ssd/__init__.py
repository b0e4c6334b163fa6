"""convert/ssd."""
