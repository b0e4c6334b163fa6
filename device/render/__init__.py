"""device/render."""
