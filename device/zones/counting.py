"""Counting with tracks: who is in each zone now, who entered and left, who crossed each line.

    counter = ZoneCounter(zones, lines)
    counter.update(tracker.tracks, tracker.ended, frame.width, frame.height)
    counts = counter.counts()          # a frozen Counts; RunStatus carries it
    counts.zones[0].occupancy          # {"person": 2}
    counter.zones_of()                 # {7: ("door",)}: where each track is now

Rules, so counts neither double nor go stale:
- a zone's entries count every time a track comes inside (first seen inside included);
  its exits every time one inside leaves or ends, so occupancy = entries - exits always;
- a line counts a track at most once per direction, when its anchor goes from one side
  to the other beside the segment; "in" is from left to right looking from start to end;
- an anchor must go MARGIN past a zone's edge or a line, and stay there SETTLE_FRAMES
  sightings, before its side changes; a track that coasts through a miss keeps where it
  was; a line knows a new track's side
  from its first detection, so a crossing during the min_hits confirmation still counts.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pisight.device.track.tracks import Track
from pisight.device.zones.geometry import MARGIN, Line, Point, Zone, anchor_point


@dataclass(frozen=True)
class ZoneCount:
    name: str
    occupancy: dict[str, int] = field(default_factory=dict)
    """Tracks inside now, per label."""
    entries: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Tracks inside now, every class."""
        return sum(self.occupancy.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "occupancy": self.total,
            "by_class": dict(self.occupancy), "entries": dict(self.entries),
            "exits": dict(self.exits),
        }  # fmt: skip


@dataclass(frozen=True)
class LineCount:
    name: str
    crossed_in: dict[str, int] = field(default_factory=dict)
    crossed_out: dict[str, int] = field(default_factory=dict)

    @property
    def total_in(self) -> int:
        return sum(self.crossed_in.values())

    @property
    def total_out(self) -> int:
        return sum(self.crossed_out.values())

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "in": dict(self.crossed_in), "out": dict(self.crossed_out)}


@dataclass(frozen=True)
class Counts:
    zones: tuple[ZoneCount, ...] = ()
    lines: tuple[LineCount, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "zones": [zone.to_json() for zone in self.zones],
            "lines": [line.to_json() for line in self.lines],
        }


SETTLE_FRAMES = 3
"""Frames in a row a track must be seen on a new side (of a line, of a zone's edge) before
it counts as there: a box that flickers for a frame or two (a partial occlusion moves
its centre) is no crossing."""


class _Settled:
    """Per track, a side (+1 / -1) that changes only when SETTLE_FRAMES sightings agree."""

    def __init__(self) -> None:
        self.sides: dict[int, int] = {}
        self._pending: dict[int, tuple[int, int]] = {}  # track id -> (side, sightings)

    def see(self, track_id: int, side: int) -> tuple[int | None, int]:
        """(side before, side now); before is None the first time a track is seen."""
        before = self.sides.get(track_id)
        if before is None or before == side:
            self.sides[track_id] = side
            self._pending.pop(track_id, None)
            return before, side
        candidate, seen = self._pending.get(track_id, (side, 0))
        seen = seen + 1 if candidate == side else 1
        if seen < SETTLE_FRAMES:
            self._pending[track_id] = (side, seen)
            return before, before
        del self._pending[track_id]
        self.sides[track_id] = side
        return before, side

    def forget(self, track_id: int) -> None:
        self.sides.pop(track_id, None)
        self._pending.pop(track_id, None)


class _ZoneState:
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.inside: dict[int, str] = {}  # track id -> label
        self.entries: Counter[str] = Counter()
        self.exits: Counter[str] = Counter()
        self._settled = _Settled()  # +1 inside, -1 outside

    def see(self, track: Track, width: int, height: int) -> None:
        depth = self.zone.depth(anchor_point(track.box, self.zone.anchor, width, height))
        if abs(depth) <= MARGIN:
            return  # on the edge: wait until it is clearly in or out
        _, side = self._settled.see(track.track_id, 1 if depth > 0 else -1)
        was_inside = track.track_id in self.inside
        if side == 1 and not was_inside:
            self.inside[track.track_id] = track.label
            self.entries[track.label] += 1
        elif side == -1 and was_inside:
            self._leave(track.track_id)

    def _leave(self, track_id: int) -> None:
        label = self.inside.pop(track_id, None)
        if label is not None:
            self.exits[label] += 1

    def end(self, track_id: int) -> None:
        self._leave(track_id)
        self._settled.forget(track_id)

    def count(self) -> ZoneCount:
        return ZoneCount(
            self.zone.name, dict(Counter(self.inside.values())), dict(self.entries),
            dict(self.exits),
        )  # fmt: skip


class _LineState:
    def __init__(self, line: Line) -> None:
        self.line = line
        self._settled = _Settled()  # +1 right of start -> end, -1 left
        self.counted: dict[int, set[int]] = {}  # track id -> directions already counted
        self.crossed: dict[int, Counter[str]] = {1: Counter(), -1: Counter()}  # 1: in

    def _side(self, point: Point) -> int:
        distance = self.line.side(point)
        return 0 if abs(distance) <= MARGIN else (1 if distance > 0 else -1)

    def see(self, track: Track, width: int, height: int) -> None:
        point = anchor_point(track.box, self.line.anchor, width, height)
        side = self._side(point)
        if side == 0:
            return  # on the line: wait until it is clearly over
        if track.track_id not in self._settled.sides and track.first_box is not None:
            # Where the track came from: a crossing while it was still tentative counts.
            first = self._side(anchor_point(track.first_box, self.line.anchor, width, height))
            if first:
                self._settled.see(track.track_id, first)
        before, now = self._settled.see(track.track_id, side)
        if before is None or before == now or not self.line.spans(point):
            return
        done = self.counted.setdefault(track.track_id, set())
        if now not in done:  # once per track and direction: no double counts
            done.add(now)
            self.crossed[now][track.label] += 1

    def end(self, track_id: int) -> None:
        self._settled.forget(track_id)
        self.counted.pop(track_id, None)

    def count(self) -> LineCount:
        return LineCount(self.line.name, dict(self.crossed[1]), dict(self.crossed[-1]))


class ZoneCounter:
    def __init__(self, zones: Sequence[Zone] = (), lines: Sequence[Line] = ()) -> None:
        self._states: list[_ZoneState | _LineState] = [
            *(_ZoneState(zone) for zone in zones),
            *(_LineState(line) for line in lines),
        ]
        self._lock = threading.Lock()  # counts() is read by the HTTP and metrics threads

    def update(
        self, tracks: Sequence[Track], ended: Sequence[Track], width: int, height: int
    ) -> None:
        with self._lock:
            for state in self._states:
                watched = state.zone if isinstance(state, _ZoneState) else state.line
                for track in tracks:
                    if track.visible and watched.watches(track.label):
                        state.see(track, width, height)
                for track in ended:
                    state.end(track.track_id)

    def zones_of(self) -> dict[int, tuple[str, ...]]:
        """Track id -> the zones it is inside now, in config order (an event's zones)."""
        inside: dict[int, list[str]] = {}
        with self._lock:
            for state in self._states:
                if isinstance(state, _ZoneState):
                    for track_id in state.inside:
                        inside.setdefault(track_id, []).append(state.zone.name)
        return {track_id: tuple(names) for track_id, names in inside.items()}

    def counts(self) -> Counts:
        with self._lock:
            readings = [state.count() for state in self._states]
        return Counts(
            tuple(r for r in readings if isinstance(r, ZoneCount)),
            tuple(r for r in readings if isinstance(r, LineCount)),
        )
