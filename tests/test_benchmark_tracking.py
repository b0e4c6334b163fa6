"""scripts/benchmark_tracking.py on a tiny in-memory sequence: its scoring, its adapters,
its counting and cost figures.

TrackEval and the other trackers are bench packages (scripts/benchmark-tracking.sh
installs them): the tests that need one skip without it; our own tracker's path, the
ignore rule and the counting always run.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from pisight.device.model.detections import Detections
from pisight.device.track.tracks import TrackerOptions
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
import benchmark_tracking as bench  # a script: importable once scripts/ is on the path

FRAMES = 40
LABELS = ("circle", "square", "triangle")


def _box(cx: float, cy: float, size: float = 40) -> list[float]:
    return [cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2]


def tiny_clip() -> bench.Clip:
    """Object 1 crosses the middle line left to right through the left-bottom zone, 2 stands
    in the top right, 3 goes down the right side; all fully visible."""
    truth = []
    for f in range(FRAMES):
        boxes = bench._boxes([_box(100 + 11 * f, 360), _box(500, 100), _box(560, 80 + 8 * f)])
        ids = np.array([1, 2, 3], np.int64)
        truth.append(bench.FrameTruth(ids, LABELS, boxes, ids, LABELS, boxes))
    return bench.Clip("tiny", 640, 480, truth)


def ideal_outputs(clip: bench.Clip) -> list[bench.FrameOutput]:
    return [bench.FrameOutput(f.ids.copy(), f.boxes.copy()) for f in clip.truth]


def _ids_per_object(clip: bench.Clip, outputs: list[bench.FrameOutput]) -> dict[int, set[int]]:
    """Which output ids sat on each true object (outputs are the truth's own boxes here)."""
    seen: dict[int, set[int]] = {}
    for frame, out in zip(clip.truth, outputs, strict=True):
        for truth_id, truth_box in zip(frame.ids, frame.boxes, strict=True):
            for out_id, out_box in zip(out.ids, out.boxes, strict=True):
                if np.allclose(truth_box, out_box):
                    seen.setdefault(int(truth_id), set()).add(int(out_id))
    return seen


def test_our_tracker_follows_every_object_with_one_id() -> None:
    clip = tiny_clip()
    run = bench.run_candidate(bench.Ours(), bench.truth_detections(clip, LABELS))
    assert len(run.outputs) == FRAMES and len(run.update_s) == FRAMES
    assert len(run.outputs[0].ids) == 0  # tentative until min_hits detections
    assert len(run.outputs[-1].ids) == 3
    seen = _ids_per_object(clip, run.outputs)
    assert {k: len(v) for k, v in seen.items()} == {1: 1, 2: 1, 3: 1}
    assert len(set().union(*seen.values())) == 3


def test_outputs_on_hidden_objects_are_ignored_not_wrong() -> None:
    frame = bench.FrameTruth(
        np.array([1]), ("circle",), bench._boxes([_box(100, 100)]),
        np.array([1, 2]), ("circle", "square"), bench._boxes([_box(100, 100), _box(300, 300, 80)]),
    )  # fmt: skip
    output = bench.FrameOutput(
        np.array([7, 8, 9]), bench._boxes([_box(102, 100), _box(310, 300), _box(500, 400)])
    )
    kept = bench.drop_ignored(frame, output)
    # 7 is on the visible object, 8 inside the hidden one's box (dropped), 9 a false positive
    assert kept.ids.tolist() == [7, 9]


def test_counts_from_ideal_tracks_and_from_our_tracker() -> None:
    clip = tiny_clip()
    truth = bench.count_figures(bench.ideal_counts(clip, LABELS))
    assert truth == (1, 0, 1)  # object 1: line in once, entered the zone once
    tracked = bench.tracked_counts(clip, bench.truth_detections(clip, LABELS), TrackerOptions())
    assert bench.count_figures(tracked) == truth


def test_ideal_tracks_end_and_come_back() -> None:
    """An object that leaves and comes back is a new track: its second crossing counts."""
    clip = tiny_clip()
    gone = [
        bench.FrameTruth(f.ids[1:], f.labels[1:], f.boxes[1:], f.ids[1:], f.labels[1:], f.boxes[1:])
        for f in clip.truth[:5]
    ]
    again = bench.Clip("again", 640, 480, clip.truth + gone + clip.truth)
    assert bench.count_figures(bench.ideal_counts(again, LABELS)) == (2, 0, 2)
    # Without the gap it is one track: once per direction, however often it crosses.
    twice = bench.Clip("twice", 640, 480, clip.truth + clip.truth)
    assert bench.count_figures(bench.ideal_counts(twice, LABELS))[0] == 1


def test_counting_cost_runs_twenty_tracks() -> None:
    cost = bench.counting_cost(frames=60)
    assert cost["frames"] == 60 and cost["tracks"] == 20
    assert 0 < cost["median_ms"] <= cost["p90_ms"]


def test_scoring_rewards_the_truth_and_punishes_a_switch() -> None:
    pytest.importorskip("trackeval")
    clip = tiny_clip()
    scorer = bench.Scorer()
    perfect = scorer.score(
        scorer.evaluate(bench.trackeval_data(clip.truth, ideal_outputs(clip))), []
    )
    assert perfect.hota > 0.99 and perfect.idf1 == pytest.approx(1.0)
    assert perfect.mota == pytest.approx(1.0) and perfect.idsw == 0
    swapped = ideal_outputs(clip)
    for out in swapped[FRAMES // 2 :]:
        out.ids[:2] = out.ids[1::-1]  # objects 1 and 2 trade ids halfway
    worse = scorer.score(scorer.evaluate(bench.trackeval_data(clip.truth, swapped)), [])
    assert worse.idsw == 2 and worse.idf1 < 0.8 and worse.hota < perfect.hota
    empty = [bench.FrameOutput(np.zeros(0, np.int64), np.zeros((0, 4))) for _ in clip.truth]
    nothing = scorer.score(scorer.evaluate(bench.trackeval_data(clip.truth, empty)), [])
    assert nothing.hota == 0 and nothing.mota == 0


def test_compare_scores_ours_near_perfect_on_truth_boxes() -> None:
    pytest.importorskip("trackeval")
    clip = tiny_clip()
    ours = [bench.Contender("ours", bench.Ours)]
    table = bench.compare(bench.Scorer(), [clip], [bench.truth_detections(clip, LABELS)], ours)
    score = table.overall["ours"]
    assert score.hota > 0.9 and score.idsw == 0 and score.ms_per_frame > 0
    assert "| ours |" in "\n".join(bench.table_section("GT", table))


@pytest.mark.parametrize(
    ("module", "make"),
    [
        ("norfair", lambda: bench.Norfair("iou")),
        ("norfair", lambda: bench.Norfair("frigate")),
        ("trackers", lambda: bench.RoboflowTracker("sort")),
        ("trackers", lambda: bench.RoboflowTracker("bytetrack")),
        ("trackers", lambda: bench.RoboflowTracker("ocsort")),
    ],
)
def test_library_adapters_confirm_and_keep_ids(module: str, make) -> None:
    pytest.importorskip(module)
    clip = tiny_clip()
    run = bench.run_candidate(make(), bench.truth_detections(clip, LABELS))
    assert len(run.outputs[-1].ids) == 3  # all three confirmed by the end
    seen = _ids_per_object(clip, run.outputs)
    assert {k: len(v) for k, v in seen.items()} == {1: 1, 2: 1, 3: 1}


def test_empty_frames_pass_through_every_adapter() -> None:
    makers = [bench.Ours]
    for module, make in (("norfair", lambda: bench.Norfair("iou")),
                         ("trackers", lambda: bench.RoboflowTracker("bytetrack"))):  # fmt: skip
        try:
            __import__(module)
        except ImportError:
            continue
        makers.append(make)
    for make in makers:
        run = bench.run_candidate(make(), [Detections.empty()] * 3)
        assert all(len(out.ids) == 0 for out in run.outputs)


def test_count_errors_are_read_from_the_totals_and_per_sequence() -> None:
    # One sequence counts a crossing too many, the other one too few: the totals agree
    # with the truth, the per-sequence reading does not hide it.
    exact, plus, minus = (2, 1, 3), (3, 1, 3), (1, 1, 3)
    rows = [("a", (2, 1, 3), [exact, exact, plus]), ("b", (2, 1, 3), [exact, exact, minus])]
    summary = bench.counting_section(rows)[-1]
    assert summary.startswith("Count errors, of 12 true events: of the totals GT boxes")
    totals, per_sequence = summary.split("; per sequence")
    assert "detector, our Tracker 0 (0.0 %)" in totals
    assert "detector, our Tracker 2 (16.7 %)" in per_sequence
    assert "GT boxes, true ids 0 (0.0 %)" in per_sequence
