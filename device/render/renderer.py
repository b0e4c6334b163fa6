"""The output stage's drawing and encoding: one annotated frame for the sinks that want it.

    renderer = StreamRenderer([recorder, BroadcastSink(broadcast, server_options)], 80)
    renderer.render(frame_image, detections, status)   # draws, encodes once, hands over
    renderer.publish_stale("source offline")           # last picture with a stale marker
    renderer.close()                                   # closes every sink

No sink wanting the frame (nobody watching, no recorder) means no drawing and no encoding
at all; the JPEG is encoded at most once a frame, and every JPEG sink shares those bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.pipeline.watchdog import draw_stale_marker
from pisight.device.render.annotators import BoxAnnotator, MetricsOverlay, ZoneAnnotator
from pisight.device.render.frame_sink import AnnotatedFrame, FrameSink
from pisight.device.zones.geometry import Line, Zone

STALE_REPEAT_S = 1.0  # a frozen picture needs its marker refreshed, not a stream of copies


class StreamRenderer:
    def __init__(
        self,
        sinks: Sequence[FrameSink],
        jpeg_quality: int = 80,
        overlay: bool = True,
        zones: tuple[Zone, ...] = (),
        lines: tuple[Line, ...] = (),
    ) -> None:
        self._sinks = tuple(sinks)
        self._quality = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality]
        self._overlay = MetricsOverlay() if overlay else None
        self._boxes = BoxAnnotator()
        self._zones = ZoneAnnotator(zones, lines) if zones or lines else None
        self._last_marked = 0.0
        self._last_scene: np.ndarray | None = None

    @property
    def has_sinks(self) -> bool:
        return bool(self._sinks)

    def render(
        self,
        image: np.ndarray,
        detections: Detections,
        status: RunStatus | Callable[[], RunStatus],
        t_capture: float = 0.0,
    ) -> None:
        """Draw on image (in place: the pipeline hands each frame over once). status may be
        a callable: it is read only for a frame some sink wants (the overlay's figures)."""
        wanting = [sink for sink in self._sinks if sink.wants_frame(stale=False)]
        if not wanting:
            return  # nobody looks: drawing and encoding would only cost CPU
        if callable(status):
            status = status()
        scene = self._boxes.annotate(image, detections)
        if self._zones:
            scene = self._zones.annotate(scene, status)
        if self._overlay:
            scene = self._overlay.annotate(scene, status)
        self._last_scene = scene
        self._hand_over(scene, wanting, t_capture)

    def publish_stale(self, reason: str | None) -> None:
        """Re-send the last picture with a stale marker, at most once a second."""
        now = time.monotonic()
        if reason is None or self._last_scene is None or now - self._last_marked < STALE_REPEAT_S:
            return
        wanting = [sink for sink in self._sinks if sink.wants_frame(stale=True)]
        if not wanting:
            return
        self._last_marked = now
        self._hand_over(draw_stale_marker(self._last_scene, reason), wanting)

    def close(self) -> None:
        for sink in self._sinks:
            sink.close()

    def _hand_over(self, scene: np.ndarray, sinks: list[FrameSink], t_capture: float = 0.0) -> None:
        jpeg = None
        if any(sink.frame_format == "jpeg" for sink in sinks):
            ok, encoded = cv2.imencode(".jpg", scene, self._quality)
            jpeg = encoded.tobytes() if ok else None
        frame = AnnotatedFrame(scene, jpeg, t_capture)
        for sink in sinks:
            sink.write(frame)
