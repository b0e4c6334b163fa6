"""Synthetic shapes: the deterministic detection dataset the demo detector learns and is tested on.

    dataset = generate_dataset(Path("data/shapes"), images=500, seed=0)   # VOC layout

The stills are scenes (synth_scene.py) lit, blurred and noised by a camera
(synth_camera.py); synth_video.py makes a video of moving shapes the same way. Each image
draws from its own generator seeded by (seed, index), so image 17 is the same whatever
the image count, and the same seed gives byte-identical files. Every object in a still
keeps at least MIN_VISIBLE of itself visible.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np

from pisight.convert.data.datasets import Dataset, load_dataset
from pisight.convert.data.synth_camera import finish, random_look
from pisight.convert.data.synth_scene import (
    CLUTTER_SCALE,
    LABELS,
    Canvas,
    IntBox,
    background,
    clutter_mask,
    contrasting_paint,
    random_paint,
    random_shape,
    shape_mask,
)

MIN_VISIBLE = 0.6
JPEG_QUALITY = 92
DATASET_ENTRIES = {"JPEGImages", "Annotations", "ImageSets", "labels.txt"}


def render_image(
    rng: np.random.Generator, hw: tuple[int, int]
) -> tuple[np.ndarray, list[tuple[str, IntBox]]]:
    """One still (uint8 BGR) and its (label, box) list."""
    canvas = Canvas(background(rng, hw))
    for _ in range(rng.integers(0, 7)):
        canvas.add(clutter_mask(rng, hw), random_paint(rng, CLUTTER_SCALE * min(hw)), (0.0, 0.0))
    wanted = int(rng.integers(1, 5))
    for _ in range(12 * wanted):  # a placement that hides another object is tried again
        if len(canvas.objects) == wanted:
            break
        shape = random_shape(rng, hw)
        mask = shape_mask(shape, hw)
        paint = contrasting_paint(rng, shape.size, canvas.mean_under(mask))
        canvas.add(mask, paint, shape.center, shape.label, MIN_VISIBLE)
    for _ in range(rng.integers(0, 3)):  # occluders in front of the objects
        canvas.add(
            clutter_mask(rng, hw),
            random_paint(rng, CLUTTER_SCALE * min(hw)),
            (0.0, 0.0),
            None,
            MIN_VISIBLE,
        )
    return finish(canvas.image, random_look(rng), rng), canvas.boxes(MIN_VISIBLE)


def voc_xml(name: str, hw: tuple[int, int], objects: list[tuple[str, IntBox]]) -> str:
    # VOC pixels are 1-based and inclusive: the edge box (x1, x2) covers xmin=x1+1..xmax=x2.
    entries = "".join(
        f"  <object>\n    <name>{label}</name>\n    <pose>Unspecified</pose>\n"
        f"    <truncated>0</truncated>\n    <difficult>0</difficult>\n    <bndbox>\n"
        f"      <xmin>{x1 + 1}</xmin>\n      <ymin>{y1 + 1}</ymin>\n"
        f"      <xmax>{x2}</xmax>\n      <ymax>{y2}</ymax>\n    </bndbox>\n  </object>\n"
        for label, (x1, y1, x2, y2) in objects
    )
    return (
        f"<annotation>\n  <folder>JPEGImages</folder>\n  <filename>{name}.jpg</filename>\n"
        f"  <size>\n    <width>{hw[1]}</width>\n    <height>{hw[0]}</height>\n"
        f"    <depth>3</depth>\n  </size>\n{entries}</annotation>\n"
    )


def generate_dataset(
    out: Path, images: int, seed: int, size: tuple[int, int] = (320, 240)
) -> Dataset:
    """Write `images` stills in VOC layout to `out` (replacing an earlier synth set there)."""
    hw = checked_hw(images, seed, size, "images")
    out = Path(out).resolve()  # "." must stage beside the directory, not inside it
    if out.exists() and not (out.is_dir() and {p.name for p in out.iterdir()} <= DATASET_ENTRIES):
        raise ValueError(f"{out} exists and is not a synth dataset; choose a new --out directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_voc(staging, images, seed, hw)
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a dataset is for sharing
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_dataset(out, strict=True, labels=LABELS)


def _write_voc(root: Path, images: int, seed: int, hw: tuple[int, int]) -> None:
    for folder in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (root / folder).mkdir(parents=True)
    names = [f"{index:06d}" for index in range(images)]
    for index, name in enumerate(names):
        image, objects = render_image(seeded_rng(seed, 0, index), hw)
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]
        (root / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg.tobytes())
        (root / "Annotations" / f"{name}.xml").write_text(voc_xml(name, hw, objects))
    (root / "ImageSets" / "Main" / "all.txt").write_text("\n".join(names) + "\n")
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n")


def seeded_rng(seed: int, *key: int) -> np.random.Generator:
    """The generator of one still or frame: the same (seed, *key) draws the same."""
    # Spawn keys, not [seed, index] entropy: SeedSequence pads entropy with zeros, so
    # [s, 0] and [s, 0, 0] would collide.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def checked_hw(count: int, seed: int, size: tuple[int, int], what: str) -> tuple[int, int]:
    """(height, width) once the arguments make sense."""
    if count < 1:
        raise ValueError(f"need at least 1 of {what}, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if min(size) < 64 or max(size) > 4096:
        raise ValueError(f"size {size[0]}x{size[1]} must be between 64 and 4096 pixels a side")
    return size[1], size[0]
