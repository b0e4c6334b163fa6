from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.render.annotators import PALETTE, BoxAnnotator, MetricsOverlay, class_colour

GREY = 90


def _scene() -> np.ndarray:
    return np.full((200, 300, 3), GREY, np.uint8)


def _one_box(class_id: int, xyxy: list[float]) -> Detections:
    return Detections(
        np.array([xyxy], np.float32),
        np.array([0.8], np.float32),
        np.array([class_id], np.int32),
        ("thing",),
    )


@pytest.mark.parametrize("class_id", [0, 3, 9])
def test_box_edge_has_class_colour(class_id: int) -> None:
    scene = _scene()
    out = BoxAnnotator(thickness=2).annotate(scene, _one_box(class_id, [100, 80, 200, 160]))
    assert out is scene
    colour = PALETTE[class_id % len(PALETTE)]
    assert class_colour(class_id) == colour
    # bottom and right edges, clear of the label drawn above the top-left corner
    assert tuple(out[160, 150]) == colour
    assert tuple(out[120, 200]) == colour
    # inside the box and far away nothing changes
    assert tuple(out[120, 150]) == (GREY,) * 3
    assert np.all(out[185:, :40] == GREY)
    assert np.all(out[:, 260:] == GREY)


def test_empty_detections_leave_scene_unchanged() -> None:
    out = BoxAnnotator().annotate(_scene(), Detections.empty())
    assert np.all(out == GREY)


def test_classifier_detections_draw_text_in_corner() -> None:
    detections = Detections(
        np.full((2, 4), np.nan, np.float32),
        np.array([0.7, 0.2], np.float32),
        np.array([1, 2], np.int32),
        ("dog", "bird"),
    )
    out = BoxAnnotator().annotate(_scene(), detections)
    changed = np.any(out != GREY, axis=2)
    assert changed[40:90, :120].any()
    assert not changed[120:, :].any() and not changed[:, 200:].any()


@pytest.mark.parametrize(
    "status",
    [
        RunStatus(fps=12.5, inference_ms_p50=11.8, cpu_percent=55.0, rss_mb=120.0,
                  temperature_c=48.3),
        RunStatus(fps=0.0, inference_ms_p50=None, cpu_percent=None, rss_mb=None,
                  temperature_c=None),
        RunStatus(),
    ],
    ids=["full", "none-values", "empty"],
)  # fmt: skip
def test_metrics_overlay_draws_top_left(status: RunStatus) -> None:
    out = MetricsOverlay().annotate(_scene(), status)
    changed = np.any(out != GREY, axis=2)
    assert changed[:30, :60].any()
    assert not changed[40:, :].any()


def test_metrics_overlay_text_grows_with_values() -> None:
    full = RunStatus(fps=12.5, inference_ms_p50=11.8, cpu_percent=55.0, rss_mb=120.0)
    wide = np.any(MetricsOverlay().annotate(_scene(), full) != GREY, axis=2).any(axis=0)
    narrow = np.any(MetricsOverlay().annotate(_scene(), RunStatus()) != GREY, axis=2).any(axis=0)
    assert np.flatnonzero(wide).max() > np.flatnonzero(narrow).max()


def test_a_tracked_box_is_labelled_with_its_track_id() -> None:
    # The label box grows with its text: "#12 thing 0.80" is wider than "thing 0.80".
    plain, tracked = _scene(), _scene()
    BoxAnnotator().annotate(plain, _one_box(0, [20, 80, 60, 160]))
    BoxAnnotator().annotate(tracked, _one_box(0, [20, 80, 60, 160]).with_track_ids(np.array([12])))
    label_row = 70
    assert (tracked[label_row] != GREY).any(axis=1).sum() > (plain[label_row] != GREY).any(
        axis=1
    ).sum()


def test_zones_and_lines_are_drawn_where_the_fractions_say() -> None:
    from pisight.device.render.annotators import LINE_COLOUR, ZONE_COLOUR, ZoneAnnotator
    from pisight.device.zones.counting import ZoneCount
    from pisight.device.zones.geometry import Line, Zone

    zone = Zone("door", ((0.5, 0.5), (0.9, 0.5), (0.9, 0.9), (0.5, 0.9)))
    line = Line("street", (0.0, 0.25), (0.4, 0.25))
    scene = ZoneAnnotator((zone,), (line,)).annotate(
        _scene(), RunStatus(zones=(ZoneCount("door", {"person": 2}),))
    )
    h, w = scene.shape[:2]
    assert tuple(scene[round(0.9 * (h - 1)), round(0.7 * w)]) == ZONE_COLOUR  # bottom edge
    assert tuple(scene[round(0.25 * (h - 1)), round(0.3 * w)]) == LINE_COLOUR
    assert tuple(scene[round(0.75 * h), round(0.7 * w)]) == (GREY,) * 3  # inside: not filled
