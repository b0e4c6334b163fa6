"""The tracker: detections in, the same detections with stable track ids out.

    tracker = Tracker(TrackerOptions())
    tracked = tracker.update(detections, t=frame.t_capture)   # tracked.track_ids
    tracker.tracks      # confirmed tracks alive now (seen, or coasting through a miss)
    tracker.ended       # confirmed tracks that ended in the last update

SORT-like with two rescues, chosen by measurement (scripts/benchmark_tracking.py, table in
BENCHMARKS.md): each track predicts its box at constant velocity; detections match by
IoU with the prediction, greedily, best overlap first, within a class; a track that missed
frames is then found again by distance (an object that reappears from behind another
has moved on and rarely overlaps its old box). New tracks stay tentative for min_hits
frames. Numpy only: the Pi half stays light.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pisight.device.model.detections import Detections, box_iou
from pisight.device.track.tracks import Track, TrackerOptions

UNTRACKED = -1
_SMOOTHING = 0.5  # velocity: half the newest step, half the history (noise vs lag)


@dataclass
class _State:
    """A track while the tracker works on it; Track is its frozen face."""

    class_id: int
    label: str
    box: np.ndarray  # (4,) float64
    score: float
    first_seen: float
    velocity: np.ndarray  # (4,) pixels per frame, per box edge
    track_id: int = UNTRACKED  # given at confirmation
    hits: int = 1
    misses: int = 0
    top_score: float = 0.0
    last_seen: float = 0.0

    def predicted(self) -> np.ndarray:
        return self.box + self.velocity * (self.misses + 1)

    def freeze(self) -> Track:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return Track(
            self.track_id, self.label, self.class_id, (x1, y1, x2, y2), self.score,
            self.top_score, self.first_seen, self.last_seen, self.hits, self.misses,
        )  # fmt: skip


class Tracker:
    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._states: list[_State] = []
        self._next_id = 1
        self._frames = 0
        self.tracks: tuple[Track, ...] = ()
        self.ended: tuple[Track, ...] = ()

    def update(self, detections: Detections, t: float | None = None) -> Detections:
        """Match this frame's detections to the tracks; returns them with track_ids."""
        self._frames += 1
        t = float(self._frames) if t is None else t
        if not detections.has_boxes:  # a classifier's classes: nothing to follow
            return detections
        boxes = detections.xyxy.astype(np.float64)
        matches = self._match(boxes, detections.class_ids)
        ids = np.full(len(detections), UNTRACKED, np.int32)
        matched_states = set()
        for state_index, row in matches:
            state = self._states[state_index]
            self._hit(state, boxes[row], float(detections.scores[row]), t)
            matched_states.add(state_index)
            ids[row] = state.track_id
        ended, kept = [], []
        for index, state in enumerate(self._states):
            if index not in matched_states:
                state.misses += 1
                if state.track_id == UNTRACKED or state.misses > self.options.max_misses:
                    if state.track_id != UNTRACKED:
                        ended.append(state.freeze())
                    continue  # a tentative track dies at its first miss
            kept.append(state)
        matched_rows = {row for _, row in matches}
        for row in range(len(detections)):
            if row not in matched_rows:
                state = self._new_state(detections, boxes, row, t)
                kept.append(state)
                ids[row] = state.track_id
        self._states = kept
        self.tracks = tuple(s.freeze() for s in kept if s.track_id != UNTRACKED)
        self.ended = tuple(ended)
        return detections.with_track_ids(ids)

    def _match(self, boxes: np.ndarray, class_ids: np.ndarray) -> list[tuple[int, int]]:
        """(state index, detection row) pairs: by IoU with the prediction, then by distance."""
        if not self._states or not len(boxes):
            return []
        predicted = np.stack([s.predicted() for s in self._states])
        same_class = np.array([s.class_id for s in self._states])[:, None] == class_ids[None, :]
        overlap = np.where(same_class, box_iou(predicted, boxes), 0.0)
        matches = _greedy(overlap, self.options.match_iou, largest=True)
        # Rescue: a track that missed frames (hidden, or a missed detection) is looked for
        # near where it was or was heading; IoU is often 0 by then.
        taken_states = {s for s, _ in matches}
        taken_rows = {r for _, r in matches}
        lost = [i for i, s in enumerate(self._states) if s.misses and i not in taken_states]
        rows = [r for r in range(len(boxes)) if r not in taken_rows]
        if lost and rows:
            distance = np.stack([self._jump(self._states[i], boxes[rows]) for i in lost])
            distance[~same_class[np.ix_(lost, rows)]] = np.inf
            for a, b in _greedy(distance, self.options.max_jump, largest=False):
                matches.append((lost[a], rows[b]))
        return matches

    def _jump(self, state: _State, boxes: np.ndarray) -> np.ndarray:
        """Distance from the state to each box, in box sizes; inf for a very different size."""
        size = _size(state.box)
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        distances = [
            np.linalg.norm(centers - (anchor[:2] + anchor[2:]) / 2, axis=1)
            for anchor in (state.box, state.predicted())
        ]
        ratio = _size(boxes.T) / size
        return np.where((ratio > 0.5) & (ratio < 2.0), np.minimum(*distances) / size, np.inf)

    def _hit(self, state: _State, box: np.ndarray, score: float, t: float) -> None:
        step = (box - state.box) / (state.misses + 1)
        if state.hits > 1:  # a new track has no history to smooth with
            step = _SMOOTHING * step + (1 - _SMOOTHING) * state.velocity
        state.velocity = step
        state.box, state.score, state.last_seen = box, score, t
        state.top_score = max(state.top_score, score)
        state.hits += 1
        state.misses = 0
        if state.track_id == UNTRACKED and state.hits >= self.options.min_hits:
            state.track_id = self._take_id()

    def _new_state(self, detections: Detections, boxes: np.ndarray, row: int, t: float) -> _State:
        score = float(detections.scores[row])
        state = _State(
            int(detections.class_ids[row]), detections.labels[row], boxes[row], score, t,
            np.zeros(4), top_score=score, last_seen=t,
        )  # fmt: skip
        if self.options.min_hits <= 1:
            state.track_id = self._take_id()
        return state

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


def _size(box: np.ndarray) -> np.ndarray:
    """Geometric mean of width and height (1 px at least): a box's scale."""
    width, height = box[2] - box[0], box[3] - box[1]
    return np.sqrt(np.maximum(width, 1.0) * np.maximum(height, 1.0))


def _greedy(cost: np.ndarray, limit: float, largest: bool) -> list[tuple[int, int]]:
    """Pairs (row, column) taken best first, each row and column once, up to `limit`."""
    order = np.argsort(-cost if largest else cost, axis=None, kind="stable")
    rows, columns = np.unravel_index(order, cost.shape)
    used_rows, used_columns, pairs = set(), set(), []
    for r, c in zip(rows.tolist(), columns.tolist(), strict=True):
        value = cost[r, c]
        if (value < limit) if largest else (value > limit):
            break
        if r in used_rows or c in used_columns:
            continue
        used_rows.add(r)
        used_columns.add(c)
        pairs.append((r, c))
    return pairs
