"""The one detection result type that flows from decoder to annotators, logs and server."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Detections:
    """n detections, one array per field.

    xyxy: (n, 4) float32 boxes in pixels of the source frame (x1, y1, x2, y2);
          all NaN rows for a classifier's top-k, which has no boxes.
    scores: (n,) float32 in [0, 1].
    class_ids: (n,) int32 model class indices (after the label offset).
    labels: n strings, the class names.
    """

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.xyxy.shape != (n, 4):
            raise ValueError(f"xyxy must be ({n}, 4), got {self.xyxy.shape}")
        if self.class_ids.shape != (n,):
            raise ValueError(f"class_ids must be ({n},), got {self.class_ids.shape}")
        if len(self.labels) != n:
            raise ValueError(f"labels must have {n} entries, got {len(self.labels)}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int32), ())

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def has_boxes(self) -> bool:
        return not bool(np.isnan(self.xyxy).any()) if len(self) else True

    def filter(self, mask: np.ndarray) -> Detections:
        """A new Detections with the rows where mask is True."""
        return self._take(np.flatnonzero(mask))

    def top(self, k: int) -> Detections:
        """The k highest-scoring detections, best first."""
        return self._take(np.argsort(-self.scores, kind="stable")[:k])

    def _take(self, rows: np.ndarray) -> Detections:
        return Detections(
            self.xyxy[rows],
            self.scores[rows],
            self.class_ids[rows],
            tuple(self.labels[i] for i in rows),
        )

    def with_labels(self, allowed: Sequence[str]) -> Detections:
        wanted = set(allowed)
        return self.filter(np.array([label in wanted for label in self.labels], bool))

    def to_json(self) -> list[dict]:
        """The `detections` list of the JSONL log (DESIGN.md); box is null without boxes."""
        rows = []
        for box, score, class_id, label in zip(
            self.xyxy, self.scores, self.class_ids, self.labels, strict=True
        ):
            rows.append(
                {
                    "label": label,
                    "class_id": int(class_id),
                    "score": round(float(score), 4),
                    "box": None if np.isnan(box).any() else [round(float(v), 1) for v in box],
                }
            )
        return rows
