"""What the pipeline does when a stage stops: the invoke watchdog and the stale marker.

An interpreter `invoke()` cannot be interrupted from Python. When one runs past its
deadline the pipeline abandons that thread (a daemon, left blocked in C++) and starts a
fresh inference thread with a fresh interpreter; the generation number tells the
abandoned thread, should it ever return, that its result is no longer wanted.

    watchdog = InvokeWatchdog(timeout_s=INVOKE_TIMEOUT_S)
    generation = watchdog.generation
    watchdog.begin()
    raw = detector.infer(tensor)
    if not watchdog.end(generation):
        return                       # replaced while stuck: drop the result, exit
    ...
    if watchdog.stuck():             # from another thread, about once a second
        generation = watchdog.restart()

While frames are stale (source offline, invoke stuck) the viewers keep getting the
last picture with a marker, so a frozen image is never mistaken for a live one.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from pisight.device.pipeline.staleness import INVOKE_TIMEOUT_S

STALE_COLOR = (0, 0, 255)  # BGR red


class InvokeWatchdog:
    """Deadline and generation of the inference thread's current invoke."""

    def __init__(self, timeout_s: float = INVOKE_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.generation = 0
        self.restarts = 0
        self._lock = threading.Lock()
        self._started_at: float | None = None

    def begin(self) -> None:
        with self._lock:
            self._started_at = time.monotonic()

    def end(self, generation: int) -> bool:
        """The invoke returned; False when its thread was replaced meanwhile."""
        with self._lock:
            if generation != self.generation:
                return False
            self._started_at = None
            return True

    def current(self, generation: int) -> bool:
        return generation == self.generation

    def stuck(self) -> bool:
        with self._lock:
            started = self._started_at
        return started is not None and time.monotonic() - started > self.timeout_s

    def restart(self) -> int:
        """Abandon the current invoke; returns the generation for the new thread."""
        with self._lock:
            self.generation += 1
            self.restarts += 1
            self._started_at = None
            return self.generation


def draw_stale_marker(scene: np.ndarray, reason: str) -> np.ndarray:
    """A copy of scene with a red frame and reason ("offline", "stalled") across the top."""
    marked = scene.copy()
    height, width = marked.shape[:2]
    thickness = max(2, min(height, width) // 60)
    cv2.rectangle(marked, (0, 0), (width - 1, height - 1), STALE_COLOR, thickness)
    scale = max(0.4, width / 900)
    text = f"STALE: {reason}"
    (text_w, text_h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    cv2.rectangle(marked, (0, 0), (min(width, text_w + 16), text_h + base + 12), STALE_COLOR, -1)
    cv2.putText(marked, text, (8, text_h + 6), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
    return marked
