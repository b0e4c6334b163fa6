"""Detections: shape checks, indexing and iteration, top-k, labels, JSON rows; box IoU."""

from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.detections import Detections, box_iou


def _detections() -> Detections:
    return Detections(
        xyxy=np.array(
            [[1.04, 2.06, 30.0, 40.0], [5.0, 5.0, 9.0, 9.0], [0.0, 0.0, 1.0, 1.0]], np.float32
        ),
        scores=np.array([0.5, 0.9, 0.7], np.float32),
        class_ids=np.array([0, 1, 2], np.int32),
        labels=("person", "car", "dog"),
    )


@pytest.mark.parametrize(
    ("xyxy_shape", "class_ids_shape", "labels", "field"),
    [
        ((2, 4), (3,), ("a", "b", "c"), "xyxy"),
        ((3, 3), (3,), ("a", "b", "c"), "xyxy"),
        ((3, 4), (2,), ("a", "b", "c"), "class_ids"),
        ((3, 4), (3, 1), ("a", "b", "c"), "class_ids"),
        ((3, 4), (3,), ("a", "b"), "labels"),
    ],
)
def test_shape_mismatch_raises(
    xyxy_shape: tuple, class_ids_shape: tuple, labels: tuple, field: str
) -> None:
    with pytest.raises(ValueError, match=field):
        Detections(
            np.zeros(xyxy_shape, np.float32),
            np.zeros(3, np.float32),
            np.zeros(class_ids_shape, np.int32),
            labels,
        )


def test_empty() -> None:
    empty = Detections.empty()
    assert len(empty) == 0
    assert empty.xyxy.shape == (0, 4)
    assert empty.to_json() == []
    assert len(empty.top(3)) == 0
    assert len(empty.with_labels(["person"])) == 0


def test_a_mask_keeps_its_rows_in_order() -> None:
    detections = _detections()
    kept = detections[np.array([True, False, True])]
    assert isinstance(kept, Detections)
    assert kept.labels == ("person", "dog")
    np.testing.assert_array_equal(kept.class_ids, [0, 2])
    np.testing.assert_array_equal(kept.scores, np.array([0.5, 0.7], np.float32))
    np.testing.assert_array_equal(kept.xyxy, detections.xyxy[[0, 2]])
    assert kept.xyxy.dtype == np.float32 and kept.class_ids.dtype == np.int32


def test_a_slice_keeps_those_rows() -> None:
    detections = _detections()
    assert detections[1:].labels == ("car", "dog")
    assert detections[::-1].labels == ("dog", "car", "person")
    np.testing.assert_array_equal(detections[:2].xyxy, detections.xyxy[:2])
    np.testing.assert_array_equal(detections[1:].scores, np.array([0.9, 0.7], np.float32))


def test_an_index_array_picks_and_orders_rows() -> None:
    detections = _detections()
    picked = detections[np.array([2, 0])]
    assert picked.labels == ("dog", "person")
    np.testing.assert_array_equal(picked.class_ids, [2, 0])
    np.testing.assert_array_equal(picked.xyxy, detections.xyxy[[2, 0]])
    assert detections[[1, 1]].labels == ("car", "car")
    assert detections[-1].labels == ("dog",)  # one integer: a one-row Detections
    assert detections[np.argsort(-detections.scores)].labels == detections.top(3).labels


@pytest.mark.parametrize(
    "index",
    [np.zeros(3, bool), slice(3, None), slice(0, 0), np.array([], int), []],
    ids=["no-row-mask", "slice-past-the-end", "empty-slice", "empty-int-array", "empty-list"],
)
def test_an_index_that_picks_nothing_gives_empty_detections(index: object) -> None:
    nothing = _detections()[index]
    assert len(nothing) == 0 and nothing.labels == ()
    assert nothing.xyxy.shape == (0, 4) and nothing.scores.shape == nothing.class_ids.shape == (0,)
    assert list(nothing) == [] and nothing.to_json() == []


def test_indexing_empty_detections() -> None:
    empty = Detections.empty()
    assert len(empty[empty.scores > 0.5]) == 0
    assert len(empty[:3]) == 0


@pytest.mark.parametrize(
    ("index", "error"),
    [
        (np.array([True, False]), "mask over 3"),
        (np.array([0.5]), "float64"),
        ([3], "out of bounds"),
    ],
)
def test_a_bad_index_raises_index_error(index: object, error: str) -> None:
    with pytest.raises(IndexError, match=error):
        _detections()[index]


def test_iteration_yields_one_detection_per_row() -> None:
    rows = list(_detections())
    assert [row.label for row in rows] == ["person", "car", "dog"]
    box, score, class_id, label = rows[1]
    np.testing.assert_array_equal(box, [5.0, 5.0, 9.0, 9.0])
    assert (score, class_id, label) == (pytest.approx(0.9), 1, "car")
    assert type(score) is float and type(class_id) is int
    assert rows[0].xyxy.shape == (4,) and rows[2].score == pytest.approx(0.7)
    assert list(Detections.empty()) == []


def test_box_iou_is_pairwise() -> None:
    a = np.array([[0, 0, 10, 10], [0, 0, 0, 0]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(box_iou(a, b), [[1.0, 1 / 3, 0.0], [0.0, 0.0, 0.0]])
    assert box_iou(a, np.zeros((0, 4), np.float32)).shape == (2, 0)
    # IoU does not care which axis comes first: yxyx boxes give the same answer.
    np.testing.assert_allclose(box_iou(a[:, [1, 0, 3, 2]], b[:, [1, 0, 3, 2]]), box_iou(a, b))


@pytest.mark.parametrize(
    ("k", "labels"),
    [(0, ()), (1, ("car",)), (2, ("car", "dog")), (10, ("car", "dog", "person"))],
)
def test_top_is_best_first(k: int, labels: tuple) -> None:
    assert _detections().top(k).labels == labels


@pytest.mark.parametrize(
    ("allowed", "labels"),
    [(["dog", "person"], ("person", "dog")), (["cat"], ()), ([], ())],
)
def test_with_labels(allowed: list, labels: tuple) -> None:
    assert _detections().with_labels(allowed).labels == labels


def test_to_json_rounds_boxes_and_scores() -> None:
    first = _detections().to_json()[0]
    assert first == {"label": "person", "class_id": 0, "score": 0.5, "box": [1.0, 2.1, 30.0, 40.0]}
    assert type(first["class_id"]) is int


def test_to_json_box_is_none_for_nan_rows() -> None:
    detections = Detections(
        np.full((2, 4), np.nan, np.float32),
        np.array([0.123456, 0.5], np.float32),
        np.array([3, 4], np.int32),
        ("cat", "dog"),
    )
    assert not detections.has_boxes
    rows = detections.to_json()
    assert [row["box"] for row in rows] == [None, None]
    assert rows[0]["score"] == 0.1235


def test_track_ids_follow_indexing_and_reach_the_json() -> None:
    tracked = _detections().with_track_ids(np.array([4, -1, 9]))
    assert tracked.track_ids is not None and tracked.track_ids.dtype == np.int32
    picked = tracked[np.array([2, 0])]
    assert picked.track_ids.tolist() == [9, 4]
    assert [row["track_id"] for row in tracked.to_json()] == [4, None, 9]
    assert "track_id" not in _detections().to_json()[0]  # untracked: the old format
    with pytest.raises(ValueError, match="track_ids"):
        _detections().with_track_ids(np.array([1, 2]))
