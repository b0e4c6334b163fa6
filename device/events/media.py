"""Snapshots and clips of events: EventMedia, a FrameSink and an EventSink at once.

    media = EventMedia(MediaOptions(folder=Path("/var/lib/pisight/events"), clips=True))
    StreamRenderer([media, ...]); Pipeline(..., sinks=[media], event_sinks=[media])
    media.start() ... media.close()

- Snapshot: the first annotated frame at or after the event's best-score moment (a new
  event, or an update with a better score), boxes drawn; written as <id>.jpg and handed
  to on_snapshot (MQTT's snapshot topic).
- Clip: a ring buffer keeps the last pre_roll_s (+ RING_MARGIN_S) of encoded frames; a
  new event opens a clip with the ring's frames from pre_roll_s before its object's first
  sighting (for an object that took longer than the margin to become an event, from as
  far back as the ring reaches: still pre_roll_s before the event began), adds every
  frame, and closes post_roll_s after its end (or at max_clip_s).
- <id>.json holds the event's latest state, plus the clip's first and last frame time.

The output thread only appends to the ring and queues work (a bounded queue: a clip frame
is dropped, with one warning, rather than stalling the stream; a record waits at most a
second); the `event-media` thread decodes, encodes and writes the files (archive.py:
atomic, with retention). A disk that is full or unwritable loses media with one
warning, never events or the stream.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pisight.device.events.archive import ClipFile, EventArchive, Retention
from pisight.device.events.event import EventMessage, EventState
from pisight.device.render.frame_sink import AnnotatedFrame

log = logging.getLogger("pisight.events")
QUEUE_FRAMES = 240  # work waiting for the writer; past it frames are dropped
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
    max_clip_s: float = 120.0
    """A clip of an object that never leaves ends here; the event goes on."""
    retention: Retention = field(default_factory=Retention)

    @property
    def enabled(self) -> bool:
        return self.snapshots or self.clips


@dataclass
class _Clip:
    state: EventState
    stop_at: float | None = None
    first_t: float | None = None
    last_t: float | None = None


class EventMedia:
    frame_format = "jpeg"

    def __init__(self, options: MediaOptions, on_snapshot: Callable[[bytes], None] | None = None):
        self.options = options
        self.archive = EventArchive(options.folder, options.retention)  # a bad folder fails here
        self._on_snapshot = on_snapshot
        self._messages: queue.SimpleQueue[EventMessage] = queue.SimpleQueue()
        self._work: queue.Queue[tuple[Any, ...]] = queue.Queue(QUEUE_FRAMES)
        self._ring: deque[tuple[float, bytes]] = deque()
        self._snapshots_due: dict[str, float] = {}  # event id -> from which frame time
        self._clips: dict[str, _Clip] = {}  # open clips, output thread's view
        self.dropped = 0
        """Clip frames dropped because the writer lagged."""
        self._warned: set[str] = set()
        # The writer thread's own state.
        self._jobs: dict[str, _ClipJob] = {}
        self._states: dict[str, EventState] = {}
        self._clip_times: dict[str, dict[str, float | None]] = {}
        self._thread = threading.Thread(target=self._write_loop, name="event-media", daemon=True)

    def start(self) -> None:
        self._thread.start()

    # -- the decode thread ---------------------------------------------------------------

    def send(self, message: EventMessage) -> None:
        self._messages.put(message)

    # -- the output thread ---------------------------------------------------------------

    def wants_frame(self, stale: bool) -> bool:
        if stale:
            return False  # a frozen picture is no footage
        self._take_messages()
        return self.options.clips or bool(self._snapshots_due)

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
                self._queue(("snapshot", event_id, jpeg))
        for event_id, clip in list(self._clips.items()):
            if clip.first_t is None:
                clip.first_t = self._start_clip(event_id, clip, t)
            ended = clip.stop_at is not None and t > clip.stop_at
            if ended or t - clip.first_t > self.options.max_clip_s:
                del self._clips[event_id]
                self._queue(("finish", event_id, clip.first_t, clip.last_t), block=True)
                continue
            if self._queue(("frame", event_id, jpeg)):
                clip.last_t = t

    def close(self) -> None:
        self._take_messages()
        for event_id, clip in self._clips.items():
            self._queue(("finish", event_id, clip.first_t, clip.last_t), block=True)
        self._clips.clear()
        with contextlib.suppress(queue.Full):  # a writer that far behind is not waited for
            self._work.put(("stop",), timeout=2.0)
        if self._thread.is_alive():
            # SIGTERM must end the run within seconds: a writer still behind leaves only
            # hidden temporaries, which the next start removes.
            self._thread.join(timeout=2.0)

    def _take_messages(self) -> None:
        while True:
            try:
                message = self._messages.get_nowait()
            except queue.Empty:
                return
            state = message.after
            self._queue(("record", state), block=True)
            if message.type == "new" and self.options.clips:
                self._clips[state.id] = _Clip(state)
            if self.options.snapshots and (
                message.type == "new" or state.top_score > message.before.top_score
            ):
                self._snapshots_due[state.id] = state.frame_time
            if message.type == "end":
                self._snapshots_due.pop(state.id, None)
                clip = self._clips.get(state.id)
                if clip is not None:
                    clip.stop_at = (state.end_time or state.frame_time) + self.options.post_roll_s

    def _start_clip(self, event_id: str, clip: _Clip, now: float) -> float:
        """Open the clip with the ring's pre-roll; returns its first frame's time. It starts
        at the last frame at or before start - pre_roll, so however many frames the output
        stage skipped, the clip holds at least the pre-roll."""
        since = clip.state.start_time - self.options.pre_roll_s
        before = [t for t, _ in self._ring if t <= since]
        since = before[-1] if before else since
        frames = [(t, jpeg) for t, jpeg in self._ring if since <= t < now]
        fps = _rate(self._ring)
        self._queue(("open", event_id, fps, [jpeg for _, jpeg in frames]), block=True)
        return frames[0][0] if frames else now

    def _queue(self, item: tuple[Any, ...], block: bool = False) -> bool:
        """Hand work to the writer; a frame is dropped when it lags (records never are)."""
        try:
            self._work.put(item, block=block, timeout=1.0 if block else None)
            return True
        except queue.Full:
            self.dropped += 1
            self._warn_once("queue", "event media writer is behind; dropping clip frames")
            return False

    # -- the event-media thread ------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            item = self._work.get()
            if item[0] == "stop":
                return
            try:
                self._do(item)
            except (OSError, cv2.error) as exc:  # a full or read-only disk: media only
                self._warn_once(f"disk-{item[0]}", f"event media not written ({exc}); "
                                "events and the stream go on")  # fmt: skip
                job = self._jobs.get(item[1]) if item[0] in ("open", "frame") else None
                if job is not None:
                    job.fail()

    def _do(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "record":
            state: EventState = item[1]
            self._states[state.id] = state
            self.archive.write_record(state, self._clip_times.get(state.id))
            if state.end_time is not None and state.id not in self._jobs:
                self._forget(state.id)
        elif kind == "snapshot":
            self.archive.write_snapshot(item[1], item[2])
            if self._on_snapshot is not None:
                self._on_snapshot(item[2])
        elif kind == "open":
            job = self._jobs[item[1]] = _ClipJob(self.archive, item[1], item[2])
            for jpeg in item[3]:
                job.add(jpeg)
        elif kind == "frame":
            job = self._jobs.get(item[1])
            if job is not None:
                job.add(item[2])
        elif kind == "finish":
            event_id, first, last = item[1:]
            job = self._jobs.pop(event_id, None)
            if job is not None and job.finish():
                self._clip_times[event_id] = {"clip_start": first, "clip_end": last}
                state = self._states.get(event_id)
                if state is not None:
                    self.archive.write_record(state, self._clip_times[event_id])
            self._forget(event_id)

    def _forget(self, event_id: str) -> None:
        """The event is over and written: drop what the writer kept, apply retention."""
        self._states.pop(event_id, None)
        self._clip_times.pop(event_id, None)
        open_events = frozenset(self._states) | frozenset(self._jobs)
        self.archive.enforce(open_events)

    def _warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(text)


class _ClipJob:
    """One clip on the writer's side: opened at its first frame, whose size it keeps."""

    def __init__(self, archive: EventArchive, event_id: str, fps: float) -> None:
        self.archive, self.event_id, self.fps = archive, event_id, fps
        self.file: ClipFile | None = None
        self.failed = False

    def add(self, jpeg: bytes) -> None:
        if self.failed:
            return
        image = _decode(jpeg)
        if self.file is None:
            size = (image.shape[1], image.shape[0])
            self.file = self.archive.open_clip(self.event_id, self.fps, size)
        self.file.add(image)

    def fail(self) -> None:
        self.failed = True
        if self.file is not None:
            self.file.abandon()
            self.file = None

    def finish(self) -> bool:
        """Rename the clip into place; whether there is one."""
        if self.failed or self.file is None:
            return False
        self.file.finish()
        return self.file.frames > 0


def _decode(jpeg: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError("a frame of the clip is not a JPEG")
    return image


def _rate(ring: deque[tuple[float, bytes]]) -> float:
    """Frames per second the ring was filled at (the clip's frame rate); 15 without one."""
    if len(ring) < 2 or ring[-1][0] <= ring[0][0]:
        return 15.0
    return max(1.0, min(60.0, (len(ring) - 1) / (ring[-1][0] - ring[0][0])))
