"""How long the device waits before it calls a part of the run stalled, all in one place.

    STALE_AFTER_S     no inference result for this long: the run is stale. Reported: the
                      stream's red marker, /healthz 503, pisight_up 0 (RunStatus.stale_reason)
    SOURCE_STALL_S    no frame from a live camera for this long: close it and reopen it
                      (CaptureOptions.stall_timeout_s); the source counts as offline meanwhile
    INVOKE_TIMEOUT_S  one invoke running this long: abandon it and restart inference on a new
                      interpreter (PipelineOptions.invoke_timeout_s)

The first only reports, the other two act, and they watch different clocks: the age of
the last result covers every cause (camera, invoke, a dead thread), while a reopen or a
restart fixes one cause and costs a picture gap or a model load. So they are three
settings, tuned apart (the fault tests shorten each on its own), not one.
"""

from __future__ import annotations

# One verdict for people and machines: the stale marker on the picture and /healthz used to
# differ (2 s and 5 s), so between the two the page showed a STALE banner beside an
# "online" badge. 5 s keeps a slow model (seconds an invoke on a Pi Zero) from flapping.
STALE_AFTER_S = 5.0

# A reopen drops the picture for a second or more, so a merely slow camera must not get one.
# Not above STALE_AFTER_S: the last result always comes after the last camera frame, so a
# silent camera is then found offline before results go stale, and the marker and /healthz
# name the real cause ("source offline"), not "inference stalled".
SOURCE_STALL_S = 5.0

# Twice the stale threshold: viewers already see the stall; a model load is only worth it
# once the invoke is clearly hung rather than slow.
INVOKE_TIMEOUT_S = 10.0
