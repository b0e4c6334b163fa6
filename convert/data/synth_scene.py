"""Synthetic scenes: the shapes, paints, clutter and backgrounds a synthetic image is drawn from.

    hw = (240, 320)
    canvas = Canvas(background(rng, hw))
    shape = random_shape(rng, hw)
    canvas.add(shape_mask(shape, hw), random_paint(rng, shape.size), shape.center, shape.label)
    canvas.boxes(min_visible=0.6)                    # [("circle", (x1, y1, x2, y2)), ...]

Three classes (LABELS) drawn with four textures on gradient, blotchy or plain noisy
backgrounds among clutter that is not an object (lines, bars, crosses, arcs). Boxes are
tight around the visible pixels of each object.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

LABELS = ("circle", "square", "triangle")
TEXTURES = ("solid", "stripes", "checker", "noise")
SIZE_RANGE = (0.08, 0.45)  # object size as a fraction of the shorter image side
EXTENT = 0.72  # bounding radius / size of any shape at any angle: a square's half-diagonal
MIN_CONTRAST = 80.0  # RGB distance between each colour of an object and its background
CLUTTER_SCALE = 0.25  # clutter patterns are sized like a mid-sized object's

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
