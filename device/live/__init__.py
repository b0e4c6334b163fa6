"""device/live."""
