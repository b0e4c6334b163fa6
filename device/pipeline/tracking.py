"""The decode thread's tracking step: tracker, then zone and line counting, on each result.

    tracking = TrackingStage(options.tracker, options.zones, options.lines)
    detections = tracking.apply(frame, detections)     # now with track_ids
    tracking.counts(), tracking.active                 # for RunStatus (any thread)

Runs right after decoding, on every processed frame in order, so a track never skips a
frame the detector saw; it costs well under a millisecond (scripts/benchmark_tracking.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from pisight.device.model.detections import Detections
from pisight.device.sources.frames import Frame
from pisight.device.track.tracker import Tracker
from pisight.device.track.tracks import TrackerOptions
from pisight.device.zones.counting import Counts, ZoneCounter
from pisight.device.zones.geometry import Line, Zone


class TrackingStage:
    def __init__(
        self, options: TrackerOptions, zones: Sequence[Zone] = (), lines: Sequence[Line] = ()
    ) -> None:
        self.tracker = Tracker(options)
        self._counter = ZoneCounter(zones, lines)
        self.active = 0
        """Confirmed tracks alive after the last frame (read by other threads: an int)."""

    def apply(self, frame: Frame, detections: Detections) -> Detections:
        tracked = self.tracker.update(detections, frame.t_capture, (frame.width, frame.height))
        self._counter.update(self.tracker.tracks, self.tracker.ended, frame.width, frame.height)
        self.active = len(self.tracker.tracks)
        return tracked

    def counts(self) -> Counts:
        return self._counter.counts()
