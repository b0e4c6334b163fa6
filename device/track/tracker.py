"""The tracker: detections in, the same detections with stable track ids out.

    tracker = Tracker(TrackerOptions())
    tracked = tracker.update(detections, t=frame.t_capture, frame_size=(640, 480))
    tracked.track_ids   # per detection: its confirmed track's id, -1 while tentative
    tracker.tracks      # confirmed tracks alive now (seen, or coasting through a miss)
    tracker.ended       # confirmed tracks that ended in the last update

SORT-like, chosen by measurement (scripts/benchmark_tracking.py, table in BENCHMARKS.md):
each track predicts its box at constant velocity; detections match by IoU with the
prediction, greedily, best overlap first, within a class; then a track that missed frames
is found again by distance (an object back from behind another has moved on and rarely
overlaps its old box); then any class at a high overlap, because detectors flip an
object's class now and then and a flip must not cost the track. A track's label is the
class it was seen as most (score-weighted). New tracks stay tentative for min_hits
frames; a coasting track whose prediction leaves the frame ends at once, so counts never
hold an object that is gone. Numpy only: the Pi half stays light.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pisight.device.model.detections import Detections, box_iou
from pisight.device.track.tracks import Box, Track, TrackerOptions

UNTRACKED = -1
_SMOOTHING = 0.5  # velocity: half the newest step, half the history (noise vs lag)
# The longer a track is unseen, the farther the object may be from where it was heading:
# the search radius grows by this many box sizes per missed frame.
_SEARCH_GROWTH = 0.02
_ANY_CLASS_IOU = 0.5  # a class flip is taken for the same object only at this overlap


@dataclass
class _State:
    """A track while the tracker works on it; Track is its frozen face."""

    class_id: int
    label: str
    box: Box  # plain floats: a handful of numbers is faster in Python than in numpy
    score: float
    first_seen: float
    velocity: tuple[float, float]  # pixels per frame of the box centre
    first_box: Box
    track_id: int = UNTRACKED  # given at confirmation
    hits: int = 1
    misses: int = 0
    top_score: float = 0.0
    last_seen: float = 0.0
    votes: dict[int, float] = field(default_factory=dict)  # class id -> summed score
    names: dict[int, str] = field(default_factory=dict)

    def predicted(self) -> Box:
        """The box moved on at the centre's velocity, its size kept: a box that shrank
        as the object went behind something must not extrapolate into nothing."""
        frames = self.misses + 1
        dx, dy = self.velocity[0] * frames, self.velocity[1] * frames
        x1, y1, x2, y2 = self.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)

    def freeze(self) -> Track:
        return Track(
            self.track_id, self.label, self.class_id, self.box, self.score,
            self.top_score, self.first_seen, self.last_seen, self.hits, self.misses,
            self.first_box,
        )  # fmt: skip


class Tracker:
    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._states: list[_State] = []
        self._next_id = 1
        self._frames = 0
        self.tracks: tuple[Track, ...] = ()
        self.ended: tuple[Track, ...] = ()

    def update(
        self, detections: Detections, t: float | None = None,
        frame_size: tuple[int, int] | None = None,
    ) -> Detections:  # fmt: skip
        """Match this frame's detections to the tracks; returns them with track_ids.

        frame_size (width, height) lets a coasting track that has left the picture end.
        """
        self._frames += 1
        t = float(self._frames) if t is None else t
        if not detections.has_boxes:  # a classifier's classes: nothing to follow
            return detections
        boxes = detections.xyxy.astype(np.float64)
        matches = self._match(boxes, detections.class_ids)
        rows = [tuple(box) for box in boxes.tolist()]
        ids = np.full(len(detections), UNTRACKED, np.int32)
        for state_index, row in matches.items():
            state = self._states[state_index]
            self._hit(state, detections, rows[row], row, t)
            ids[row] = state.track_id
        ended, kept = [], []
        for index, state in enumerate(self._states):
            if index not in matches:
                state.misses += 1
                if state.track_id == UNTRACKED:
                    continue  # a tentative track dies at its first miss
                if state.misses > self.options.max_misses or _gone(state, frame_size):
                    ended.append(state.freeze())
                    continue
            kept.append(state)
        matched_rows = set(matches.values())
        for row in range(len(detections)):
            if row not in matched_rows:
                state = self._new_state(detections, rows[row], row, t)
                kept.append(state)
                ids[row] = state.track_id
        self._states = kept
        self.tracks = tuple(s.freeze() for s in kept if s.track_id != UNTRACKED)
        self.ended = tuple(ended)
        return detections.with_track_ids(ids)

    def _match(self, boxes: np.ndarray, class_ids: np.ndarray) -> dict[int, int]:
        """State index -> detection row: by IoU in a class, by distance, by IoU in any."""
        if not self._states or not len(boxes):
            return {}
        predicted = np.array([s.predicted() for s in self._states])
        overlap = box_iou(predicted, boxes)
        same_class = np.array([s.class_id for s in self._states])[:, None] == class_ids[None, :]
        matches = dict(_greedy(np.where(same_class, overlap, 0.0), self.options.match_iou))
        # A track that missed frames (hidden, or a missed detection) is looked for near
        # where it was or was heading; IoU is often 0 by then.
        lost = [i for i, s in enumerate(self._states) if s.misses and i not in matches]
        rows = _free(len(boxes), matches)
        if lost and rows:
            distance = np.stack([self._jump(self._states[i], boxes[rows]) for i in lost])
            distance[~same_class[np.ix_(lost, rows)]] = np.inf
            for a, b in _greedy(-distance, -self.options.max_jump):
                matches[lost[a]] = rows[b]
        states = [i for i in range(len(self._states)) if i not in matches]
        rows = _free(len(boxes), matches)
        if states and rows:
            for a, b in _greedy(overlap[np.ix_(states, rows)], _ANY_CLASS_IOU):
                matches[states[a]] = rows[b]
        return matches

    def _jump(self, state: _State, boxes: np.ndarray) -> np.ndarray:
        """Distance from the state to each box, in box sizes, less what the search radius
        has grown while the track was unseen; inf for a very different size."""
        size = _size(np.array(state.box))
        centers = (boxes[:, :2] + boxes[:, 2:]) / 2
        distances = [
            np.hypot(centers[:, 0] - (x1 + x2) / 2, centers[:, 1] - (y1 + y2) / 2)
            for x1, y1, x2, y2 in (state.box, state.predicted())
        ]
        ratio = _size(boxes.T) / size
        jump = np.minimum(*distances) / size - _SEARCH_GROWTH * (state.misses - 1)
        return np.where((ratio > 0.5) & (ratio < 2.0), jump, np.inf)

    def _hit(self, state: _State, found: Detections, box: Box, row: int, t: float) -> None:
        (x1, y1, x2, y2), (ox1, oy1, ox2, oy2) = box, state.box
        frames = 2 * (state.misses + 1)  # centre = half the sum of the edges
        dx, dy = (x1 + x2 - ox1 - ox2) / frames, (y1 + y2 - oy1 - oy2) / frames
        if state.hits > 1:  # a new track has no history to smooth with
            (vx, vy), keep = state.velocity, 1 - _SMOOTHING
            dx, dy = _SMOOTHING * dx + keep * vx, _SMOOTHING * dy + keep * vy
        score = float(found.scores[row])
        state.velocity = (dx, dy)
        state.box, state.score, state.last_seen = box, score, t
        state.top_score = max(state.top_score, score)
        state.hits += 1
        state.misses = 0
        _vote(state, int(found.class_ids[row]), found.labels[row], score)
        if state.track_id == UNTRACKED and state.hits >= self.options.min_hits:
            state.track_id = self._take_id()

    def _new_state(self, found: Detections, box: Box, row: int, t: float) -> _State:
        score, class_id = float(found.scores[row]), int(found.class_ids[row])
        state = _State(
            class_id, found.labels[row], box, score, t, (0.0, 0.0), box,
            top_score=score, last_seen=t,
        )  # fmt: skip
        _vote(state, class_id, found.labels[row], score)
        if self.options.min_hits <= 1:
            state.track_id = self._take_id()
        return state

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


def _vote(state: _State, class_id: int, label: str, score: float) -> None:
    state.votes[class_id] = state.votes.get(class_id, 0.0) + score
    state.names[class_id] = label
    state.class_id = max(state.votes, key=state.votes.__getitem__)
    state.label = state.names[state.class_id]


def _gone(state: _State, frame_size: tuple[int, int] | None) -> bool:
    """Whether a coasting track's predicted centre has left the frame."""
    if frame_size is None:
        return False
    x1, y1, x2, y2 = state.predicted()
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return not (0 <= cx < frame_size[0] and 0 <= cy < frame_size[1])


def _size(box: np.ndarray) -> np.ndarray:
    """Geometric mean of width and height (1 px at least): a box's scale."""
    width, height = box[2] - box[0], box[3] - box[1]
    return np.sqrt(np.maximum(width, 1.0) * np.maximum(height, 1.0))


def _free(count: int, matches: dict[int, int]) -> list[int]:
    taken = set(matches.values())
    return [row for row in range(count) if row not in taken]


def _greedy(score: np.ndarray, floor: float) -> list[tuple[int, int]]:
    """Pairs (row, column), highest score first, each row and column once, score >= floor."""
    candidates = np.argwhere(score >= floor)
    if not len(candidates):
        return []
    order = np.argsort(-score[candidates[:, 0], candidates[:, 1]], kind="stable")
    used_rows, used_columns, pairs = set(), set(), []
    for r, c in candidates[order].tolist():
        if r in used_rows or c in used_columns:
            continue
        used_rows.add(r)
        used_columns.add(c)
        pairs.append((r, c))
    return pairs
