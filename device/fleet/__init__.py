"""device/fleet."""
