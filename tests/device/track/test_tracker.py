"""The tracker: confirmation, ids kept through crossings, misses and occlusions, classes apart."""

from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.detections import Detections
from pisight.device.track.tracker import UNTRACKED, Tracker
from pisight.device.track.tracks import TrackerOptions


def boxes(*rows: tuple[float, float, float, float, str]) -> Detections:
    """Detections from (x, y, w, h, label) rows; class id from the label."""
    names = ("circle", "square")
    return Detections(
        np.array([[x, y, x + w, y + h] for x, y, w, h, _ in rows], np.float32).reshape(-1, 4),
        np.full(len(rows), 0.9, np.float32),
        np.array([names.index(label) for *_, label in rows], np.int32),
        tuple(label for *_, label in rows),
    )


def run(tracker: Tracker, frames: list[Detections]) -> list[list[int]]:
    return [tracker.update(d, t=float(i)).track_ids.tolist() for i, d in enumerate(frames)]


def test_a_track_is_confirmed_after_min_hits_and_one_noisy_frame_makes_none() -> None:
    tracker = Tracker(TrackerOptions(min_hits=3))
    frames = [boxes((10 + 4 * i, 50, 30, 30, "circle")) for i in range(5)]
    frames[1] = boxes((10 + 4, 50, 30, 30, "circle"), (200, 10, 20, 20, "circle"))  # a flicker
    ids = run(tracker, frames)
    assert ids[0] == [UNTRACKED] and ids[1] == [UNTRACKED, UNTRACKED]
    assert ids[2:] == [[1], [1], [1]]
    assert [t.track_id for t in tracker.tracks] == [1]  # the flicker never became a track
    track = tracker.tracks[0]
    assert (track.hits, track.misses, track.first_seen, track.last_seen) == (5, 0, 0.0, 4.0)


def test_two_objects_crossing_each_other_keep_their_ids() -> None:
    tracker = Tracker()
    frames = [
        boxes((20 + 8 * i, 100, 40, 40, "circle"), (300 - 8 * i, 104, 40, 40, "circle"))
        for i in range(36)
    ]
    ids = run(tracker, frames)
    left_mover = {row[0] for row in ids[3:]}
    right_mover = {row[1] for row in ids[3:]}
    assert left_mover == {1} and right_mover == {2}


def test_a_track_survives_an_occlusion_and_is_found_where_it_was_heading() -> None:
    tracker = Tracker(TrackerOptions(max_misses=15))
    seen = [boxes((10 + 6 * i, 80, 30, 30, "square")) for i in range(8)]
    hidden = [boxes() for _ in range(10)]  # behind something for 10 frames
    back = [boxes((10 + 6 * i, 80, 30, 30, "square")) for i in range(18, 24)]
    ids = run(tracker, seen + hidden + back)
    assert ids[7] == [1] and all(row == [] for row in ids[8:18])
    assert [row for row in ids[18:]] == [[1]] * 6
    assert not tracker.ended


def test_a_track_missing_too_long_ends_and_the_object_gets_a_new_id() -> None:
    tracker = Tracker(TrackerOptions(max_misses=3, min_hits=2))
    run(tracker, [boxes((50, 50, 30, 30, "circle"))] * 3)
    ended = []
    for i in range(4):
        tracker.update(boxes(), t=10.0 + i)
        ended += tracker.ended
    assert [t.track_id for t in ended] == [1] and not tracker.tracks
    ids = run(tracker, [boxes((50, 50, 30, 30, "circle"))] * 3)
    assert ids[-1] == [2]


def test_classes_never_share_a_track() -> None:
    tracker = Tracker(TrackerOptions(min_hits=1))
    frames = [boxes((50, 50, 40, 40, "circle"), (52, 51, 40, 40, "square")) for _ in range(4)]
    ids = run(tracker, frames)
    assert ids == [[1, 2]] * 4
    assert {t.label for t in tracker.tracks} == {"circle", "square"}


def test_a_lost_track_is_not_taken_by_a_far_detection() -> None:
    tracker = Tracker(TrackerOptions(min_hits=1, max_jump=1.5))
    run(tracker, [boxes((10, 10, 20, 20, "circle"))] * 2)
    tracker.update(boxes(), t=5.0)
    assert tracker.update(boxes((200, 200, 20, 20, "circle")), t=6.0).track_ids.tolist() == [2]


def test_classifier_results_pass_through_untracked() -> None:
    top = Detections(np.full((2, 4), np.nan, np.float32), np.array([0.7, 0.2], np.float32),
                     np.array([3, 1], np.int32), ("cat", "dog"))  # fmt: skip
    assert Tracker().update(top).track_ids is None


@pytest.mark.parametrize(
    "bad", [{"min_hits": 0}, {"max_misses": -1}, {"match_iou": 0.0}, {"max_jump": -1.0}]
)
def test_bad_options_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        TrackerOptions(**bad)
