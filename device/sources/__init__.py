"""device/sources."""
