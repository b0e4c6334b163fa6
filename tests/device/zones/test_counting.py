"""Counting with tracks: entries and exits, occupancy, crossings once per direction, jitter."""

from __future__ import annotations

from pisight.device.track.tracks import Track
from pisight.device.zones.counting import SETTLE_FRAMES, ZoneCounter
from pisight.device.zones.geometry import Line, Zone

W, H = 200, 100
LEFT_HALF = Zone("left", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), anchor="center")
MIDDLE = Line("middle", (0.5, 0.0), (0.5, 1.0), anchor="center")  # top to bottom


def track(track_id: int, x: float, label: str = "person", misses: int = 0) -> Track:
    """A 20x20 px track centred at frame fraction x, mid-height."""
    cx = x * W
    return Track(track_id, label, 0, (cx - 10, 40, cx + 10, 60), 0.9, 0.9, 0.0, 0.0, 3, misses)


def walk(
    counter: ZoneCounter, xs: list[float], track_id: int = 1, label: str = "person",
    frames_each: int = SETTLE_FRAMES,
) -> None:  # fmt: skip
    """The track seen at each x in turn, for frames_each frames (long enough to settle)."""
    for x in xs:
        for _ in range(frames_each):
            counter.update([track(track_id, x, label)], [], W, H)


def test_a_track_entering_and_leaving_a_zone_counts_one_entry_and_one_exit() -> None:
    counter = ZoneCounter([LEFT_HALF])
    walk(counter, [0.9, 0.7, 0.4, 0.3])
    zone = counter.counts().zones[0]
    assert (zone.occupancy, zone.entries, zone.exits) == ({"person": 1}, {"person": 1}, {})
    walk(counter, [0.6, 0.8])
    zone = counter.counts().zones[0]
    assert (zone.total, zone.entries, zone.exits) == (0, {"person": 1}, {"person": 1})


def test_jitter_on_a_zone_edge_or_a_line_counts_nothing_twice() -> None:
    counter = ZoneCounter([LEFT_HALF], [MIDDLE])
    walk(counter, [0.8, 0.45])
    walk(counter, [0.51, 0.49, 0.515, 0.485, 0.51, 0.49, 0.53, 0.47] * 3, frames_each=1)
    walk(counter, [0.2])
    counts = counter.counts()
    assert counts.zones[0].entries == {"person": 1} and counts.zones[0].exits == {}
    assert (counts.lines[0].crossed_in, counts.lines[0].crossed_out) == ({"person": 1}, {})


def test_line_directions_and_once_per_track_and_direction() -> None:
    counter = ZoneCounter(lines=[MIDDLE])
    # Looking from the top (start) to the bottom (end), right is the frame's left side.
    walk(counter, [0.8, 0.6, 0.4, 0.2])  # right of the frame to left: left to right of the line
    assert counter.counts().lines[0].crossed_in == {"person": 1}
    walk(counter, [0.4, 0.6, 0.8])
    walk(counter, [0.6, 0.4, 0.2])  # the same track again: already counted both ways
    line = counter.counts().lines[0]
    assert (line.crossed_in, line.crossed_out) == ({"person": 1}, {"person": 1})
    walk(counter, [0.8, 0.2], track_id=2)
    assert counter.counts().lines[0].crossed_in == {"person": 2}


def test_passing_beyond_the_end_of_a_line_is_no_crossing() -> None:
    short = Line("gate", (0.5, 0.0), (0.5, 0.3), anchor="center")  # the track is at y 0.5
    counter = ZoneCounter(lines=[short])
    walk(counter, [0.8, 0.2])
    assert counter.counts().lines[0].total_in == 0


def test_a_track_ending_inside_leaves_and_a_coasting_one_stays() -> None:
    counter = ZoneCounter([LEFT_HALF])
    walk(counter, [0.3])
    counter.update([track(1, 0.9, misses=2)], [], W, H)  # coasting: its old box is no news
    assert counter.counts().zones[0].total == 1
    counter.update([], [track(1, 0.3, misses=31)], W, H)
    zone = counter.counts().zones[0]
    assert (zone.total, zone.exits) == (0, {"person": 1})


def test_classes_a_zone_does_not_watch_are_not_counted() -> None:
    cars_only = Zone("lot", LEFT_HALF.polygon, classes=("car",), anchor="center")
    counter = ZoneCounter([cars_only])
    walk(counter, [0.3], track_id=1, label="person")
    walk(counter, [0.3], track_id=2, label="car")
    assert counter.counts().zones[0].occupancy == {"car": 1}


def test_a_box_that_flickers_across_for_fewer_than_settle_frames_is_no_crossing() -> None:
    counter = ZoneCounter([LEFT_HALF], [MIDDLE])
    walk(counter, [0.8])
    walk(counter, [0.3], frames_each=SETTLE_FRAMES - 1)  # a partial occlusion moved its box
    walk(counter, [0.8])
    counts = counter.counts()
    assert counts.zones[0].entries == {} and counts.lines[0].total_in == 0
    walk(counter, [0.3])
    counts = counter.counts()
    assert counts.zones[0].entries == {"person": 1} and counts.lines[0].total_in == 1


def test_a_crossing_while_the_track_was_tentative_still_counts() -> None:
    counter = ZoneCounter(lines=[MIDDLE])
    first = track(1, 0.8)
    confirmed = Track(1, "person", 0, track(1, 0.3).box, 0.9, 0.9, 0.0, 0.1, 3, 0, first.box)
    for _ in range(SETTLE_FRAMES):
        counter.update([confirmed], [], W, H)
    assert counter.counts().lines[0].crossed_in == {"person": 1}
