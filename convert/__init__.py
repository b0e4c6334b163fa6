"""pisight converter (workstation half)."""
