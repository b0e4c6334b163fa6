"""Tests of device/events/."""
