"""The `event-media` thread: decodes, encodes and writes what EventMedia queues.

    writer = MediaWriter(archive, on_snapshot=publisher.publish_snapshot)
    writer.start()
    writer.put(("record", state)); writer.put(("snapshot", event_id, jpeg))
    writer.put(("open", clip_id, fps, jpegs)); writer.put(("join", clip_id, event_id))
    writer.put(("frame", clip_id, jpeg))
    writer.put(("finish", clip_id, first_t, last_t, member_ids))
    writer.close()

One clip file at a time serves every event open while it records (named after the event
that opened it; each member's record says so in "clip"), so a frame is decoded and
encoded once however many objects are in it. A full or unwritable disk costs media, with
one warning per kind of file, never events or the stream. On close the writer stops
encoding what is left (a SIGTERM must end the run within seconds) and finishes the clip
with what it has; it is always joined, never left inside OpenCV at exit.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from pisight.device.events.archive import ClipFile, EventArchive
from pisight.device.events.event import EventState

log = logging.getLogger("pisight.events")
QUEUE_ITEMS = 120  # work waiting for the writer (4 s at 30 fps); past it frames are dropped
DRAIN_S = 2.0  # on close, how long the writer may go on encoding before it skips frames


class MediaWriter:
    def __init__(self, archive: EventArchive, on_snapshot: Callable[[bytes], None] | None) -> None:
        self.archive = archive
        self._on_snapshot = on_snapshot
        self._work: queue.Queue[tuple[Any, ...]] = queue.Queue(QUEUE_ITEMS)
        self._closing = threading.Event()
        self._clips: dict[str, _ClipJob] = {}
        # clip id -> events recorded in it; a join may come before its clip opens
        self._members: dict[str, set[str]] = {}
        self._states: dict[str, EventState] = {}  # events not yet over, latest state
        self._clip_of: dict[str, dict[str, Any]] = {}  # event id -> its clip's fields
        self._warned: set[str] = set()
        self.dropped = 0
        """Clip frames dropped because the writer lagged."""
        self._thread = threading.Thread(target=self._loop, name="event-media", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def put(self, item: tuple[Any, ...], wait: bool = False) -> bool:
        """Queue work (output thread). A frame is dropped when the writer lags; other work
        (wait=True) waits up to a second for room."""
        try:
            self._work.put(item, block=wait, timeout=1.0 if wait else None)
            return True
        except queue.Full:
            self.dropped += 1
            self.warn_once("queue", "event media writer is behind; dropping clip frames")
            return False

    def close(self) -> None:
        """Let the writer finish its queue for up to DRAIN_S, then skip the frames left."""
        if not self._thread.is_alive():
            return
        try:
            self._work.put(("stop",), timeout=DRAIN_S)
        except queue.Full:
            self._closing.set()  # it now skips frames, so there is room soon
            self._work.put(("stop",))
        self._thread.join(timeout=DRAIN_S)
        if self._thread.is_alive():
            self._closing.set()
            self._thread.join()  # never exit with the thread inside OpenCV (abort)

    def warn_once(self, key: str, text: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.warning(text)

    # -- the thread --------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            item = self._work.get()
            if item[0] == "stop":
                return
            if item[0] == "frame" and self._closing.is_set():
                continue
            try:
                self._do(item)
            except (OSError, cv2.error) as exc:  # a full or read-only disk: media only
                self.warn_once(f"disk-{item[0]}", f"event media not written ({exc}); "
                               "events and the stream go on")  # fmt: skip
                if item[0] in ("open", "frame") and item[1] in self._clips:
                    self._clips[item[1]].fail()

    def _do(self, item: tuple[Any, ...]) -> None:
        kind = item[0]
        if kind == "record":
            state: EventState = item[1]
            self._states[state.id] = state
            self.archive.write_record(state, self._clip_of.get(state.id))
            if state.end_time is not None and not self._recording(state.id):
                self._forget(state.id)
        elif kind == "snapshot":
            self.archive.write_snapshot(item[1], item[2])
            if self._on_snapshot is not None:
                self._on_snapshot(item[2])
        elif kind == "open":
            self._members.setdefault(item[1], set()).add(item[1])
            clip = self._clips[item[1]] = _ClipJob(self.archive, item[1], item[2])
            for jpeg in item[3]:
                clip.add(jpeg)
        elif kind == "join":
            self._members.setdefault(item[1], set()).add(item[2])
        elif kind == "frame":
            clip = self._clips.get(item[1])
            if clip is not None:
                clip.add(item[2])
        elif kind == "finish":
            self._finish(*item[1:])

    def _finish(self, clip_id: str, first: float | None, last: float | None,
                members: tuple[str, ...]) -> None:  # fmt: skip
        clip = self._clips.pop(clip_id, None)
        written = clip is not None and clip.finish()
        for event_id in sorted(self._members.pop(clip_id, set()) | set(members)):
            if written:
                self._clip_of[event_id] = {"clip": clip_id, "clip_start": first, "clip_end": last}
                state = self._states.get(event_id)
                if state is not None:
                    self.archive.write_record(state, self._clip_of[event_id])
            state = self._states.get(event_id)
            if state is None or state.end_time is not None:
                self._forget(event_id)

    def _recording(self, event_id: str) -> bool:
        return any(event_id in members for members in self._members.values())

    def _forget(self, event_id: str) -> None:
        """The event is over and written: drop what the writer kept, apply retention."""
        self._states.pop(event_id, None)
        self._clip_of.pop(event_id, None)
        self.archive.enforce(frozenset(self._states) | frozenset(self._members))


class _ClipJob:
    """One clip on the writer's side: opened at its first frame, whose size it keeps."""

    def __init__(self, archive: EventArchive, clip_id: str, fps: float) -> None:
        self.archive, self.clip_id, self.fps = archive, clip_id, fps
        self.file: ClipFile | None = None
        self.failed = False

    def add(self, jpeg: bytes) -> None:
        if self.failed:
            return
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError("a frame of the clip is not a JPEG")
        if self.file is None:
            size = (image.shape[1], image.shape[0])
            self.file = self.archive.open_clip(self.clip_id, self.fps, size)
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
