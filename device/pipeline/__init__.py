"""device/pipeline."""
