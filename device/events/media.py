"""Snapshots and clips of events: EventMedia, a FrameSink and an EventSink at once.

    media = EventMedia(MediaOptions(folder=Path("/var/lib/pisight/events"), clips=True))
    StreamRenderer([media, ...]); Pipeline(..., sinks=[media], event_sinks=[media])
    media.start() ... media.close()

- Snapshot: the first annotated frame at or after the event's best-score moment (a new
  event, or an update with a better score), boxes drawn; written as <id>.jpg and handed
  to on_snapshot (MQTT's snapshot topic).
- Clip: a ring buffer keeps the last pre_roll_s (+ RING_MARGIN_S) of encoded frames. A
  new event while no clip records opens one, <id>.mp4, with the ring's frames from
  pre_roll_s before its object's first sighting (for an object that took longer than the
  margin to become an event, from as far back as the ring reaches: still pre_roll_s
  before the event began). Events that start while it records join it; it closes
  post_roll_s after the last of them ended, or at max_clip_s. Each event's record names
  its clip ("clip", "clip_start", "clip_end"): one encode per frame, however many objects.
- <id>.json holds the event's latest state.

The output thread only appends to the ring and queues work for MediaWriter
(media_writer.py, the `event-media` thread: decode, encode, atomic writes, retention).
"""

from __future__ import annotations

import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pisight.device.events.archive import EventArchive, Retention
from pisight.device.events.event import EventMessage, EventState
from pisight.device.events.media_writer import MediaWriter
from pisight.device.render.frame_sink import AnnotatedFrame

RING_MARGIN_S = 2.0
"""The ring holds pre_roll_s and this much more: an event starts min_hits frames (or, for a
low score, longer) after its object's first sighting, and the pre-roll counts from that."""


@dataclass(frozen=True)
class MediaOptions:
    folder: Path
    snapshots: bool = True
    clips: bool = False
    pre_roll_s: float = 5.0
    post_roll_s: float = 5.0
    clip_fps: float = 10.0
    """Frames per second a clip keeps: every frame it keeps costs a JPEG and an MP4 encode
    on the Pi, and 10 show what happened."""
    max_clip_s: float = 120.0
    """A clip of an object that never leaves ends here; the event goes on."""
    retention: Retention = field(default_factory=Retention)

    @property
    def enabled(self) -> bool:
        return self.snapshots or self.clips


@dataclass
class _Recording:
    """The clip being recorded, as the output thread sees it."""

    clip_id: str
    since: float
    """Pre-roll from here: its first event's first sighting less pre_roll_s."""
    members: list[str]
    open_members: set[str]
    first_t: float | None = None
    last_t: float | None = None
    stop_at: float | None = None


class EventMedia:
    frame_format = "jpeg"

    def __init__(self, options: MediaOptions, on_snapshot: Callable[[bytes], None] | None = None):
        self.options = options
        self.archive = EventArchive(options.folder, options.retention)  # a bad folder fails here
        self._writer = MediaWriter(self.archive, on_snapshot)
        self._messages: queue.SimpleQueue[EventMessage] = queue.SimpleQueue()
        self._ring: deque[tuple[float, bytes]] = deque()
        self._snapshots_due: dict[str, float] = {}  # event id -> from which frame time
        self._recording: _Recording | None = None
        self._last_kept = 0.0  # monotonic time of the last frame asked for a clip

    @property
    def dropped(self) -> int:
        return self._writer.dropped

    def start(self) -> None:
        self._writer.start()

    # -- the decode thread ---------------------------------------------------------------

    def send(self, message: EventMessage) -> None:
        self._messages.put(message)

    # -- the output thread ---------------------------------------------------------------

    def wants_frame(self, stale: bool) -> bool:
        if stale:
            return False  # a frozen picture is no footage
        self._take_messages()
        if self._snapshots_due:
            return True
        if not self.options.clips:
            return False
        now = time.monotonic()  # the frame's own time is not known yet: pace by the clock
        if now - self._last_kept < 0.95 / self.options.clip_fps:
            return False
        self._last_kept = now
        return True

    def write(self, frame: AnnotatedFrame) -> None:
        if frame.jpeg is None:
            return
        t, jpeg = frame.t_capture, frame.jpeg
        if self.options.clips:
            self._ring.append((t, jpeg))
            while self._ring and self._ring[0][0] < t - self.options.pre_roll_s - RING_MARGIN_S:
                self._ring.popleft()
        for event_id, due in list(self._snapshots_due.items()):
            if t >= due:
                del self._snapshots_due[event_id]
                self._writer.put(("snapshot", event_id, jpeg))
        recording = self._recording
        if recording is None:
            return
        if recording.first_t is None:
            recording.first_t = self._open(recording, t)
        ended = recording.stop_at is not None and t > recording.stop_at
        if ended or t - recording.first_t > self.options.max_clip_s:
            self._finish()
        elif self._writer.put(("frame", recording.clip_id, jpeg)):
            recording.last_t = t

    def close(self) -> None:
        self._take_messages()
        if self._recording is not None:
            self._finish()
        self._writer.close()

    def _take_messages(self) -> None:
        while True:
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                return
            state = message.after
            self._writer.put(("record", state), wait=True)
            if self.options.snapshots and (
                message.type == "new" or state.top_score > message.before.top_score
            ):
                self._snapshots_due[state.id] = state.frame_time
            if message.type == "new" and self.options.clips:
                self._join(state)
            if message.type == "end":
                self._snapshots_due.pop(state.id, None)
                self._leave(state)

    def _join(self, state: EventState) -> None:
        recording = self._recording
        if recording is None:
            since = state.start_time - self.options.pre_roll_s
            self._recording = _Recording(state.id, since, [state.id], {state.id})
            return
        recording.members.append(state.id)
        recording.open_members.add(state.id)
        recording.stop_at = None  # someone new is here: keep recording
        self._writer.put(("join", recording.clip_id, state.id), wait=True)

    def _leave(self, state: EventState) -> None:
        recording = self._recording
        if recording is None or state.id not in recording.open_members:
            return
        recording.open_members.discard(state.id)
        if not recording.open_members:
            recording.stop_at = (state.end_time or state.frame_time) + self.options.post_roll_s

    def _open(self, recording: _Recording, now: float) -> float:
        """Open the clip with the ring's pre-roll; returns its first frame's time. It starts
        at the last frame at or before `since`, so however many frames the output stage
        skipped, the clip holds at least the pre-roll."""
        before = [t for t, _ in self._ring if t <= recording.since]
        since = before[-1] if before else recording.since
        frames = [(t, jpeg) for t, jpeg in self._ring if since <= t < now]
        jpegs = [jpeg for _, jpeg in frames]
        self._writer.put(("open", recording.clip_id, _rate(self._ring), jpegs), wait=True)
        return frames[0][0] if frames else now

    def _finish(self) -> None:
        recording, self._recording = self._recording, None
        assert recording is not None
        item = ("finish", recording.clip_id, recording.first_t, recording.last_t,
                tuple(recording.members))  # fmt: skip
        self._writer.put(item, wait=True)


def _rate(ring: deque[tuple[float, bytes]]) -> float:
    """Frames per second the ring was filled at (the clip's frame rate); 15 without one."""
    if len(ring) < 2 or ring[-1][0] <= ring[0][0]:
        return 15.0
    return max(1.0, min(60.0, (len(ring) - 1) / (ring[-1][0] - ring[0][0])))
