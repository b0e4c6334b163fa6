"""Raw output tensors -> Detections: the one place that knows the output layouts.

    detections = decode_ssd(raw, frame_w=640, frame_h=480, labels=labels, score_threshold=0.5)
    detections = decode_classifier(raw["logits"], labels=labels, top_k=3)

SSD (TFLite_Detection_PostProcess): boxes (1, N, 4) normalised [ymin, xmin, ymax, xmax],
classes (1, N) float class ids, scores (1, N), count (1,). Only the first `count` rows
are valid; the rest is padding.
Classifier: one (1, N) vector of probabilities or logits (softmaxed when they are not
already probabilities).
"""

from __future__ import annotations

import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.model.labels import Labels


def dequantize(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    if values.dtype == np.float32 or scale == 0:
        return values.astype(np.float32, copy=False)
    return (values.astype(np.float32) - zero_point) * scale


def decode_ssd(
    raw: dict[str, np.ndarray],
    frame_w: int,
    frame_h: int,
    labels: Labels,
    score_threshold: float,
) -> Detections:
    count = int(np.asarray(raw["count"]).reshape(-1)[0])
    boxes = np.asarray(raw["boxes"], np.float32).reshape(-1, 4)
    count = max(0, min(count, len(boxes)))
    scores = np.asarray(raw["scores"], np.float32).reshape(-1)[:count]
    classes = np.asarray(raw["classes"]).reshape(-1)[:count].astype(np.int32)
    keep = scores >= score_threshold
    boxes, scores, classes = boxes[:count][keep], scores[keep], classes[keep]
    ymin, xmin, ymax, xmax = (np.clip(boxes[:, i], 0.0, 1.0) for i in range(4))
    xyxy = np.stack([xmin * frame_w, ymin * frame_h, xmax * frame_w, ymax * frame_h], axis=1)
    return Detections(
        xyxy.astype(np.float32).reshape(-1, 4),
        scores,
        classes,
        tuple(labels.name(int(c)) for c in classes),
    ).top(len(scores))


def decode_classifier(
    logits: np.ndarray, labels: Labels, top_k: int, score_threshold: float = 0.0
) -> Detections:
    values = np.asarray(logits, np.float32).reshape(-1)
    probabilities = values if _are_probabilities(values) else _softmax(values)
    best = np.argsort(-probabilities, kind="stable")[:top_k]
    best = best[probabilities[best] >= score_threshold]
    # A classifier with one class more than the label file names has a background class 0,
    # whether or not the file lists it (Labels.name adds the file's own offset back).
    offset = 1 if len(values) == labels.count + 1 else 0
    class_ids = (best - offset).astype(np.int32)
    return Detections(
        np.full((len(best), 4), np.nan, np.float32),
        probabilities[best].astype(np.float32),
        class_ids,
        tuple(labels.name(int(c)) for c in class_ids),
    )


def _are_probabilities(values: np.ndarray) -> bool:
    return bool(values.min() >= 0.0 and values.max() <= 1.0 and abs(values.sum() - 1.0) < 0.05)


def _softmax(values: np.ndarray) -> np.ndarray:
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()
