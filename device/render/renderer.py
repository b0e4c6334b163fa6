"""The output stage's drawing and encoding: one annotated JPEG per frame someone watches.

    renderer = StreamRenderer(broadcast, recorder, jpeg_quality=80, stream_fps=30, overlay=True)
    renderer.render(frame_image, detections, status)     # draws, records, encodes, publishes
    renderer.publish_stale("source offline")             # last picture with a stale marker

Nobody watching and no recorder means no drawing and no encoding at all; viewers get
at most stream_fps frames a second, all sharing the same encoded bytes.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import cv2
import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.pipeline.watchdog import draw_stale_marker
from pisight.device.render.annotators import BoxAnnotator, MetricsOverlay
from pisight.device.render.sinks import Recorder


class Broadcast(Protocol):
    def wanted(self) -> bool: ...
    def publish(self, jpeg: bytes) -> None: ...


class StreamRenderer:
    def __init__(
        self,
        broadcast: Broadcast | None,
        recorder: Recorder | None,
        jpeg_quality: int = 80,
        stream_fps: float = 30.0,
        overlay: bool = True,
    ) -> None:
        self.broadcast = broadcast
        self.recorder = recorder
        self._quality = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self._min_interval = 1.0 / stream_fps
        self._overlay = MetricsOverlay() if overlay else None
        self._boxes = BoxAnnotator()
        self._last_encoded = 0.0
        self._last_marked = 0.0
        self._last_scene: np.ndarray | None = None

    def render(self, image: np.ndarray, detections: Detections, status: dict[str, Any]) -> None:
        """Draw on image (in place: the pipeline hands each frame over once)."""
        viewers = self.broadcast is not None and self.broadcast.wanted()
        viewers = viewers and time.monotonic() - self._last_encoded >= self._min_interval
        if not viewers and self.recorder is None:
            return  # nobody looks: drawing and encoding would only cost CPU
        scene = self._boxes.annotate(image, detections)
        if self._overlay:
            scene = self._overlay.annotate(scene, status)
        if self.recorder:
            self.recorder.write(scene)
        if viewers:
            self._last_scene = scene
            self._last_encoded = time.monotonic()
            self._publish(scene)

    def publish_stale(self, reason: str | None) -> None:
        """Re-send the last picture with a stale marker, at most once a second."""
        now = time.monotonic()
        if reason is None or self._last_scene is None or self.broadcast is None:
            return
        if now - self._last_marked < 1.0 or not self.broadcast.wanted():
            return
        self._last_marked = now
        self._publish(draw_stale_marker(self._last_scene, reason))

    def _publish(self, scene: np.ndarray) -> None:
        ok, jpeg = cv2.imencode(".jpg", scene, self._quality)
        if ok and self.broadcast is not None:
            self.broadcast.publish(jpeg.tobytes())
