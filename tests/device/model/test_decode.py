from __future__ import annotations

import numpy as np
import pytest

from pisight.device.model.decode import decode_classifier, decode_ssd, dequantize
from pisight.device.model.labels import Labels

LABELS = Labels(("cat", "dog", "bird"))


def _ssd_raw(count: int) -> dict[str, np.ndarray]:
    """Four rows of TFLite_Detection_PostProcess output: normalised [ymin, xmin, ymax, xmax]."""
    boxes = [
        [0.10, 0.20, 0.50, 0.60],
        [-0.10, 0.50, 0.40, 1.20],  # out of range: clipped to the frame
        [0.0, 0.0, 1.0, 1.0],
        [0.3, 0.3, 0.4, 0.4],  # padding beyond count in the tests that limit it
    ]
    return {
        "boxes": np.array([boxes], np.float32),
        "classes": np.array([[1.0, 0.0, 2.0, 0.0]], np.float32),
        "scores": np.array([[0.6, 0.9, 0.3, 0.95]], np.float32),
        "count": np.array([count], np.float32),
    }


@pytest.mark.parametrize(
    ("count", "threshold", "labels"),
    [
        (3, 0.5, ("cat", "dog")),
        (3, 0.0, ("cat", "dog", "bird")),
        (1, 0.0, ("dog",)),
        (0, 0.0, ()),
        (4, 0.5, ("cat", "cat", "dog")),
        (99, 0.92, ("cat",)),  # a count larger than the rows is capped
    ],
)
def test_ssd_count_and_threshold(count: int, threshold: float, labels: tuple) -> None:
    detections = decode_ssd(_ssd_raw(count), 200, 100, LABELS, threshold)
    assert detections.labels == labels
    assert list(detections.scores) == sorted(detections.scores, reverse=True)
    assert all(detections.scores >= threshold)


def test_ssd_boxes_become_clipped_pixel_xyxy() -> None:
    detections = decode_ssd(_ssd_raw(3), frame_w=200, frame_h=100, labels=LABELS, score_threshold=0)
    # best first: row 1 (0.9), row 0 (0.6), row 2 (0.3)
    expected = np.array(
        [[100.0, 0.0, 200.0, 40.0], [40.0, 10.0, 120.0, 50.0], [0.0, 0.0, 200.0, 100.0]]
    )
    np.testing.assert_allclose(detections.xyxy, expected, atol=1e-4)
    np.testing.assert_array_equal(detections.class_ids, [0, 1, 2])
    assert detections.xyxy.dtype == np.float32


def test_ssd_unknown_class_gets_a_stand_in_name() -> None:
    raw = _ssd_raw(1)
    raw["classes"][0, 0] = 7
    assert decode_ssd(raw, 10, 10, LABELS, 0).labels == ("class 7",)


def test_classifier_softmaxes_logits() -> None:
    logits = np.array([[1.0, 3.0, 2.0]], np.float32)
    expected = np.exp(logits[0]) / np.exp(logits[0]).sum()
    detections = decode_classifier(logits, LABELS, top_k=3)
    assert detections.labels == ("dog", "bird", "cat")
    np.testing.assert_allclose(detections.scores, expected[[1, 2, 0]], rtol=1e-5)
    assert np.isnan(detections.xyxy).all() and not detections.has_boxes


def test_classifier_keeps_probabilities() -> None:
    probabilities = np.array([0.2, 0.1, 0.7], np.float32)
    detections = decode_classifier(probabilities, LABELS, top_k=2)
    assert detections.labels == ("bird", "cat")
    np.testing.assert_allclose(detections.scores, [0.7, 0.2])


def test_classifier_threshold() -> None:
    probabilities = np.array([0.2, 0.1, 0.7], np.float32)
    assert decode_classifier(probabilities, LABELS, top_k=3, score_threshold=0.15).labels == (
        "bird",
        "cat",
    )


@pytest.mark.parametrize(
    "labels",
    [
        Labels(("cat", "dog", "bird")),  # the model's class 0 is a background the file omits
        Labels(("background", "cat", "dog", "bird"), offset=1),  # the file names it
    ],
    ids=["file-without-background", "file-with-background"],
)
def test_classifier_background_offset(labels: Labels) -> None:
    probabilities = np.array([0.05, 0.1, 0.8, 0.05], np.float32)  # background, cat, dog, bird
    detections = decode_classifier(probabilities, labels, top_k=2)
    assert detections.labels == ("dog", "cat")
    np.testing.assert_array_equal(detections.class_ids, [1, 0])


@pytest.mark.parametrize(
    ("values", "scale", "zero_point", "expected"),
    [
        (np.array([0, 128, 255], np.uint8), 0.5, 128, [-64.0, 0.0, 63.5]),
        (np.array([-128, 0, 127], np.int8), 0.1, -128, [0.0, 12.8, 25.5]),
        (np.array([3, 4], np.uint8), 0.0, 0, [3.0, 4.0]),
        (np.array([0.25, -1.5], np.float32), 0.5, 10, [0.25, -1.5]),
    ],
)
def test_dequantize(values: np.ndarray, scale: float, zero_point: int, expected: list) -> None:
    out = dequantize(values, scale, zero_point)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
