"""Synthetic shapes: the deterministic detection data the demo detector learns and is tested on.

    dataset = generate_dataset(Path("data/shapes"), images=500, seed=0)   # VOC layout
    generate_video(Path("data/shapes.avi"), frames=300, seed=0)          # + shapes.json

Three classes (LABELS) drawn with four textures on gradient, blotchy or plain noisy
backgrounds among clutter that is not an object (lines, bars, crosses, arcs), then
lit, blurred and noised. Each image draws from its own generator seeded by
(seed, index), so image 17 is the same whatever the image count, and the same seed
gives byte-identical files. Boxes are tight around the visible pixels of each object;
every object in a still keeps at least MIN_VISIBLE of itself visible.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from pisight.convert.data.datasets import Dataset, load_dataset

LABELS = ("circle", "square", "triangle")
TEXTURES = ("solid", "stripes", "checker", "noise")
MIN_VISIBLE = 0.6
# A video frame keeps the boxes of objects at least this visible; moving objects
# cross, and a mostly hidden one is not fair to ask a detector for.
VIDEO_MIN_VISIBLE = 0.5
SIZE_RANGE = (0.08, 0.45)  # object size as a fraction of the shorter image side
EXTENT = 0.72  # bounding radius / size of any shape at any angle: a square's half-diagonal
MIN_CONTRAST = 80.0  # RGB distance between each colour of an object and its background
CLUTTER_SCALE = 0.25  # clutter patterns are sized like a mid-sized object's
JPEG_QUALITY = 92
DATASET_ENTRIES = {"JPEGImages", "Annotations", "ImageSets", "labels.txt"}

Color = tuple[float, float, float]
IntBox = tuple[int, int, int, int]  # x1, y1, x2, y2 pixel edges


@dataclass(frozen=True)
class Shape:
    label: str
    center: tuple[float, float]
    size: float
    """Side (square, triangle) or diameter (circle) in pixels."""
    angle: float
    corners: tuple[tuple[float, float], ...]
    """Polygon around the centre for a unit size, unrotated; empty for a circle."""


@dataclass(frozen=True)
class Paint:
    texture: str
    colors: tuple[Color, Color]
    period: float
    angle: float
    seed: int
    """Seeds the noise texture, so a moving object keeps its look."""


def random_shape(rng: np.random.Generator, hw: tuple[int, int], label: str = "") -> Shape:
    label = label or LABELS[rng.integers(len(LABELS))]
    low, high = (math.log(f * min(hw)) for f in SIZE_RANGE)
    size = math.exp(rng.uniform(low, high))
    reach = EXTENT * size + 1
    center = (rng.uniform(reach, hw[1] - reach), rng.uniform(reach, hw[0] - reach))
    if label == "square":
        corners = ((-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5))
    elif label == "triangle":
        # An equilateral triangle with jittered corners: not every triangle is regular.
        turns = np.arange(3) * 2 * math.pi / 3 + rng.uniform(-0.15, 0.15, 3)
        radii = rng.uniform(0.52, 0.62, 3)
        corners = tuple(zip(radii * np.cos(turns), radii * np.sin(turns), strict=True))
    else:
        corners = ()
    return Shape(label, center, size, rng.uniform(0, 2 * math.pi), corners)


def random_color(rng: np.random.Generator) -> Color:
    blue, green, red = rng.uniform(0, 255, 3).tolist()
    return blue, green, red


def random_paint(rng: np.random.Generator, scale: float) -> Paint:
    """Any paint; its pattern period follows `scale` so small things keep a readable outline."""
    # A pattern on something under ~28 px is mush once blurred: small things are solid.
    textures = TEXTURES if scale >= 28 else TEXTURES[:1]
    return Paint(
        textures[rng.integers(len(textures))],
        (random_color(rng), random_color(rng)),
        max(4.0, scale * rng.uniform(0.12, 0.3)),
        rng.uniform(0, math.pi),
        int(rng.integers(2**31)),
    )


def contrasting_paint(rng: np.random.Generator, scale: float, behind: np.ndarray) -> Paint:
    """A paint whose every colour stands out from `behind` (mean BGR), so people see it."""
    best, best_gap = random_paint(rng, scale), -1.0
    for _ in range(12):
        paint = random_paint(rng, scale)
        # Blur averages a pattern away, so its mean must stand out as well as each colour.
        mean = tuple(np.mean(paint.colors, axis=0))
        used = paint.colors[:1] if paint.texture == "solid" else (*paint.colors, mean)
        gap = min(float(np.linalg.norm(np.subtract(color, behind))) for color in used)
        if gap >= MIN_CONTRAST:
            return paint
        best, best_gap = (paint, gap) if gap > best_gap else (best, best_gap)
    return best


def shape_mask(shape: Shape, hw: tuple[int, int]) -> np.ndarray:
    """uint8 coverage (0-255, anti-aliased edges) of the shape over the whole image."""
    mask = np.zeros(hw, np.uint8)
    center = np.asarray(shape.center)
    if not shape.corners:
        cx, cy = np.round(center * 16).astype(int)
        cv2.circle(mask, (cx, cy), round(shape.size * 8), 255, -1, cv2.LINE_AA, shift=4)
        return mask
    cos, sin = math.cos(shape.angle), math.sin(shape.angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    points = np.asarray(shape.corners) @ rotation.T * shape.size + center
    cv2.fillPoly(mask, [np.round(points * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return mask


def clutter_mask(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A distractor that is none of the classes: a line, a long bar, a cross or an arc."""
    mask = np.zeros(hw, np.uint8)
    h, w = hw
    x, y = int(rng.integers(w)), int(rng.integers(h))
    length = rng.uniform(0.15, 0.6) * min(hw)
    kind = rng.integers(4)
    if kind == 0:
        end = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.line(mask, (x, y), end, 255, int(rng.integers(1, 5)), cv2.LINE_AA)
    elif kind in (1, 2):
        thickness = length / rng.uniform(3, 8)  # never square: bars are 3-8x longer than wide
        angle = rng.uniform(0, 180)
        for turn in (0, 90)[:kind]:
            box = cv2.boxPoints(((x, y), (length, thickness), angle + turn))
            cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 255, cv2.LINE_AA)
    else:
        axes = (round(length / 2), round(length * rng.uniform(0.2, 0.5)))
        start = rng.uniform(0, 360)
        cv2.ellipse(mask, (x, y), axes, 0, start, start + rng.uniform(60, 200), 255,
                    int(rng.integers(2, 6)), cv2.LINE_AA)  # fmt: skip
    return mask


def texture(paint: Paint, anchor: tuple[float, float], roi: tuple[slice, slice]) -> np.ndarray:
    """The paint over `roi` (float32 BGR), its pattern fixed to `anchor` so it moves along."""
    ys, xs = np.mgrid[roi[0], roi[1]].astype(np.float32)
    first, second = (np.asarray(c, np.float32) for c in paint.colors)
    if paint.texture == "solid":
        return np.broadcast_to(first, (*xs.shape, 3))
    cos, sin = math.cos(paint.angle), math.sin(paint.angle)
    u = (xs - anchor[0]) * cos + (ys - anchor[1]) * sin
    v = (ys - anchor[1]) * cos - (xs - anchor[0]) * sin
    if paint.texture == "stripes":
        weight = np.floor(u / paint.period) % 2
    elif paint.texture == "checker":
        weight = (np.floor(u / paint.period) + np.floor(v / paint.period)) % 2
    else:
        grain = np.random.default_rng(paint.seed).uniform(0, 1, (6, 6)).astype(np.float32)
        weight = cv2.resize(grain, (xs.shape[1], xs.shape[0]), interpolation=cv2.INTER_CUBIC)
    weight = np.clip(weight, 0, 1)[..., None]
    return first * (1 - weight) + second * weight


def background(rng: np.random.Generator, hw: tuple[int, int]) -> np.ndarray:
    """A gradient, colour blotches or a plain colour (float32 BGR), with fine noise."""
    h, w = hw
    kind = rng.integers(3)
    first, second = (rng.uniform(0, 255, 3).astype(np.float32) for _ in range(2))
    if kind == 0:
        angle = rng.uniform(0, 2 * math.pi)
        along_x = np.arange(w, dtype=np.float32) * math.cos(angle)
        t = along_x + np.arange(h, dtype=np.float32)[:, None] * math.sin(angle)
        t = ((t - t.min()) / max(float(np.ptp(t)), 1.0))[..., None]
        image = first + (second - first) * t
    elif kind == 1:
        grid = rng.uniform(0, 255, (int(rng.integers(2, 7)), int(rng.integers(2, 7)), 3))
        image = cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        image = np.broadcast_to(first, (h, w, 3))
    noise = rng.uniform(0, 18) * rng.standard_normal((h, w, 1), np.float32)
    return np.clip(image + noise, 0, 255)


class Canvas:
    """An image being composed, with what is still visible of each object on it."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image.astype(np.float32, copy=True)
        self.objects: list[tuple[str, int, np.ndarray]] = []  # label, area, visible pixels

    def add(
        self, mask: np.ndarray, paint: Paint, anchor: tuple[float, float],
        label: str | None = None, min_visible: float = 0.0,
    ) -> bool:  # fmt: skip
        """Paint through `mask` unless that hides an object below `min_visible`."""
        cover = mask > 127
        left = [(name, area, visible & ~cover) for name, area, visible in self.objects]
        if any(visible.sum() < min_visible * area for _, area, visible in left):
            return False
        x, y, w, h = cv2.boundingRect(mask)
        if w == 0 or h == 0:
            return label is None  # nothing to draw: fine for clutter, no object though
        roi = (slice(y, y + h), slice(x, x + w))
        alpha = (mask[roi].astype(np.float32) / 255)[..., None]
        self.image[roi] = self.image[roi] * (1 - alpha) + texture(paint, anchor, roi) * alpha
        self.objects = left
        if label is not None:
            self.objects.append((label, int(cover.sum()), cover))
        return True

    def mean_under(self, mask: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.mean(self.image, mask)[:3])

    def boxes(self, min_visible: float) -> list[tuple[str, IntBox]]:
        """(label, box) around the visible pixels of each object visible enough."""
        found = []
        for label, area, visible in self.objects:
            if visible.sum() >= max(1, min_visible * area):
                x, y, w, h = cv2.boundingRect(visible.astype(np.uint8))
                found.append((label, (x, y, x + w, y + h)))
        return found


@dataclass(frozen=True)
class Look:
    """Camera and light: one per still, one per video."""

    kernel: np.ndarray | None  # blur, Gaussian or motion
    gain: np.ndarray  # per-channel colour cast
    contrast: float
    brightness: float
    gamma: float
    noise: float


def random_look(rng: np.random.Generator) -> Look:
    kind, kernel = rng.integers(3), None
    if kind == 1:
        sigma = rng.uniform(0.5, 1.6)
        column = cv2.getGaussianKernel(2 * math.ceil(3 * sigma) + 1, sigma)
        kernel = (column @ column.T).astype(np.float32)
    elif kind == 2:
        kernel = motion_kernel(int(rng.integers(3, 10)), rng.uniform(0, 180))
    return Look(
        kernel,
        rng.uniform(0.85, 1.15, 3).astype(np.float32),
        rng.uniform(0.65, 1.3),
        rng.uniform(-35, 35),
        rng.uniform(0.65, 1.5),
        rng.uniform(0, 10),
    )


def motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1
    middle = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(middle, angle, 1.0), kernel.shape)
    return kernel / kernel.sum()


def finish(image: np.ndarray, look: Look, rng: np.random.Generator) -> np.ndarray:
    """Blur, light and noise a composed float image into the uint8 a camera would give."""
    if look.kernel is not None:
        image = cv2.filter2D(image, -1, look.kernel)
    # Gamma, contrast, brightness and colour cast are one per-channel curve: a table is fast.
    levels = 255 * (np.arange(256, dtype=np.float32) / 255) ** look.gamma
    curve = ((levels - 128) * look.contrast + 128 + look.brightness)[:, None] * look.gain
    table = np.clip(curve, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    lit = cv2.LUT(cv2.convertScaleAbs(image), table)  # convertScaleAbs: round + saturate
    # Grey sensor grain: a third of the random draws of colour noise, and they dominate.
    grain = look.noise * rng.standard_normal((*lit.shape[:2], 1), np.float32)
    return cv2.convertScaleAbs(lit.astype(np.float32) + grain)


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
    hw = _checked(images, seed, size, "images")
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
        image, objects = render_image(_rng(seed, 0, index), hw)
        jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]
        (root / "JPEGImages" / f"{name}.jpg").write_bytes(jpeg.tobytes())
        (root / "Annotations" / f"{name}.xml").write_text(voc_xml(name, hw, objects))
    (root / "ImageSets" / "Main" / "all.txt").write_text("\n".join(names) + "\n")
    (root / "labels.txt").write_text("\n".join(LABELS) + "\n")


def _rng(seed: int, *key: int) -> np.random.Generator:
    # Spawn keys, not [seed, index] entropy: SeedSequence pads entropy with zeros, so
    # [s, 0] and [s, 0, 0] would collide.
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _checked(count: int, seed: int, size: tuple[int, int], what: str) -> tuple[int, int]:
    """(height, width) once the arguments make sense."""
    if count < 1:
        raise ValueError(f"need at least 1 of {what}, got {count}")
    if seed < 0:
        raise ValueError(f"seed must be 0 or more, got {seed}")
    if min(size) < 64 or max(size) > 4096:
        raise ValueError(f"size {size[0]}x{size[1]} must be between 64 and 4096 pixels a side")
    return size[1], size[0]


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
    hw = _checked(frames, seed, size, "frames")
    if path.suffix.lower() != ".avi" or fps <= 0:
        raise ValueError(f"video must be an .avi at a positive fps, got {path.name} at {fps}")
    scenery, movers, look = _video_scene(_rng(seed, 1, 0), hw)
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
                writer.write(finish(canvas.image, look, _rng(seed, 1, frame + 1)))
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
