"""Validation decodes as the bundle's post-processing does: one class per box, NMS across
classes, so the held-out score fine-tuning keeps its epochs by is the bundle's own."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pisight.convert.ssd.model import SSDConfig
from pisight.convert.ssd.validation import Validation
from pisight.convert.tf import tf


def _validation(anchors: np.ndarray) -> Validation:
    validation = Validation.__new__(Validation)  # no dataset to decode: _detect alone
    validation.config = SSDConfig(num_classes=2, labels=("circle", "square"))
    validation.anchors = anchors
    validation.dataset = SimpleNamespace(samples=[SimpleNamespace(width=100, height=100)])
    return validation


def test_one_class_per_box_and_nms_across_classes() -> None:
    # Anchors 0 and 1 are the same box, anchor 2 is elsewhere (centre y, x, height, width).
    anchors = np.array([[0.3, 0.3, 0.2, 0.2], [0.3, 0.3, 0.2, 0.2], [0.7, 0.7, 0.2, 0.2]])
    encodings = tf.zeros((1, 3, 4))  # every box exactly its anchor
    logit = np.log(0.9 / 0.1)  # sigmoid -> 0.9
    # (background, circle, square): anchor 0 is both a circle and a square, anchor 1 a
    # square over the same place, anchor 2 a circle.
    logits = tf.constant([[[0, logit, logit - 0.5], [0, -9, logit - 1], [0, logit, -9]]],
                         tf.float32)  # fmt: skip
    (found,) = _validation(anchors)._detect(encodings, logits, 0)
    # Per-class NMS would report anchor 0 twice (circle and square); the bundle once.
    assert sorted(found.labels) == ["circle", "circle"]
    np.testing.assert_allclose(
        sorted(found.xyxy.tolist()), [[20, 20, 40, 40], [60, 60, 80, 80]], atol=1e-4
    )
