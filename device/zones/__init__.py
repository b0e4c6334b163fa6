"""Zones and counting lines: who is where, and who crossed which way."""
