"""The capture thread: reads a FrameSource into a LatestSlot, reopening it when it fails.

Live sources (cameras, streams) overwrite the slot, so a slow consumer always gets
the newest frame and the stale ones are counted as dropped. Finite sources (files,
directories) wait for the consumer, so every frame is processed; at their end the
worker closes the slot and the consumer sees SlotClosedError after the last frame.

Usage::

    from pisight.device.pipeline.capture import CaptureWorker
    from pisight.device.pipeline.handoff import LatestSlot, SlotClosedError
    from pisight.device.sources.files import open_source

    slot = LatestSlot()
    worker = CaptureWorker(lambda: open_source("0"), slot)
    worker.start()  # raises SourceError at once for a bad spec
    try:
        while True:
            frame = slot.get(timeout=1.0)  # None when nothing came in time
            ...
    except SlotClosedError:
        pass  # a finite source ended
    finally:
        worker.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from pisight.device.pipeline.cores import IO_THREADS
from pisight.device.pipeline.handoff import LatestSlot, SlotClosedError
from pisight.device.pipeline.staleness import SOURCE_STALL_S
from pisight.device.sources.base import FrameSource, SourceError, as_bgr
from pisight.device.sources.frames import Frame

log = logging.getLogger("pisight.capture")

# Errors that mean "the device or stream failed": recover by reopening.
_SOURCE_FAILURES = (SourceError, cv2.error)


@dataclass(frozen=True)
class CaptureOptions:
    # Wait before each reopen attempt; the last value repeats for as long as it fails.
    reopen_backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)
    # No frame from a live source for this long marks it offline and closes it, which
    # unblocks a hung read; the source is then reopened with the backoff above.
    # Not the stale threshold: staleness.py says why the two are apart.
    stall_timeout_s: float = SOURCE_STALL_S
    # A source that opens and fails again at once would otherwise reopen every 0.5 s.
    max_reopens_per_minute: int = 6
    # How long a lossless put waits before checking for stop again.
    put_poll_s: float = 0.2


class CaptureWorker:
    """Runs one source in a daemon thread named "capture"; see the module docstring."""

    def __init__(
        self,
        open_fn: Callable[[], FrameSource],
        slot: LatestSlot[Frame],
        options: CaptureOptions = CaptureOptions(),
    ) -> None:
        self._open_fn = open_fn
        self._slot = slot
        self._options = options
        self._stop = threading.Event()
        self._source_lock = threading.Lock()
        self._source: FrameSource | None = None
        self._thread: threading.Thread | None = None
        self._backoff_index = 0
        self._bad_frames_closed = 0  # bad frames of sources already closed
        self._bad_frames_rejected = 0  # frames a source let through that were not BGR uint8
        self._online = False
        self._started_at = 0.0
        self._opened_at = 0.0
        self._stall_closed = False  # the watchdog closed the source: its end is a failure
        self._reopen_times: deque[float] = deque()
        self.stalls = 0
        self.live = False
        self.description = ""
        self.frames_captured = 0
        self.reopen_count = 0
        self.ended = threading.Event()
        self.last_frame_time: float | None = None
        self.error: BaseException | None = None  # an unexpected failure that stopped the thread

    def start(self) -> None:
        """Open the source here, so a bad spec raises SourceError now, then start the thread."""
        if self._thread is not None:
            raise RuntimeError("CaptureWorker.start() called twice")
        source = self._open_fn()
        self._source = source
        self.live = bool(source.live)
        self.description = source.description
        self._online = True
        self._started_at = self._opened_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()
        if self.live:
            watchdog = threading.Thread(target=self._watch, name="capture-watchdog", daemon=True)
            watchdog.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and close the source; the slot is left for its owner to close."""
        self._stop.set()
        if self._thread is None:
            self._close_source()
            return
        self._thread.join(timeout * 0.75)
        # Still alive means stuck inside read(): closing the source is what unblocks it.
        self._close_source()
        self._thread.join(timeout * 0.25)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def dropped(self) -> int:
        return self._slot.dropped if self.live else 0

    @property
    def bad_frames(self) -> int:
        current = getattr(self._source, "bad_frames", 0) if self._source is not None else 0
        return self._bad_frames_closed + self._bad_frames_rejected + int(current)

    @property
    def online(self) -> bool:
        if not self._online:
            return False
        if not self.live:
            return True  # a file waiting on a slow consumer is not stalled
        newest = self.last_frame_time if self.last_frame_time is not None else self._started_at
        return time.monotonic() - newest < self._options.stall_timeout_s

    def _run(self) -> None:
        IO_THREADS.join("capture")
        try:
            while not self._stop.is_set():
                if self._source is None and not self._reopen():
                    return
                if not self._step():
                    return
        except SlotClosedError:
            pass  # the consumer shut the pipeline down
        except Exception as exc:
            # A bug, not a device failure: end the stream so the consumer does not hang.
            self.error = exc
            log.exception("capture from %s stopped by an unexpected error", self.description)
            self._slot.close()
        finally:
            self._close_source()

    def _step(self) -> bool:
        """Read and publish one frame; False when the source has ended."""
        source = self._source
        if source is None:
            return True
        try:
            image = source.read()
        except Exception as exc:
            # After a stall close, a source may fail in any way; otherwise only device
            # failures are recovered from, and anything else is a bug that ends capture.
            if not isinstance(exc, _SOURCE_FAILURES) and not self._stall_closed:
                raise
            if not self._stop.is_set():  # stop() closing a blocked source is not a failure
                self._online = False
                log.warning("%s failed: %s; reopening", self.description, _one_line(exc))
            self._close_source()
            return True
        if image is None:
            if self._stop.is_set():
                return False  # closed under a blocked read by stop(): not a real end
            if self._stall_closed:
                return True  # the watchdog closed a hung read; reopen, do not end
            self.ended.set()
            self._slot.close()
            return False
        self._publish(image)
        return True

    def _publish(self, raw: np.ndarray) -> None:
        # Sources validate already; this guards third-party ones so Frame() never raises.
        image = as_bgr(raw)
        if image is None:
            self._bad_frames_rejected += 1
            return
        frame = Frame(image, time.time(), self.frames_captured)
        self.frames_captured += 1
        self.last_frame_time = time.monotonic()
        self._online = True
        self._backoff_index = 0
        if self.live:
            self._slot.put(frame)
            return
        while not self._stop.is_set():
            if self._slot.put(frame, wait=True, timeout=self._options.put_poll_s):
                return

    def _watch(self) -> None:
        """Close a live source that has delivered nothing for stall_timeout_s."""
        timeout = self._options.stall_timeout_s
        while not self._stop.wait(min(timeout / 4, 1.0)):
            newest = max(self.last_frame_time or 0.0, self._opened_at)
            with self._source_lock:
                stalled = self._source is not None and time.monotonic() - newest >= timeout
                if stalled:
                    self._stall_closed = True
            if stalled:
                self._online = False
                self.stalls += 1
                log.warning("%s sent no frame for %g s; reopening", self.description, timeout)
                self._close_source()

    def _next_delay(self) -> float:
        """The backoff before the next attempt, stretched to honour the per-minute cap."""
        backoff = self._options.reopen_backoff_s
        delay = backoff[min(self._backoff_index, len(backoff) - 1)] if backoff else 0.0
        self._backoff_index += 1
        now = time.monotonic()
        while self._reopen_times and now - self._reopen_times[0] >= 60.0:
            self._reopen_times.popleft()
        if len(self._reopen_times) >= self._options.max_reopens_per_minute:
            delay = max(delay, self._reopen_times[0] + 60.0 - now)
        return delay

    def _reopen(self) -> bool:
        """Wait the next backoff and open the source again; False when stopped."""
        while True:
            if self._stop.wait(self._next_delay()):
                return False
            self._reopen_times.append(time.monotonic())
            try:
                source = self._open_fn()
            except _SOURCE_FAILURES as exc:
                log.warning("reopening %s failed: %s", self.description, _one_line(exc))
                continue
            with self._source_lock:
                if self._stop.is_set():
                    source.close()
                    return False
                self._source = source
                self._opened_at = time.monotonic()
                self._stall_closed = False
            self.reopen_count += 1
            return True

    def _close_source(self) -> None:
        """Close the current source once, whichever thread gets here first."""
        with self._source_lock:
            source, self._source = self._source, None
            if source is None:
                return
            self._bad_frames_closed += int(getattr(source, "bad_frames", 0))
        try:
            source.close()
        except Exception as exc:  # a failing close must not hide the original problem
            log.warning("closing %s failed: %s", self.description, _one_line(exc))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
