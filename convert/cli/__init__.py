"""convert/cli."""
