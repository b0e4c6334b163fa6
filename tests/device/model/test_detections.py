from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.detections import Detections


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


def test_filter_keeps_masked_rows_in_order() -> None:
    kept = _detections().filter(np.array([True, False, True]))
    assert kept.labels == ("person", "dog")
    np.testing.assert_array_equal(kept.class_ids, [0, 2])
    np.testing.assert_array_equal(kept.scores, np.array([0.5, 0.7], np.float32))
    assert kept.xyxy.shape == (2, 4)


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
