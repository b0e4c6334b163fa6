"""The decode thread's tracking step: tracker, zone and line counting, events, on each result.

    tracking = TrackingStage(options.tracker, options.zones, options.lines,
                             options.events, event_sinks=[publisher])
    detections = tracking.apply(frame, detections)     # now with track_ids; events sent
    tracking.counts(), tracking.active                 # for RunStatus (any thread)
    tracking.close()                                   # the run ended: open events end

Runs right after decoding, on every processed frame in order, so a track never skips a
frame the detector saw and events leave in the order they happened; it costs well under
a millisecond (scripts/benchmark_tracking.py). Event sinks only queue (EventSink).
"""

from __future__ import annotations

from collections.abc import Sequence

from pisight.device.events.event import EventMessage, EventOptions, EventSink
from pisight.device.events.maker import EventMaker
from pisight.device.model.detections import Detections
from pisight.device.sources.frames import Frame
from pisight.device.track.tracker import Tracker
from pisight.device.track.tracks import TrackerOptions
from pisight.device.zones.counting import Counts, ZoneCounter
from pisight.device.zones.geometry import Line, Zone


class TrackingStage:
    def __init__(
        self, options: TrackerOptions, zones: Sequence[Zone] = (), lines: Sequence[Line] = (),
        events: EventOptions | None = None, event_sinks: Sequence[EventSink] = (),
    ) -> None:  # fmt: skip
        self.tracker = Tracker(options)
        self._counter = ZoneCounter(zones, lines)
        self._events = EventMaker(events) if events else None
        self._sinks = tuple(event_sinks)
        self.active = 0
        """Confirmed tracks alive after the last frame (read by other threads: an int)."""

    def apply(self, frame: Frame, detections: Detections) -> Detections:
        tracked = self.tracker.update(detections, frame.t_capture, (frame.width, frame.height))
        tracks, ended = self.tracker.tracks, self.tracker.ended
        self._counter.update(tracks, ended, frame.width, frame.height)
        self.active = len(tracks)
        if self._events is not None:
            zones = self._counter.zones_of() if tracks else {}
            self._send(self._events.update(tracks, ended, zones, frame.t_capture))
        return tracked

    def close(self) -> None:
        """End the open events: the run is over, nobody is watched any more."""
        if self._events is not None:
            self._send(self._events.close())

    @property
    def events_started(self) -> int | None:
        return self._events.started if self._events is not None else None

    def counts(self) -> Counts:
        return self._counter.counts()

    def _send(self, messages: list[EventMessage]) -> None:
        for message in messages:
            for sink in self._sinks:
                sink.send(message)
