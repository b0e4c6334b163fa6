"""device/model."""
