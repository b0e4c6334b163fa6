"""Events from tracks: when they start, what is news, when they end, and their JSON."""

from __future__ import annotations

import json

import numpy as np

from pisight.device.events.event import EventOptions
from pisight.device.events.maker import EventMaker
from pisight.device.model.detections import Detections
from pisight.device.track.tracker import Tracker
from pisight.device.track.tracks import Track, TrackerOptions
from pisight.device.zones.counting import ZoneCounter
from pisight.device.zones.geometry import Zone

FRIGATE_KEYS = {
    "id", "camera", "label", "score", "top_score", "box", "current_zones", "entered_zones",
    "start_time", "end_time", "has_snapshot", "has_clip",
}  # fmt: skip


def track(
    track_id: int = 1, score: float = 0.8, top: float | None = None, hits: int = 5,
    misses: int = 0, label: str = "person", x: float = 10.0, t: float = 100.0,
) -> Track:  # fmt: skip
    return Track(track_id, label, 0, (x, 20.0, x + 30, 80.0), score,
                 score if top is None else top, 99.0, t, hits, misses)  # fmt: skip


def test_an_event_starts_only_for_a_watched_class_with_enough_hits_and_score() -> None:
    maker = EventMaker(EventOptions(classes=("person",), min_score=0.6, min_hits=3))
    assert maker.update([track(hits=2)], [], {}, 1.0) == []
    assert maker.update([track(score=0.5)], [], {}, 1.0) == []
    assert maker.update([track(label="car")], [], {}, 1.0) == []
    assert maker.update([track(misses=1)], [], {}, 1.0) == []  # coasting: not seen now
    [message] = maker.update([track(hits=3, score=0.6)], [], {}, 1.0)
    assert message.type == "new" and message.before == message.after
    assert (message.after.label, message.after.track_id, message.after.start_time) == (
        "person", 1, 99.0,
    )  # fmt: skip
    assert maker.started == 1 and maker.active == 1


def test_a_stationary_object_sends_no_updates_then_one_end() -> None:
    maker = EventMaker(EventOptions(score_step=0.05))
    rng = np.random.default_rng(0)
    messages = maker.update([track()], [], {}, 0.0)
    for frame in range(300):  # ten seconds of a parked car: boxes and scores wobble
        wobble = track(score=0.8 + float(rng.uniform(-0.03, 0.03)), top=0.82,
                       x=10 + float(rng.uniform(-2, 2)), t=100.0 + frame / 30)  # fmt: skip
        messages += maker.update([wobble], [], {}, 100.0 + frame / 30)
    messages += maker.update([], [track(t=110.0)], {}, 110.5)
    assert [m.type for m in messages] == ["new", "end"]
    end = messages[-1]
    assert end.after.end_time == 110.0 and end.before.end_time is None
    assert end.before.id == end.after.id == messages[0].id and maker.active == 0


def test_zones_label_and_a_better_score_are_news() -> None:
    maker = EventMaker(EventOptions(score_step=0.05))
    [new] = maker.update([track(score=0.7)], [], {}, 0.0)
    [inside] = maker.update([track(score=0.7)], [], {1: ("door",)}, 1.0)
    assert inside.type == "update" and inside.before == new.after
    assert (inside.after.current_zones, inside.after.entered_zones) == (("door",), ("door",))
    assert maker.update([track(score=0.74)], [], {1: ("door",)}, 2.0) == []  # < one step
    [better] = maker.update([track(score=0.76)], [], {1: ("door",)}, 3.0)
    assert better.after.top_score == 0.76 and better.before.top_score == 0.7
    [left] = maker.update([track(score=0.76)], [], {1: ("yard",)}, 4.0)
    assert left.after.current_zones == ("yard",) and left.after.entered_zones == ("door", "yard")
    [flipped] = maker.update([track(score=0.76, label="dog")], [], {1: ("yard",)}, 5.0)
    assert flipped.after.label == "dog"


def test_close_ends_every_open_event_at_its_last_sighting() -> None:
    maker = EventMaker()
    maker.update([track(1), track(2, x=200)], [], {}, 0.0)
    maker.update([track(1, t=105.0), track(2, x=200, t=104.0, misses=3)], [], {}, 105.0)
    ends = maker.close()
    assert sorted((m.after.track_id, m.after.end_time) for m in ends) == [(1, 105.0), (2, 104.0)]
    assert maker.close() == [] and maker.active == 0


def test_the_json_carries_frigates_fields_and_ids_are_unique() -> None:
    maker = EventMaker(EventOptions(camera="porch"))
    [a, b] = maker.update([track(1), track(2, x=300)], [], {}, 0.0)
    document = json.loads(a.payload())
    assert document["type"] == "new"
    assert set(document["after"]) >= FRIGATE_KEYS and document["after"] == document["before"]
    assert document["after"]["camera"] == "porch" and document["after"]["box"] == [10, 20, 40, 80]
    assert a.id != b.id and a.id.startswith("99.000000-")


def test_a_real_tracker_and_zone_counter_make_one_event_per_object() -> None:
    """Two objects walk right through a zone on the left; one flickers for a frame."""
    tracker = Tracker(TrackerOptions(min_hits=2, max_misses=5))
    zone = Zone("left", ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)), anchor="center")
    counter = ZoneCounter([zone])
    maker = EventMaker(EventOptions(min_hits=3))
    messages = []
    for frame in range(60):
        boxes = [[10 + 8 * frame, 100, 50 + 8 * frame, 140], [10 + 8 * frame, 300, 50 + 8 * frame,
                                                              340]]  # fmt: skip
        if frame == 30:
            boxes.append([600, 10, 620, 30])  # a one-frame false detection
        boxes = [b for b in boxes if b[2] < 640]
        found = Detections(np.array(boxes, np.float32).reshape(-1, 4),
                           np.full(len(boxes), 0.9, np.float32), np.zeros(len(boxes), np.int32),
                           ("person",) * len(boxes))  # fmt: skip
        tracker.update(found, t=float(frame), frame_size=(640, 480))
        counter.update(tracker.tracks, tracker.ended, 640, 480)
        messages += maker.update(tracker.tracks, tracker.ended, counter.zones_of(), float(frame))
    messages += maker.close()
    by_id: dict[str, list[str]] = {}
    for message in messages:
        by_id.setdefault(message.id, []).append(message.type)
    assert sorted(by_id.values()) == [["new", "update", "end"]] * 2  # update: left the zone
    for message in messages:
        if message.type == "update":
            assert message.before.current_zones == ("left",) and message.after.current_zones == ()
