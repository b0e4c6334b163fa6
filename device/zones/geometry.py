"""Zones (polygons) and counting lines, in fractions of the frame so they survive a change
of camera resolution.

    door = Zone("door", ((0.1, 0.2), (0.4, 0.2), (0.4, 0.9), (0.1, 0.9)), classes=("person",))
    door.depth((0.25, 0.5))       # > 0 inside, < 0 outside, in frame fractions
    street = Line("street", (0.0, 0.6), (1.0, 0.6), classes=("car",))
    street.side((0.5, 0.7))       # > 0 right of start->end (below, for this line)
    anchor_point(box, "bottom", width, height)   # where a box stands, in fractions

Which point of a box counts: "bottom" (the middle of its lower edge, where a person or a
car touches the ground: what a camera looking down a street or a shop sees) or "center".
The anchor moves with the object, not with the box's jitter in size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[float, float]  # x, y as fractions of the frame width and height, 0-1
ANCHORS = ("bottom", "center")
MARGIN = 0.02
"""How far past a line or a zone's edge (in frame fractions) an anchor must go before it
counts as on the other side: box jitter around an edge is not a crossing."""


def _check_points(kind: str, name: str, points: tuple[Point, ...], anchor: str) -> None:
    if not name:
        raise ValueError(f"a {kind} needs a name")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"{kind} {name!r}: point ({x:g}, {y:g}) is outside the frame; "
                "coordinates are fractions of the width and height, 0 to 1"
            )
    if anchor not in ANCHORS:
        raise ValueError(f"{kind} {name!r}: anchor must be one of {', '.join(ANCHORS)}")


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[Point, ...]
    classes: tuple[str, ...] = ()
    """Labels this zone counts; empty counts every class."""
    anchor: str = "bottom"

    def __post_init__(self) -> None:
        _check_points("zone", self.name, self.polygon, self.anchor)
        if len(self.polygon) < 3:
            raise ValueError(f"zone {self.name!r} needs at least 3 points, got {len(self.polygon)}")
        contour = np.asarray(self.polygon, np.float32).reshape(-1, 1, 2)
        if cv2.contourArea(contour) <= 0:
            raise ValueError(f"zone {self.name!r} has no area: its points lie on one line")
        object.__setattr__(self, "_contour", contour)

    def depth(self, point: Point) -> float:
        """Signed distance from the zone's edge: positive inside, negative outside."""
        return cv2.pointPolygonTest(self._contour, point, True)  # type: ignore[attr-defined]

    def watches(self, label: str) -> bool:
        return not self.classes or label in self.classes


@dataclass(frozen=True)
class Line:
    name: str
    start: Point
    end: Point
    classes: tuple[str, ...] = ()
    """Labels this line counts; empty counts every class."""
    anchor: str = "bottom"

    def __post_init__(self) -> None:
        _check_points("line", self.name, (self.start, self.end), self.anchor)
        if np.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]) < MARGIN:
            raise ValueError(f"line {self.name!r}: start and end are (almost) the same point")

    def side(self, point: Point) -> float:
        """Signed distance from the line: positive on the right of start -> end."""
        (x1, y1), (x2, y2) = self.start, self.end
        dx, dy = x2 - x1, y2 - y1
        return (dx * (point[1] - y1) - dy * (point[0] - x1)) / float(np.hypot(dx, dy))

    def spans(self, point: Point) -> bool:
        """Whether the point is beside the segment (not beyond either end)."""
        (x1, y1), (x2, y2) = self.start, self.end
        dx, dy = x2 - x1, y2 - y1
        along = ((point[0] - x1) * dx + (point[1] - y1) * dy) / (dx * dx + dy * dy)
        return -0.01 <= along <= 1.01

    def watches(self, label: str) -> bool:
        return not self.classes or label in self.classes


def anchor_point(
    box: tuple[float, float, float, float], anchor: str, width: int, height: int
) -> Point:
    x1, y1, x2, y2 = box
    y = y2 if anchor == "bottom" else (y1 + y2) / 2
    return ((x1 + x2) / 2 / width, y / height)
