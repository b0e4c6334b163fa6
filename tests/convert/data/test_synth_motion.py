"""Tracking scenarios: stable ids, and each scenario really is hard in the way it claims."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from pisight.convert.data.synth_motion import SCENARIOS, Route, scenario_movers
from pisight.convert.data.synth_scene import Canvas
from pisight.convert.data.synth_truth import TruthFrame, read_truth
from pisight.convert.data.synth_video import VIDEO_MIN_VISIBLE, generate_video

SIZE, FRAMES = (160, 120), 40


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[TruthFrame]]:
    root = tmp_path_factory.mktemp("scenarios")
    made = {n: generate_video(root / f"{n}.avi", FRAMES, 0, SIZE, scenario=n) for n in SCENARIOS}
    return {name: read_truth(path.with_suffix(".json")) for name, path in made.items()}


def _ids(truth: list[TruthFrame]) -> set[int]:
    return {o.object_id for frame in truth for o in frame.objects}


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crossed(truth: list[TruthFrame]) -> bool:
    """Two objects' boxes overlap at some frame, and are apart at a frame before and after."""
    for a, b in itertools.combinations(sorted(_ids(truth)), 2):
        state = []  # per frame: None unless both are in the frame, else do they overlap
        for frame in truth:
            where = {o.object_id: o.box for o in frame.objects}
            state.append(_overlap(where[a], where[b]) if a in where and b in where else None)
        hits = [i for i, overlaps in enumerate(state) if overlaps]
        if hits and False in state[: hits[0]] and False in state[hits[-1] :]:
            return True
    return False


def _hidden_and_back(truth: list[TruthFrame]) -> bool:
    """An object in the frame loses its box for 2+ frames in a row, then has one again."""
    for number in _ids(truth):
        boxed = [any(b.object_id == number for b in frame.boxes) for frame in truth]
        inside = [any(o.object_id == number for o in frame.objects) for frame in truth]
        run = 0
        for index, (box, there) in enumerate(zip(boxed, inside, strict=True)):
            if box and run >= 2:
                return True
            run = run + 1 if (not box and there and any(boxed[:index])) else 0
    return False


def _left_and_back(truth: list[TruthFrame]) -> bool:
    """An object out of the picture for some frames between two stretches in it."""
    for number in _ids(truth):
        inside = "".join(
            "1" if any(o.object_id == number for o in f.objects) else "0" for f in truth
        )
        if "0" in inside.strip("0"):
            return True
    return False


def _stopped_and_went(truth: list[TruthFrame]) -> bool:
    """An object's centre the same for 5+ frames in a row, then somewhere else."""
    for number in _ids(truth):
        centers = [
            next((o.center for o in f.objects if o.object_id == number), None) for f in truth
        ]
        run = 1
        for before, now in itertools.pairwise(centers):
            if now is not None and now == before:
                run += 1
            elif now is not None and before is not None and run >= 5:
                return True
            else:
                run = 1
    return False


CLAIMS = {
    "crossing": _crossed,
    "occlusion": _hidden_and_back,
    "reentry": _left_and_back,
    "stopgo": _stopped_and_went,
}


@pytest.mark.parametrize("scenario", list(CLAIMS))
def test_each_scenario_is_hard_as_claimed(
    videos: dict[str, list[TruthFrame]], scenario: str
) -> None:
    assert CLAIMS[scenario](videos[scenario])


def test_mixed_is_hard_every_way_and_bounce_in_none(videos: dict[str, list[TruthFrame]]) -> None:
    assert all(claim(videos["mixed"]) for claim in CLAIMS.values())
    assert 6 <= len(_ids(videos["mixed"])) <= 8
    # The demo's video: nothing leaves the picture or stands still.
    assert not _left_and_back(videos["bounce"]) and not _stopped_and_went(videos["bounce"])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ids_are_stable_and_one_based(videos: dict[str, list[TruthFrame]], scenario: str) -> None:
    truth = videos[scenario]
    assert [frame.frame for frame in truth] == list(range(FRAMES))
    ids = _ids(truth)
    assert ids == set(range(1, max(ids) + 1))
    labels = {(o.object_id, o.label) for frame in truth for o in frame.objects}
    assert len(labels) == len(ids)  # one label per id: an id is always the same object
    for frame in truth:
        objects = {o.object_id: o for o in frame.objects}
        assert len(objects) == len(frame.objects)
        for box in frame.boxes:
            true = objects[box.object_id]  # every box belongs to an object of its frame
            assert box.label == true.label and true.visible >= VIDEO_MIN_VISIBLE
            x1, y1, x2, y2 = box.box
            tx1, ty1, tx2, ty2 = true.box
            assert 0 <= tx1 <= x1 < x2 <= tx2 <= SIZE[0] and 0 <= ty1 <= y1 < y2 <= ty2 <= SIZE[1]
        boxed = {box.object_id for box in frame.boxes}
        assert boxed == {o.object_id for o in frame.objects if o.visible >= VIDEO_MIN_VISIBLE}


def test_a_scenario_is_deterministic_per_seed(tmp_path: Path) -> None:
    made = [
        generate_video(tmp_path / f"{name}.avi", 12, seed, SIZE, scenario="mixed")
        for name, seed in (("a", 4), ("b", 4), ("c", 5))
    ]
    first, again, other = ((p.read_bytes(), p.with_suffix(".json").read_bytes()) for p in made)
    assert first == again and first[1] != other[1]


def test_unknown_scenario_is_refused_before_any_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'spiral'"):
        generate_video(tmp_path / "x.avi", 3, 0, SIZE, scenario="spiral")
    assert list(tmp_path.iterdir()) == []


def test_a_route_holds_between_keys_at_one_place_and_turns_only_moving() -> None:
    canvas = Canvas(np.zeros((120, 160, 3), np.float32))
    mover = scenario_movers("stopgo", np.random.default_rng(0), (120, 160), canvas, 20)[0]
    shape, paint = mover.shape, mover.paint
    route = Route(shape, paint, ((0, 10, 10), (4, 30, 10), (9, 30, 10), (12, 30, 40)), 0.1)
    assert route.at(2, (120, 160)).center == (20.0, 10.0)
    still = [route.at(frame, (120, 160)) for frame in range(4, 10)]
    assert all(s == still[0] for s in still) and still[0].angle == pytest.approx(shape.angle + 2.0)
    assert route.at(20, (120, 160)).center == (30.0, 40.0)  # held after the last key
    with pytest.raises(ValueError, match="rising frames"):
        Route(shape, paint, ((0, 1, 1), (0, 2, 2)), 0.0)
