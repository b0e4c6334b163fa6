"""The latest encoded frame, shared by every live viewer.

In the style of picamera2's ``outputs/output.py``: one JPEG buffer guarded by a
``Condition``. The pipeline encodes a frame only while someone watches; every viewer
is sent those same bytes.

    broadcast = FrameBroadcast()
    if broadcast.wanted():
        broadcast.publish(cv2.imencode(".jpg", annotated)[1].tobytes())
    with broadcast.watching():
        seq, jpeg = broadcast.next_frame(after_seq=0, timeout=1.0) or (0, b"")

The pipeline's renderer publishes through a BroadcastSink, built from the same
ServerOptions as the LiveServer: it encodes at the rate the server sends, no faster.

    sink = BroadcastSink(broadcast, server_options)
    LiveServer(server_options, broadcast, pipeline.status)
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Literal

from pisight.device.live.options import ServerOptions
from pisight.device.render.frame_sink import AnnotatedFrame, FrameFormat

BOUNDARY = "FRAME"


class FrameBroadcast:
    """The latest encoded JPEG, shared by every viewer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._jpeg: bytes | None = None
        self._watchers = {"stream": 0, "snapshot": 0}
        self._closed = False

    def wanted(self) -> bool:
        """True while someone would see a new frame; the pipeline skips encoding otherwise."""
        with self._cond:
            return not self._closed and sum(self._watchers.values()) > 0

    def publish(self, jpeg: bytes) -> None:
        with self._cond:
            self._seq += 1
            self._jpeg = jpeg
            self._cond.notify_all()

    def next_frame(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait for a frame newer than after_seq; None on timeout or once closed."""
        with self._cond:
            ready = self._cond.wait_for(lambda: self._closed or self._seq > after_seq, timeout)
            if not ready or self._closed or self._jpeg is None:
                return None
            return self._seq, self._jpeg

    def latest(self) -> tuple[int, bytes] | None:
        with self._cond:
            return None if self._jpeg is None else (self._seq, self._jpeg)

    @property
    def viewers(self) -> int:
        return self._watchers["stream"]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_closed(self, timeout: float) -> bool:
        """Sleep up to timeout, waking early (True) when the broadcast closes."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, max(0.0, timeout))

    @contextmanager
    def watching(self, kind: Literal["stream", "snapshot"] = "stream") -> Iterator[None]:
        """Count a stream viewer or a waiting snapshot for the duration of the block."""
        with self._cond:
            self._watchers[kind] += 1
        try:
            yield
        finally:
            with self._cond:
                self._watchers[kind] -= 1


class BroadcastSink:
    """The live view as one of the renderer's sinks: frames while someone watches, at most
    options.stream_fps a second (the server sends a viewer no more, so more is wasted CPU)."""

    frame_format: FrameFormat = "jpeg"

    def __init__(self, broadcast: FrameBroadcast, options: ServerOptions) -> None:
        self.broadcast = broadcast
        self._interval = 1.0 / options.stream_fps
        self._last_sent = -math.inf

    def wants_frame(self, stale: bool) -> bool:
        if not self.broadcast.wanted():
            return False
        # A stale repeat is already rare (once a second); it must reach viewers at once.
        return stale or time.monotonic() - self._last_sent >= self._interval

    def write(self, frame: AnnotatedFrame) -> None:
        if frame.jpeg is not None:
            self._last_sent = time.monotonic()
            self.broadcast.publish(frame.jpeg)

    def close(self) -> None:
        pass  # the live server owns the broadcast and closes it when it stops


def send_mjpeg(broadcast: FrameBroadcast, out: BinaryIO, fps: float) -> None:
    """Write broadcast's frames to one viewer as multipart JPEG parts, at most `fps` a
    second, until the broadcast closes (or writing fails: the viewer went)."""
    interval = 1.0 / fps
    seq = 0  # the latest frame first: the page shows a picture at once
    with broadcast.watching():
        while not broadcast.closed:
            frame = broadcast.next_frame(seq, timeout=1.0)
            if frame is None:
                continue
            seq, jpeg = frame
            sent_at = time.monotonic()
            head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
            head += f"Content-Length: {len(jpeg)}\r\n\r\n"
            out.write(head.encode() + jpeg + b"\r\n")
            if broadcast.wait_closed(sent_at + interval - time.monotonic()):
                break
