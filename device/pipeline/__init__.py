"""The threaded device runtime: capture -> prepare -> inference -> decode -> output joined by
one-slot LatestSlot handoffs (stages.py, capture.py, handoff.py), the invoke watchdog and
stale thresholds, RunStatus and the stats and meters behind it, core pinning, systemd
notifications, and `pisight run` itself (run.py). May import device.model, device.sources,
device.render and device.live. Render and live import only status.py and watchdog.py from
here, so those two (and staleness.py, which they read) must not import the rest.
"""
