"""Events from tracks: EventMaker turns each frame's tracks and zones into new/update/end.

    maker = EventMaker(EventOptions(classes=("person",)))
    messages = maker.update(tracker.tracks, tracker.ended, counter.zones_of(), frame.t_capture)
    messages += maker.close()     # the run ends: every open event ends

Rules, so a phone gets one notification per object and not a stream:
- an event starts when a confirmed, visible track of a watched class has been detected
  min_hits times and its best score has reached min_score;
- it updates only on news: the zones it is in change, its label changes (the tracker's
  class vote flipped), or its best score beats the one last sent by score_step (the best
  snapshot is the frame of the best score). A box that moves, a score that wobbles or an
  object that stands still sends nothing;
- it ends when its track ends (lost for max_misses frames, or gone over an edge), or when
  the run ends.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from pisight.device.events.event import EventMessage, EventOptions, EventState
from pisight.device.track.tracks import Track

_ID_ALPHABET = string.ascii_lowercase + string.digits


def event_id(start_time: float) -> str:
    """Frigate's shape, "1732269000.123456-k3x9qa": sortable by time, unique by chance."""
    suffix = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
    return f"{start_time:.6f}-{suffix}"


@dataclass
class _Open:
    sent: EventState
    """What the subscribers know: the state in the last message."""
    track: Track
    """The track as last seen, for the end message."""


class EventMaker:
    def __init__(self, options: EventOptions | None = None) -> None:
        self.options = options or EventOptions()
        self._open: dict[int, _Open] = {}  # track id -> its event
        self.started = 0
        """Events started so far."""

    @property
    def active(self) -> int:
        return len(self._open)

    def update(
        self, tracks: Sequence[Track], ended: Sequence[Track],
        zones: Mapping[int, tuple[str, ...]], t: float,
    ) -> list[EventMessage]:  # fmt: skip
        """This frame's messages, in order: starts and updates, then ends."""
        messages: list[EventMessage] = []
        for track in tracks:
            event = self._open.get(track.track_id)
            if event is None:
                if track.visible and self._qualifies(track):
                    messages.append(self._start(track, zones.get(track.track_id, ()), t))
                continue
            event.track = track
            if not track.visible:
                continue  # coasting: a predicted box is no news
            after = _advance(event.sent, track, zones.get(track.track_id, ()), t)
            if self._newsworthy(event.sent, after):
                messages.append(EventMessage("update", event.sent, after))
                event.sent = after
        for track in ended:
            event = self._open.pop(track.track_id, None)
            if event is not None:
                messages.append(_end(event, track))
        return messages

    def close(self) -> list[EventMessage]:
        """End every open event, at its track's last sighting."""
        messages = [_end(event, event.track) for event in self._open.values()]
        self._open.clear()
        return messages

    def _qualifies(self, track: Track) -> bool:
        options = self.options
        return (
            options.watches(track.label)
            and track.hits >= options.min_hits
            and track.top_score >= options.min_score
        )

    def _newsworthy(self, sent: EventState, after: EventState) -> bool:
        return (
            after.current_zones != sent.current_zones
            or after.label != sent.label
            or after.top_score >= sent.top_score + self.options.score_step
        )

    def _start(self, track: Track, zones: tuple[str, ...], t: float) -> EventMessage:
        state = EventState(
            id=event_id(track.first_seen), camera=self.options.camera, label=track.label,
            track_id=track.track_id, score=track.score, top_score=track.top_score,
            box=_pixels(track), current_zones=zones, entered_zones=zones,
            start_time=track.first_seen, frame_time=t, has_snapshot=self.options.snapshots,
            has_clip=self.options.clips,
        )  # fmt: skip
        self._open[track.track_id] = _Open(state, track)
        self.started += 1
        return EventMessage("new", state, state)


def _advance(sent: EventState, track: Track, zones: tuple[str, ...], t: float) -> EventState:
    entered = sent.entered_zones + tuple(z for z in zones if z not in sent.entered_zones)
    return replace(
        sent, label=track.label, score=track.score, top_score=track.top_score,
        box=_pixels(track), current_zones=zones, entered_zones=entered, frame_time=t,
    )  # fmt: skip


def _end(event: _Open, track: Track) -> EventMessage:
    after = replace(
        event.sent, label=track.label, score=track.score, top_score=track.top_score,
        box=_pixels(track), frame_time=track.last_seen, end_time=track.last_seen,
    )  # fmt: skip
    return EventMessage("end", event.sent, after)


def _pixels(track: Track) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (round(v) for v in track.box)
    return (x1, y1, x2, y2)
