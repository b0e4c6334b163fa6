"""How closely a quantized model follows its float original on the same frames.

    agreement = measure_agreement(fp32_detector, int8_detector, frames_bgr)
    agreement.matched_fraction, agreement.mean_iou, agreement.mean_score_delta

Detectors: float detections (score >= threshold) are matched greedily, best IoU first,
to quantized detections of the same class; a match needs IoU >= 0.5. Classifiers: the
top-1 class must agree. This is the tensorflow/examples golden-test shape: compare
against a reference with an IoU tolerance, not exact numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pisight.device.model.detections import Detections, box_iou
from pisight.device.model.detector import Detector

MATCH_IOU = 0.5


@dataclass(frozen=True)
class Agreement:
    frames: int
    reference_detections: int
    matched_fraction: float
    """Share of the float model's detections the quantized model also makes."""
    mean_iou: float | None
    """Mean IoU of matched boxes (None for classifiers or when nothing matched)."""
    mean_score_delta: float | None
    """Mean |score difference| of matched detections."""
    extra_detections: int
    """Quantized detections with no float counterpart."""

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def match_detections(reference: Detections, candidate: Detections) -> list[tuple[int, int, float]]:
    """Greedy same-class matches (reference row, candidate row, IoU), best IoU first."""
    if not len(reference) or not len(candidate):
        return []
    iou = box_iou(reference.xyxy, candidate.xyxy)
    iou[reference.class_ids[:, None] != candidate.class_ids[None, :]] = 0.0
    matches, used_r, used_c = [], set(), set()
    for flat in np.argsort(-iou, axis=None):
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < MATCH_IOU:
            break
        if r not in used_r and c not in used_c:
            matches.append((int(r), int(c), float(iou[r, c])))
            used_r.add(r)
            used_c.add(c)
    return matches


def measure_agreement(
    reference: Detector, candidate: Detector, frames: list[np.ndarray], threshold: float = 0.3
) -> Agreement:
    total = matched = extra = 0
    ious, deltas = [], []
    for frame in frames:
        expected = _confident(reference.detect(frame), threshold)
        got = _confident(candidate.detect(frame), threshold)
        if reference.task == "classification":
            same = len(expected) and len(got) and expected.class_ids[0] == got.class_ids[0]
            total, matched = total + 1, matched + int(bool(same))
            if same:
                deltas.append(abs(float(expected.scores[0] - got.scores[0])))
            continue
        matches = match_detections(expected, got)
        total += len(expected)
        matched += len(matches)
        extra += len(got) - len(matches)
        ious += [iou for _, _, iou in matches]
        deltas += [abs(float(expected.scores[r] - got.scores[c])) for r, c, _ in matches]
    return Agreement(
        frames=len(frames),
        reference_detections=total,
        matched_fraction=matched / total if total else 1.0,
        mean_iou=float(np.mean(ious)) if ious else None,
        mean_score_delta=float(np.mean(deltas)) if deltas else None,
        extra_detections=extra,
    )


def _confident(detections: Detections, threshold: float) -> Detections:
    if not detections.has_boxes:
        return detections.top(1)
    return detections[detections.scores >= threshold]
