"""Synthetic video: shapes moving over a still scene, as an MJPG .avi with per-frame ground truth.

    generate_video(Path("data/shapes.avi"), frames=300, seed=0)          # + shapes.json
    generate_video(Path("track.avi"), 300, seed=0, scenario="mixed")     # + track.json

The background, its clutter and the camera stay the same for the whole video; how the
objects move is the scenario's (synth_motion.py): by default ("bounce") every class moves
at constant velocity and spin, bouncing off the edges, frame for frame as it always has.
The .json holds, per frame, the detector's boxes and every object's true position, with
ids stable over the video (format in synth_truth.py, which also reads it back and exports
it to MOTChallenge).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

from pisight.convert.data.synth import checked_hw, seeded_rng
from pisight.convert.data.synth_camera import Look, finish, random_look
from pisight.convert.data.synth_motion import Motion, scenario_movers
from pisight.convert.data.synth_scene import (
    CLUTTER_SCALE,
    Canvas,
    IntBox,
    Shape,
    background,
    clutter_mask,
    random_paint,
    shape_mask,
)
from pisight.convert.data.synth_truth import TruthBox, TruthFrame, TruthObject

# A video frame keeps the boxes of objects at least this visible; moving objects
# cross, and a mostly hidden one is not fair to ask a detector for.
VIDEO_MIN_VISIBLE = 0.5


def generate_video(
    path: Path, frames: int, seed: int, size: tuple[int, int] = (640, 480), fps: float = 30,
    scenario: str = "bounce",
) -> Path:  # fmt: skip
    """An MJPG .avi of moving shapes, with per-frame ground truth in path.with_suffix('.json')."""
    path = Path(path)
    hw = checked_hw(frames, seed, size, "frames")
    if path.suffix.lower() != ".avi" or fps <= 0:
        raise ValueError(f"video must be an .avi at a positive fps, got {path.name} at {fps}")
    # An unknown scenario fails here, before any file is made.
    scenery, movers, look = _video_scene(seeded_rng(seed, 1, 0), hw, scenario, frames)
    truth = []
    path.parent.mkdir(parents=True, exist_ok=True)
    with _staged(path) as video, _staged(path.with_suffix(".json")) as truth_file:
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        if not writer.isOpened():
            raise OSError(f"cannot write {path}: OpenCV has no MJPG encoder")
        try:
            for frame in range(frames):
                canvas, drawn = Canvas(scenery), []
                for number, mover in enumerate(movers, 1):
                    shape = mover.at(frame, hw)
                    mask = shape_mask(shape, hw)
                    if canvas.add(mask, mover.paint, shape.center, shape.label):
                        x, y, w, h = cv2.boundingRect((mask > 127).astype(np.uint8))
                        drawn.append((number, shape, (x, y, x + w, y + h)))
                writer.write(finish(canvas.image, look, seeded_rng(seed, 1, frame + 1)))
                truth.append(_frame_truth(frame, drawn, canvas).to_json())
        finally:
            writer.release()
        truth_file.write_text(json.dumps(truth))
    return path


def _video_scene(
    rng: np.random.Generator, hw: tuple[int, int], scenario: str, frames: int
) -> tuple[np.ndarray, list[Motion], Look]:
    """The still background with its clutter, the moving objects, and the camera."""
    scenery = Canvas(background(rng, hw))
    for _ in range(rng.integers(0, 7)):
        scenery.add(clutter_mask(rng, hw), random_paint(rng, CLUTTER_SCALE * min(hw)), (0.0, 0.0))
    movers = scenario_movers(scenario, rng, hw, scenery, frames)
    return scenery.image, movers, random_look(rng)


def _frame_truth(frame: int, drawn: list[tuple[int, Shape, IntBox]], canvas: Canvas) -> TruthFrame:
    """Boxes and true positions of the objects drawn on `canvas`, in painting order."""
    boxes, objects = [], []
    # canvas.objects holds exactly the objects drawn, in the order they were drawn.
    for (number, shape, whole), (label, area, visible) in zip(drawn, canvas.objects, strict=True):
        if area == 0:
            continue  # only anti-aliased fringe in the frame: not there
        shown = int(visible.sum())
        # Rounded down: visible >= VIDEO_MIN_VISIBLE exactly when the box is kept.
        share = math.floor(shown / area * 10_000) / 10_000
        center = (round(shape.center[0], 3), round(shape.center[1], 3))
        objects.append(TruthObject(number, label, center, whole, share))
        if shown >= max(1, VIDEO_MIN_VISIBLE * area):  # what Canvas.boxes keeps
            x, y, w, h = cv2.boundingRect(visible.astype(np.uint8))
            boxes.append(TruthBox(number, label, (x, y, x + w, y + h)))
    return TruthFrame(frame, tuple(boxes), tuple(sorted(objects, key=lambda o: o.object_id)))


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
