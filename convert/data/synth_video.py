"""Synthetic video: shapes moving over a still scene, as an MJPG .avi with per-frame ground truth.

    generate_video(Path("data/shapes.avi"), frames=300, seed=0)          # + shapes.json

Every class moves in every video, at constant velocity and spin, bouncing off the edges;
the background, its clutter and the camera stay the same for the whole video.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pisight.convert.data.synth import checked_hw, seeded_rng
from pisight.convert.data.synth_camera import Look, finish, random_look
from pisight.convert.data.synth_scene import (
    CLUTTER_SCALE,
    EXTENT,
    LABELS,
    Canvas,
    Paint,
    Shape,
    background,
    clutter_mask,
    contrasting_paint,
    random_paint,
    random_shape,
    shape_mask,
)

# A video frame keeps the boxes of objects at least this visible; moving objects
# cross, and a mostly hidden one is not fair to ask a detector for.
VIDEO_MIN_VISIBLE = 0.5


@dataclass(frozen=True)
class Mover:
    """An object of the video: constant velocity and spin, bouncing off the edges."""

    shape: Shape
    paint: Paint
    velocity: tuple[float, float]
    spin: float

    def at(self, frame: int, hw: tuple[int, int]) -> Shape:
        reach = EXTENT * self.shape.size + 1
        x, y = (
            _bounce(start + speed * frame, reach, side - reach)
            for start, speed, side in zip(self.shape.center, self.velocity, hw[::-1], strict=True)
        )
        return replace(self.shape, center=(x, y), angle=self.shape.angle + self.spin * frame)


def _bounce(position: float, low: float, high: float) -> float:
    """Where a point moving freely from `low` would be, reflected between low and high."""
    span = max(high - low, 1e-6)
    phase = (position - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)


def generate_video(
    path: Path, frames: int, seed: int, size: tuple[int, int] = (640, 480), fps: float = 30
) -> Path:
    """An MJPG .avi of moving shapes, with per-frame ground truth in path.with_suffix('.json')."""
    path = Path(path)
    hw = checked_hw(frames, seed, size, "frames")
    if path.suffix.lower() != ".avi" or fps <= 0:
        raise ValueError(f"video must be an .avi at a positive fps, got {path.name} at {fps}")
    scenery, movers, look = _video_scene(seeded_rng(seed, 1, 0), hw)
    truth = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with _staged(path) as video, _staged(path.with_suffix(".json")) as truth_file:
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        if not writer.isOpened():
            raise OSError(f"cannot write {path}: OpenCV has no MJPG encoder")
        try:
            for frame in range(frames):
                canvas = Canvas(scenery)
                for mover in movers:
                    shape = mover.at(frame, hw)
                    canvas.add(shape_mask(shape, hw), mover.paint, shape.center, shape.label)
                writer.write(finish(canvas.image, look, seeded_rng(seed, 1, frame + 1)))
                boxes = [{"label": n, "box": list(b)} for n, b in canvas.boxes(VIDEO_MIN_VISIBLE)]
                truth.append({"frame": frame, "boxes": boxes})
        finally:
            writer.release()
        truth_file.write_text(json.dumps(truth))
    return path


def _video_scene(
    rng: np.random.Generator, hw: tuple[int, int]
) -> tuple[np.ndarray, list[Mover], Look]:
    """The still background with its clutter, the moving objects, and the camera."""
    scenery = Canvas(background(rng, hw))
    for _ in range(rng.integers(0, 7)):
        scenery.add(clutter_mask(rng, hw), random_paint(rng, CLUTTER_SCALE * min(hw)), (0.0, 0.0))
    # Every class moves in every video, so a demo shows all of them.
    labels = [*rng.permutation(LABELS), *rng.choice(LABELS, rng.integers(0, 3))]
    movers = [_random_mover(rng, hw, scenery, str(label)) for label in labels]
    return scenery.image, movers, random_look(rng)


def _random_mover(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, label: str
) -> Mover:
    shape = random_shape(rng, hw, label)
    paint = contrasting_paint(rng, shape.size, scenery.mean_under(shape_mask(shape, hw)))
    speed, heading = rng.uniform(1, 6) * min(hw) / 480, rng.uniform(0, 2 * math.pi)
    velocity = (speed * math.cos(heading), speed * math.sin(heading))
    return Mover(shape, paint, velocity, rng.uniform(-0.03, 0.03))


@contextmanager
def _staged(path: Path) -> Iterator[Path]:
    """A temporary file beside `path` that replaces it only if the block succeeds."""
    handle, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(handle)
    try:
        yield Path(name)
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)
