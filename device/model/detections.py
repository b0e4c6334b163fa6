"""The one detection result type that flows from decoder to annotators, logs and server.

Detections index like their arrays and iterate row by row; box_iou compares two box sets:

    confident = detections[detections.scores >= 0.5]      # a mask, index array or slice
    for box, score, class_id, label in confident: ...     # one Detection per row
    box_iou(confident.xyxy, other.xyxy)                   # (n, m) pairwise IoU
    tracked = detections.with_track_ids(ids)               # the tracker's answer (track/)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np


class Detection(NamedTuple):
    """One row of a Detections, as iterating over it yields."""

    xyxy: np.ndarray  # (4,) float32; all NaN for a classifier's class
    score: float
    class_id: int
    label: str


@dataclass(frozen=True)
class Detections:
    """n detections, one array per field.

    xyxy: (n, 4) float32 boxes in pixels of the source frame (x1, y1, x2, y2);
          all NaN rows for a classifier's top-k, which has no boxes.
    scores: (n,) float32 in [0, 1].
    class_ids: (n,) int32 model class indices (after the label offset).
    labels: n strings, the class names.
    track_ids: None before tracking; then (n,) int32 ids of the confirmed track each
          detection belongs to, -1 for one not (yet) part of a confirmed track.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str, ...] = field(default=())
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must be ({n}, 4), got {self.xyxy.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must be ({n},), got {self.class_ids.shape}")
        if len(self.labels) != n:
            raise ValueError(f"labels must have {n} entries, got {len(self.labels)}")
        if self.track_ids is not None and self.track_ids.shape != (n,):
            raise ValueError(f"track_ids must be ({n},), got {self.track_ids.shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), ())

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def has_boxes(self) -> bool:
        return not bool(np.isnan(self.xyxy).any()) if len(self) else True

    def __getitem__(self, index: np.ndarray | Sequence[int] | slice | int) -> Detections:
        """The rows `index` picks: a boolean mask, integer indices, a slice or one integer.

        Always a Detections, every field indexed alike; one integer gives one row, as in
        supervision, and iterating gives single Detection values.
        """
        if isinstance(index, slice):
            return self._take(np.arange(len(self))[index])
        rows = np.asarray(index)
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"a mask over {len(self)} detections has shape {rows.shape}")
            return self._take(np.flatnonzero(rows))
        if rows.size == 0:
            return self._take(np.zeros(0, np.intp))  # [] arrives as float64
        if rows.ndim > 1 or not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"index detections by mask, integers or slice, not {rows.dtype}")
        return self._take(rows.reshape(-1))

    def __iter__(self) -> Iterator[Detection]:
        for box, score, class_id, label in zip(
            self.xyxy, self.scores, self.class_ids, self.labels, strict=True
        ):
            yield Detection(box, float(score), int(class_id), label)

    def top(self, k: int) -> Detections:
        """The k highest-scoring detections, best first."""
        return self._take(np.argsort(-self.scores, kind="stable")[:k])

    def _take(self, rows: np.ndarray) -> Detections:
        return Detections(
            self.xyxy[rows],
            self.scores[rows],
            self.class_ids[rows],
            tuple(self.labels[i] for i in rows),
            None if self.track_ids is None else self.track_ids[rows],
        )

    def with_track_ids(self, track_ids: np.ndarray) -> Detections:
        """The same rows with the tracker's ids (-1: no confirmed track)."""
        return replace(self, track_ids=np.asarray(track_ids, np.int32).reshape(-1))

    def with_labels(self, allowed: Sequence[str]) -> Detections:
        wanted = set(allowed)
        return self[np.array([label in wanted for label in self.labels], bool)]

    def to_json(self) -> list[dict]:
        """The `detections` list of the JSONL log; box is null without boxes.

        The format is stable: docs/ARCHITECTURE.md, "Stable output formats". Tracked
        detections add "track_id" (null for one no confirmed track owns yet).
        """
        rows = [
            {
                "label": label,
                "class_id": class_id,
                "score": round(score, 4),
                "box": None if np.isnan(box).any() else [round(float(v), 1) for v in box],
            }
            for box, score, class_id, label in self
        ]
        if self.track_ids is not None:
            for row, track_id in zip(rows, self.track_ids.tolist(), strict=True):
                row["track_id"] = track_id if track_id >= 0 else None
        return rows


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (n, 4) and (m, 4) boxes: (n, m).

    Boxes are xyxy pixel edges (no +1 pixel convention). IoU is the same with x and y
    swapped, so yxyx boxes (SSD anchors, TF's order) give the same answer. The 1e-9
    floor makes two empty boxes overlap 0, not NaN.
    """
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)
