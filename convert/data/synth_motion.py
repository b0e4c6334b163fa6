"""How the objects of a synthetic video move: bouncing off the edges, or along keyframes.

    movers = scenario_movers("occlusion", rng, hw=(120, 160), scenery=canvas, frames=60)
    shape = movers[0].at(12, (120, 160))             # the Shape to draw in frame 12

Each scenario (SCENARIOS) is something a tracker finds hard, made so on purpose:

- bounce: every class at constant velocity and spin, bouncing off the edges (the demo's).
- crossing: two pairs heading at each other along one line, passing side by side.
- occlusion: two pairs where a big square or circle, painted later, slowly passes over a
  smaller object and hides it for a while.
- reentry: three objects that each leave over an edge, travel outside the picture and
  come back in elsewhere on the same edge.
- stopgo: three objects that go, stand still for a while, then go on another way.
- mixed: one crossing pair, one occlusion pair, one reentry, one stop-go, 0-2 bouncers.

Timings are fractions of the video's length, so every event happens in a 20-frame test
clip as in a 300-frame benchmark. Sizes and paints come from synth_scene's helpers, so the
demo detector sees the shapes it was trained on.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from pisight.convert.data.synth_scene import (
    EXTENT,
    LABELS,
    Canvas,
    Paint,
    Shape,
    contrasting_paint,
    random_shape,
    shape_mask,
)

Key = tuple[float, float, float]  # frame, x, y of the centre
Point = tuple[float, float]


@dataclass(frozen=True)
class Mover:
    """An object of the video: constant velocity and spin, bouncing off the edges."""

    shape: Shape
    paint: Paint
    velocity: tuple[float, float]
    spin: float

    def at(self, frame: int, hw: tuple[int, int]) -> Shape:
        reach = _reach(self.shape)
        x, y = (
            _bounce(start + speed * frame, reach, side - reach)
            for start, speed, side in zip(self.shape.center, self.velocity, hw[::-1], strict=True)
        )
        return replace(self.shape, center=(x, y), angle=self.shape.angle + self.spin * frame)


@dataclass(frozen=True)
class Route:
    """An object going straight from key to key: still before the first, after the last and
    between two keys at one place. Keys may lie outside the frame and the video's length."""

    shape: Shape
    paint: Paint
    keys: tuple[Key, ...]
    spin: float
    """Radians turned per pixel travelled, so a standing object stands still."""

    def __post_init__(self) -> None:
        times = [key[0] for key in self.keys]
        if len(times) < 2 or any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"a route needs two or more keys at rising frames, got {times}")

    def at(self, frame: int, hw: tuple[int, int]) -> Shape:
        times, xs, ys = np.asarray(self.keys, np.float64).T
        travelled = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))])
        x, y, distance = (float(np.interp(frame, times, v)) for v in (xs, ys, travelled))
        return replace(self.shape, center=(x, y), angle=self.shape.angle + self.spin * distance)


Motion = Mover | Route


def _bounce(position: float, low: float, high: float) -> float:
    """Where a point moving freely from `low` would be, reflected between low and high."""
    span = max(high - low, 1e-6)
    phase = (position - low) % (2 * span)
    return low + (phase if phase <= span else 2 * span - phase)


def _reach(shape: Shape) -> float:
    """How far from its centre any pixel of the shape can be, at any angle."""
    return EXTENT * shape.size + 1


def _object(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, label: str = "",
    smallest: float = 0.0, largest: float = math.inf,
) -> tuple[Shape, Paint]:  # fmt: skip
    """A random shape, its size kept within [smallest, largest], and a paint that stands out."""
    shape = random_shape(rng, hw, label)
    if not smallest <= shape.size <= largest:
        # Sized before it is painted: a pattern's period follows the size.
        shape = replace(shape, size=min(max(shape.size, smallest), largest))
    paint = contrasting_paint(rng, shape.size, scenery.mean_under(shape_mask(shape, hw)))
    return shape, paint


def _random_mover(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, label: str
) -> Mover:
    shape, paint = _object(rng, hw, scenery, label)
    speed, heading = rng.uniform(1, 6) * min(hw) / 480, rng.uniform(0, 2 * math.pi)
    velocity = (speed * math.cos(heading), speed * math.sin(heading))
    return Mover(shape, paint, velocity, rng.uniform(-0.03, 0.03))


def _bouncers(rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas) -> list[Motion]:
    # Every class moves in every video, so a demo shows all of them. The draws keep
    # their order of old: the demo's and the benchmarks' videos stay byte-identical.
    labels = [*rng.permutation(LABELS), *rng.choice(LABELS, rng.integers(0, 3))]
    return [_random_mover(rng, hw, scenery, str(label)) for label in labels]


def _unit(angle: float) -> Point:
    return math.cos(angle), math.sin(angle)


def _line(through: Point, at: float, velocity: Point, last: int) -> tuple[Key, ...]:
    """Keys of a constant-velocity pass through `through` at frame `at`, over frames 0-last."""
    end = max(last, 1)
    (x, y), (vx, vy) = through, velocity
    return (0.0, x - vx * at, y - vy * at), (end, x + vx * (end - at), y + vy * (end - at))


def _crossing_pair(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, last: int
) -> list[Motion]:
    """Two objects heading at each other along one line, side by side when they meet."""
    (first, first_paint), (second, second_paint) = (_object(rng, hw, scenery) for _ in "ab")
    h, w = hw
    ux, uy = _unit(rng.uniform(0, 2 * math.pi))
    # Centre to the frame's edge along the line: each starts 70-95 % of it from the meeting,
    # so the two start apart and pass each other near the middle of the video.
    half = min(w / 2 / max(abs(ux), 1e-6), h / 2 / max(abs(uy), 1e-6))
    meet_point = (w * rng.uniform(0.4, 0.6), h * rng.uniform(0.4, 0.6))
    meet = rng.uniform(0.35, 0.65) * max(last, 1)
    aside = rng.uniform(-0.2, 0.2) * min(first.size, second.size)
    routes: list[Motion] = []
    for shape, paint, sign in ((first, first_paint, 1), (second, second_paint, -1)):
        speed = sign * rng.uniform(0.7, 0.95) * half / meet
        through = (meet_point[0] - uy * aside * sign, meet_point[1] + ux * aside * sign)
        keys = _line(through, meet, (ux * speed, uy * speed), last)
        routes.append(Route(shape, paint, keys, rng.uniform(-0.01, 0.01)))
    return routes


def _occlusion_pair(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, last: int
) -> list[Motion]:
    """A small object and a big square or circle painted over it that slowly passes over it."""
    # 25-35 % of the frame: big enough to hide a whole detectable object, not the scene.
    side, label = min(hw), str(rng.choice(["circle", "square"]))
    cover, cover_paint = _object(rng, hw, scenery, label, 0.25 * side, 0.35 * side)
    # At most 55 % of the cover's size, the hidden one fits inside it whole.
    hidden, hidden_paint = _object(rng, hw, scenery, largest=0.55 * cover.size)
    h, w = hw
    meet_point = (w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7))
    meet = rng.uniform(0.4, 0.6) * max(last, 1)
    # The hidden one drifts; the cover passes it at a relative speed that keeps the hidden
    # centre within ~35 % of the cover's size from the cover's for a tenth of the video.
    drift = rng.uniform(0.2, 0.4) * min(hw) / max(last, 1)
    slow = _unit(rng.uniform(0, 2 * math.pi))
    passing = 0.7 * cover.size / max(4.0, 0.1 * last)
    across = _unit(rng.uniform(0, 2 * math.pi))
    hidden_velocity = (slow[0] * drift, slow[1] * drift)
    cover_velocity = (
        hidden_velocity[0] + across[0] * passing,
        hidden_velocity[1] + across[1] * passing,
    )
    return [
        Route(shape, paint, _line(meet_point, meet, velocity, last), rng.uniform(-0.01, 0.01))
        for shape, paint, velocity in (
            (hidden, hidden_paint, hidden_velocity),
            (cover, cover_paint, cover_velocity),
        )
    ]


def _on_edge(edge: int, along: float, depth: float, hw: tuple[int, int]) -> Point:
    """The point `depth` pixels inside edge 0-3 (left, right, top, bottom), `along` 0-1 of it."""
    h, w = hw
    if edge < 2:
        return (depth if edge == 0 else w - depth), along * h
    return along * w, (depth if edge == 2 else h - depth)


def _reentry(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, last: int
) -> list[Motion]:
    """Out over one edge, along outside it for a quarter of the video, back in elsewhere."""
    shape, paint = _object(rng, hw, scenery)
    edge = int(rng.integers(4))
    inward = hw[1] if edge < 2 else hw[0]
    outside = -(_reach(shape) + 2)  # not one pixel of it in the frame
    leave_at = max(1.0, rng.uniform(0.2, 0.35) * last)
    back_at = leave_at + max(3.0, 0.25 * last)
    start, back = rng.uniform(0.15, 0.4), rng.uniform(0.6, 0.85)
    if rng.integers(2):
        start, back = back, start
    keys = (
        (0.0, *_on_edge(edge, start, rng.uniform(0.3, 0.5) * inward, hw)),
        (leave_at, *_on_edge(edge, start, outside, hw)),
        (back_at, *_on_edge(edge, back, outside, hw)),
        (max(float(last), back_at + 1), *_on_edge(edge, back, rng.uniform(0.3, 0.5) * inward, hw)),
    )
    return [Route(shape, paint, keys, rng.uniform(-0.01, 0.01))]


def _stop_and_go(
    rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, last: int
) -> list[Motion]:
    """Straight to a point, still there for a quarter of the video (6 frames or more), then
    on towards somewhere else of the frame."""
    shape, paint = _object(rng, hw, scenery)
    h, w = hw
    reach = min(_reach(shape), min(hw) / 2 - 1)

    def inside(x: float, y: float) -> Point:
        return float(np.clip(x, reach, w - reach)), float(np.clip(y, reach, h - reach))

    def leg(start: Point) -> Point:
        # Towards the middle, give or take 60 degrees: a leg never ends at the edge it began.
        heading = math.atan2(h / 2 - start[1], w / 2 - start[0]) + rng.uniform(-1.05, 1.05)
        length = rng.uniform(0.25, 0.45) * min(hw)
        return inside(start[0] + length * math.cos(heading), start[1] + length * math.sin(heading))

    start = inside(rng.uniform(0, w), rng.uniform(0, h))
    stop = leg(start)
    go = leg(stop)
    stop_at = max(1, round(rng.uniform(0.2, 0.45) * last))  # whole frames: still means same
    go_at = stop_at + max(6, round(0.25 * last))
    keys = ((0.0, *start), (stop_at, *stop), (go_at, *stop), (max(last, go_at + 1), *go))
    return [Route(shape, paint, keys, rng.uniform(-0.01, 0.01))]


Maker = Callable[[np.random.Generator, tuple[int, int], Canvas, int], list[Motion]]
# What each scenario is made of, in painting order: later hides earlier. Mixed also has
# 0-2 bouncers under everything; its occlusion pair comes last so its cover is on top.
_RECIPES: dict[str, tuple[Maker, ...]] = {
    "crossing": (_crossing_pair, _crossing_pair),
    "occlusion": (_occlusion_pair, _occlusion_pair),
    "reentry": (_reentry,) * 3,
    "stopgo": (_stop_and_go,) * 3,
    "mixed": (_reentry, _stop_and_go, _crossing_pair, _occlusion_pair),
}
SCENARIOS = ("bounce", *_RECIPES)


def scenario_movers(
    scenario: str, rng: np.random.Generator, hw: tuple[int, int], scenery: Canvas, frames: int
) -> list[Motion]:
    """The objects of one video of `frames` frames, in painting order (later hides earlier)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}")
    if scenario == "bounce":
        return _bouncers(rng, hw, scenery)
    bouncers = rng.integers(0, 3) if scenario == "mixed" else 0
    movers: list[Motion] = [_random_mover(rng, hw, scenery, "") for _ in range(bouncers)]
    for make in _RECIPES[scenario]:
        movers += make(rng, hw, scenery, frames - 1)
    return movers
