"""What a tracker knows about one object: Track, one frozen value per moment, and its settings.

    options = TrackerOptions(min_hits=2, max_misses=150)
    for track in tracker.tracks:          # confirmed tracks, seen now or coasting
        track.track_id, track.label, track.box, track.visible, track.age_s

Times are the frames' capture times (Unix seconds), so a track's first and last seen
mean the same on the Pi as in the logs.
"""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x1, y1, x2, y2 pixels of the source frame


@dataclass(frozen=True)
class TrackerOptions:
    """Defaults chosen on tuning sequences only (scripts/benchmark_tracking.py --tune,
    seeds 1-3); the benchmark's seeds 101-105 were never tuned on."""

    min_hits: int = 2
    """Detections in a row before a track is confirmed and gets an id: one noisy frame
    makes no track."""
    max_misses: int = 150
    """Frames a confirmed track survives without a detection (an occlusion, a missed
    frame) before it ends: 5 s at 30 fps, as Frigate keeps them. One whose predicted box
    leaves the frame ends at once."""
    match_iou: float = 0.3
    """Least overlap between a track's predicted box and a detection to match them."""
    max_jump: float = 1.0
    """A track that missed frames is found again within this many box sizes of where it
    was or was heading, when boxes no longer overlap."""

    def __post_init__(self) -> None:
        if self.min_hits < 1 or self.max_misses < 0:
            raise ValueError("min_hits must be at least 1 and max_misses at least 0")
        if not 0.0 < self.match_iou < 1.0 or self.max_jump < 0:
            raise ValueError("match_iou must be between 0 and 1 and max_jump at least 0")


@dataclass(frozen=True)
class Track:
    track_id: int
    """Stable id, given when the track is confirmed; 1, 2, 3, ... in order of confirmation."""
    label: str
    class_id: int
    box: Box
    """The last detection's box."""
    score: float
    """The last detection's score."""
    top_score: float
    """The best score this track has had."""
    first_seen: float
    """Capture time of the track's first detection."""
    last_seen: float
    """Capture time of its last detection."""
    hits: int
    """Frames with a detection."""
    misses: int
    """Frames since the last detection; 0 while it is seen."""
    first_box: Box | None = None
    """The first detection's box (while still tentative): where the object came from."""

    @property
    def visible(self) -> bool:
        return self.misses == 0

    @property
    def age_s(self) -> float:
        return self.last_seen - self.first_seen
