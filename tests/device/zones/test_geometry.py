"""Zones and lines: validation in frame fractions, inside/outside, sides, anchors."""

from __future__ import annotations

import pytest

from pisight.device.zones.geometry import Line, Zone, anchor_point

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))


def test_zone_depth_is_positive_inside_and_negative_outside() -> None:
    zone = Zone("shop", SQUARE)
    assert zone.depth((0.4, 0.4)) == pytest.approx(0.2)
    assert zone.depth((0.9, 0.4)) == pytest.approx(-0.3)


def test_line_side_and_span() -> None:
    line = Line("street", (0.0, 0.5), (1.0, 0.5))
    assert line.side((0.5, 0.7)) == pytest.approx(0.2)  # below a left-to-right line: right
    assert line.side((0.5, 0.1)) == pytest.approx(-0.4)
    assert line.spans((0.5, 0.9)) and not Line("short", (0.2, 0.5), (0.4, 0.5)).spans((0.8, 0.6))


def test_anchor_points_in_fractions() -> None:
    box = (100.0, 40.0, 140.0, 120.0)
    assert anchor_point(box, "bottom", 400, 200) == (0.3, 0.6)
    assert anchor_point(box, "center", 400, 200) == (0.3, 0.4)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Zone("z", ((0.1, 0.1), (1.2, 0.1), (0.5, 0.5))), "outside the frame"),
        (lambda: Zone("z", ((0.1, 0.1), (0.5, 0.5))), "at least 3 points"),
        (lambda: Zone("z", ((0.1, 0.1), (0.2, 0.2), (0.3, 0.3))), "no area"),
        (lambda: Zone("z", SQUARE, anchor="top"), "anchor"),
        (lambda: Zone("", SQUARE), "name"),
        (lambda: Line("l", (0.5, 0.5), (0.5, 0.505)), "same point"),
        (lambda: Line("l", (-0.1, 0.5), (0.5, 0.5)), "outside the frame"),
    ],
)
def test_bad_geometry_is_refused_with_the_reason(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
