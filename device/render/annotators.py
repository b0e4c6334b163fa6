"""Annotators draw on a frame: `annotate(scene, ...) -> scene`, style fixed in __init__.

    scene = BoxAnnotator().annotate(frame.image, detections)     # "#7 person 0.83" if tracked
    scene = ZoneAnnotator(zones, lines).annotate(scene, status)  # outlines with their counts
    scene = MetricsOverlay().annotate(scene, status)

Drawing happens in place on the frame the pipeline hands over (it is not reused).
"""

from __future__ import annotations

import cv2
import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.zones.geometry import Line, Point, Zone

# A colour-blind-friendly palette (Okabe-Ito), BGR; a class keeps its colour.
PALETTE = (
    (0, 159, 230),
    (233, 180, 86),
    (115, 158, 0),
    (66, 228, 240),
    (178, 114, 0),
    (0, 94, 213),
    (167, 121, 204),
    (255, 255, 255),
)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_colour(class_id: int) -> tuple[int, int, int]:
    return PALETTE[class_id % len(PALETTE)]


def _label(
    scene: np.ndarray,
    text: str,
    origin: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float,
    text_colour: tuple[int, int, int] = (0, 0, 0),
) -> None:
    """Text on a filled box so it reads on any background."""
    x, y = origin
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    y = max(y, h + baseline + 2)
    cv2.rectangle(scene, (x, y - h - baseline - 2), (x + w + 4, y), colour, cv2.FILLED)
    cv2.putText(scene, text, (x + 2, y - baseline), FONT, scale, text_colour, 1, cv2.LINE_AA)


class BoxAnnotator:
    """Boxes with `label score`; a classifier's top-k as a list in the top-left corner."""

    def __init__(self, thickness: int = 2, text_scale: float = 0.5) -> None:
        self.thickness = thickness
        self.text_scale = text_scale

    def annotate(self, scene: np.ndarray, detections: Detections) -> np.ndarray:
        if not detections.has_boxes:
            return self._annotate_classes(scene, detections)
        ids = detections.track_ids
        for row, (box, score, class_id, label) in enumerate(detections):
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            colour = class_colour(class_id)
            cv2.rectangle(scene, (x1, y1), (x2, y2), colour, self.thickness)
            tag = f"#{ids[row]} " if ids is not None and ids[row] >= 0 else ""
            _label(scene, f"{tag}{label} {score:.2f}", (x1, y1), colour, self.text_scale)
        return scene

    def _annotate_classes(self, scene: np.ndarray, detections: Detections) -> np.ndarray:
        for row, (score, class_id, label) in enumerate(
            zip(detections.scores, detections.class_ids, detections.labels, strict=True)
        ):
            text = f"{label} {score:.2f}"
            _label(scene, text, (8, 60 + 22 * row), class_colour(int(class_id)), self.text_scale)
        return scene


class MetricsOverlay:
    """One line of live figures in the top-left corner."""

    def __init__(self, text_scale: float = 0.5) -> None:
        self.text_scale = text_scale

    def annotate(self, scene: np.ndarray, status: RunStatus) -> np.ndarray:
        parts = [f"{status.fps:.1f} fps"]
        if status.inference_ms_p50 is not None:
            parts.append(f"infer {status.inference_ms_p50:.1f} ms")
        if status.cpu_percent is not None:
            parts.append(f"cpu {status.cpu_percent:.0f}%")
        if status.rss_mb is not None:
            parts.append(f"{status.rss_mb:.0f} MB")
        if status.temperature_c is not None:
            parts.append(f"{status.temperature_c:.0f} C")
        _label(scene, "  ".join(parts), (8, 24), (40, 40, 40), self.text_scale, (255, 255, 255))
        return scene


ZONE_COLOUR = (240, 240, 240)
LINE_COLOUR = (0, 215, 255)


class ZoneAnnotator:
    """Each zone's outline with its occupancy, each line with its in/out counts."""

    def __init__(self, zones: tuple[Zone, ...], lines: tuple[Line, ...], text_scale=0.5) -> None:
        self.zones = zones
        self.lines = lines
        self.text_scale = text_scale

    def annotate(self, scene: np.ndarray, status: RunStatus) -> np.ndarray:
        height, width = scene.shape[:2]

        def pixels(point: Point) -> tuple[int, int]:
            return round(point[0] * (width - 1)), round(point[1] * (height - 1))

        occupancy = {zone.name: zone.total for zone in status.zones}
        for zone in self.zones:
            corners = np.array([pixels(p) for p in zone.polygon], np.int32)
            cv2.polylines(scene, [corners], True, ZONE_COLOUR, 2, cv2.LINE_AA)
            text = f"{zone.name}: {occupancy.get(zone.name, 0)}"
            top_left = tuple(int(v) for v in corners.min(axis=0))
            _label(scene, text, (top_left[0], top_left[1] + 18), ZONE_COLOUR, self.text_scale)
        crossings = {line.name: line for line in status.lines}
        for line in self.lines:
            start, end = pixels(line.start), pixels(line.end)
            cv2.line(scene, start, end, LINE_COLOUR, 2, cv2.LINE_AA)
            count = crossings.get(line.name)
            went_in, went_out = (count.total_in, count.total_out) if count else (0, 0)
            text = f"{line.name}: in {went_in} out {went_out}"
            _label(scene, text, (min(start[0], end[0]), min(start[1], end[1])), LINE_COLOUR,
                   self.text_scale)  # fmt: skip
        return scene
