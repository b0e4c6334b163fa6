"""What an event is: EventState (one frozen value per moment), EventMessage, EventOptions.

    message = EventMessage("update", before, after)
    message.to_json()   # {"type": "update", "before": {...}, "after": {...}}
    message.payload()   # the same as compact UTF-8 JSON: what MQTT and the spool carry

The JSON follows Frigate's `frigate/events` (type new / update / end, before and after
with id, camera, label, score, top_score, box, current_zones, entered_zones, start_time,
end_time, has_snapshot, has_clip), so an automation written for Frigate ports by
changing the topic. Times are the frames' capture times (Unix seconds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, Protocol

EventType = Literal["new", "update", "end"]


@dataclass(frozen=True)
class EventOptions:
    """Which tracks become events, and what counts as news about one."""

    classes: tuple[str, ...] = ()
    """Labels watched; empty watches every class."""
    min_score: float = 0.5
    """A track becomes an event once its best score reaches this."""
    min_hits: int = 3
    """... and it has been detected in at least this many frames: a flicker is no event."""
    score_step: float = 0.05
    """The best score must beat the one last sent by this much for an update: a stationary
    object whose score wobbles sends nothing."""
    camera: str = ""
    """The device's name, the `camera` of each event (Frigate's field)."""
    snapshots: bool = False
    """Snapshots are kept (events/media.py): events say has_snapshot."""
    clips: bool = False
    """Clips are kept: events say has_clip."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 1.0 or self.min_hits < 1 or self.score_step <= 0:
            raise ValueError("min_score must be 0-1, min_hits at least 1, score_step above 0")

    def watches(self, label: str) -> bool:
        return not self.classes or label in self.classes


@dataclass(frozen=True)
class EventState:
    id: str
    """Unique across runs and devices: start time and a random suffix, as Frigate's."""
    camera: str
    label: str
    track_id: int
    score: float
    """The latest detection's score."""
    top_score: float
    box: tuple[int, int, int, int]
    """The latest detection's box, x1, y1, x2, y2 pixels of the source frame."""
    current_zones: tuple[str, ...]
    entered_zones: tuple[str, ...]
    """Every zone the object has been in, in the order it entered them."""
    start_time: float
    frame_time: float
    """Capture time of the frame this state describes."""
    end_time: float | None = None
    has_snapshot: bool = False
    has_clip: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "camera": self.camera, "label": self.label,
            "track_id": self.track_id, "score": round(self.score, 4),
            "top_score": round(self.top_score, 4), "box": list(self.box),
            "current_zones": list(self.current_zones), "entered_zones": list(self.entered_zones),
            "start_time": round(self.start_time, 6), "end_time": _time(self.end_time),
            "frame_time": round(self.frame_time, 6), "has_snapshot": self.has_snapshot,
            "has_clip": self.has_clip,
        }  # fmt: skip


def _time(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


@dataclass(frozen=True)
class EventMessage:
    type: EventType
    before: EventState
    """The state last sent (for "new", the same as after)."""
    after: EventState

    @property
    def id(self) -> str:
        return self.after.id

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "before": self.before.to_json(), "after": self.after.to_json()}

    def payload(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


class EventSink(Protocol):
    """Where event messages go (the MQTT publisher). Called on the decode thread, in
    order: send() must return at once, never wait for a network or a disk."""

    def send(self, message: EventMessage) -> None: ...
