#!/usr/bin/env python3
"""Which tracker, by measurement: ours against norfair, SORT, ByteTrack and OC-SORT on the
same detections, scored with TrackEval, plus line and zone counting accuracy and cost.

    .venv/bin/python scripts/benchmark_tracking.py [--seeds 101 102 103 104 105] [--frames 300]
        [--out BENCHMARKS-tracking.md-fragment] [--tune] [--tune-seeds 1 2 3] [--work DIR]
    scripts/benchmark-tracking.sh [same arguments]     # installs the pinned bench packages first

1. Sequences: one `mixed` synthetic video per seed (convert/data/synth_video.py, 640x480 at
   30 fps: a crossing pair, an occlusion pair, a re-entry, a stop-and-go, 0-2 bouncers) with
   its clip.json ground truth. The demo INT8 detector (models/demo/bundle) runs once over
   every frame through the device's own Detector (prepare -> infer -> decode, threshold 0.5
   as `pisight run`); its detections are cached and every tracker gets the same ones.
2. Trackers, each with its documented defaults and only its own confirmed outputs counted:
   ours (pisight.device.track), norfair-enough with IoU (norfair's box demo) and with
   Frigate's configuration, and the `trackers` package's SORT, ByteTrack (supervision 0.31
   dropped sv.ByteTrack for it) and OC-SORT. A library that does not import is skipped
   with the reason in the output.
3. Scores: TrackEval's HOTA, Identity (IDF1) and CLEAR (MOTA, IDSW) metric classes on
   in-memory data, class-agnostic (the libraries' trackers ignore classes); ms per frame
   of each tracker's update alone. The same again with the ground-truth boxes as input (a
   sanity check: ours should be near perfect there).
4. Counting: one line and one zone per video; the true counts come from the ideal tracks
   (truth ids, full boxes) through ZoneCounter, against our Tracker fed the ground-truth
   boxes and fed the detector.
5. Cost: Tracker.update + ZoneCounter.update with 20 objects, 2 zones and 1 line.

Tracker parameters may be tuned only on --tune-seeds (1 2 3); --tune sweeps TrackerOptions
there and scores the best choice on the benchmark seeds as one more row. Seeds 101-105
are never tuned on. Latency figures name their CPU and are this machine's, not a Pi's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import platform
import shlex
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from pisight.convert.data.synth_truth import TruthFrame, read_truth
from pisight.convert.data.synth_video import generate_video
from pisight.device.model.cpu import this_cpu
from pisight.device.model.detections import Detections, box_iou
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.labels import load_labels
from pisight.device.model.runtime import default_threads
from pisight.device.track.tracker import Tracker
from pisight.device.track.tracks import Track, TrackerOptions
from pisight.device.zones.counting import Counts, ZoneCounter
from pisight.device.zones.geometry import Line, Zone

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "demo" / "bundle"
FPS = 30.0
SIZE = (640, 480)
EVAL_SEEDS = (101, 102, 103, 104, 105)
TUNE_SEEDS = (1, 2, 3)
MATCH_IOU = 0.5  # CLEAR and Identity's threshold; HOTA averages over 0.05-0.95 itself
# Pinned for the numbers below (scripts/benchmark-tracking.sh installs exactly these).
PINS = {
    "norfair": "norfair-enough==2.4.3",
    "trackers": "trackers==2.6.1 (--no-deps)",
    "supervision": "supervision==0.31.2",
    "trackeval": "trackeval==1.3.0 (--no-deps)",
}

# Counting: synthetic shapes are seen from straight above, so a box's centre is where the
# object is ("bottom", the default, is for a camera looking along a street). The line runs
# bottom to top, so "in" is left to right; the zone is the left-bottom quarter.
LINE = Line("middle", (0.5, 0.95), (0.5, 0.05), anchor="center")
ZONE = Zone("left-bottom", ((0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)), anchor="center")


# ---------------------------------------------------------------------------------------
# Ground truth and detections


@dataclass(frozen=True)
class FrameTruth:
    """One frame of clip.json: the boxes to find, and everything present (for ignoring and
    for the ideal tracks)."""

    ids: np.ndarray  # (n,) object ids of the visible objects (>= VIDEO_MIN_VISIBLE)
    labels: tuple[str, ...]
    boxes: np.ndarray  # (n, 4) boxes around their visible pixels
    object_ids: np.ndarray  # (m,) every object at least partly in the frame
    object_labels: tuple[str, ...]
    object_boxes: np.ndarray  # (m, 4) full unoccluded boxes, clipped to the frame

    @property
    def hidden_boxes(self) -> np.ndarray:
        """Full boxes of objects present but too hidden to be asked for."""
        return self.object_boxes[~np.isin(self.object_ids, self.ids)]


@dataclass
class Clip:
    """One benchmark sequence: its truth and the detector's output on every frame."""

    name: str
    width: int
    height: int
    truth: list[FrameTruth]
    detections: list[Detections] = field(default_factory=list)


def _boxes(rows: Sequence[Sequence[float]]) -> np.ndarray:
    return np.asarray(rows, np.float64).reshape(-1, 4)


def from_truth(frames: Sequence[TruthFrame]) -> list[FrameTruth]:
    """read_truth's frames as arrays."""
    return [
        FrameTruth(
            np.array([b.object_id for b in frame.boxes], np.int64),
            tuple(b.label for b in frame.boxes),
            _boxes([b.box for b in frame.boxes]),
            np.array([o.object_id for o in frame.objects], np.int64),
            tuple(o.label for o in frame.objects),
            _boxes([o.box for o in frame.objects]),
        )
        for frame in frames
    ]


def make_clip(directory: Path, seed: int, frames: int, scenario: str) -> tuple[Path, Clip]:
    """Writes the video and its truth under `directory` (reused when already there)."""
    video = directory / f"{scenario}-{seed}-{frames}" / "clip.avi"
    if not (video.exists() and video.with_suffix(".json").exists()):
        generate_video(video, frames=frames, seed=seed, size=SIZE, fps=FPS, scenario=scenario)
    try:
        truth = from_truth(read_truth(video.with_suffix(".json")))
    except ValueError as error:  # truth from before object ids: nothing to score against
        raise SystemExit(f"benchmark_tracking: {error}") from None
    return video, Clip(f"{scenario} seed {seed}", SIZE[0], SIZE[1], truth)


def detect_video(detector: Detector, video: Path) -> list[Detections]:
    """The detector on every frame, as the pipeline's prepare / infer / decode threads do."""
    capture = cv2.VideoCapture(str(video))
    found = []
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                break
            height, width = image.shape[:2]
            raw = detector.infer(detector.prepare(image))
            found.append(detector.decode(raw, width, height))
    finally:
        capture.release()
    return found


def _cache_key(detector_model: Path) -> str:
    model = detector_model / "model.tflite"
    stat = model.stat()
    return f"{model.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:threshold=default"


def cached_detections(
    detector: Callable[[], Detector], video: Path, model: Path
) -> list[Detections]:
    """Detections from the cache beside the video, or from the detector (then cached)."""
    cache = video.with_name("detections.json")
    key = _cache_key(model)
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            return [_from_rows(rows) for rows in stored["frames"]]
    found = detect_video(detector(), video)
    cache.write_text(json.dumps({"key": key, "frames": [_to_rows(d) for d in found]}))
    return found


def _to_rows(detections: Detections) -> list[list]:
    return [[*map(float, box), float(score), int(class_id), label]
            for box, score, class_id, label in detections]  # fmt: skip


def _from_rows(rows: list[list]) -> Detections:
    if not rows:
        return Detections.empty()
    return Detections(
        np.array([r[:4] for r in rows], np.float32),
        np.array([r[4] for r in rows], np.float32),
        np.array([r[5] for r in rows], np.int32),
        tuple(r[6] for r in rows),
    )


def truth_detections(clip: Clip, class_names: Sequence[str]) -> list[Detections]:
    """The ground-truth visible boxes as a perfect detector would give them (score 1)."""
    index = {name: i for i, name in enumerate(class_names)}
    return [
        Detections(
            frame.boxes.astype(np.float32),
            np.ones(len(frame.ids), np.float32),
            np.array([index.get(label, 0) for label in frame.labels], np.int32),
            frame.labels,
        )
        for frame in clip.truth
    ]


# ---------------------------------------------------------------------------------------
# Candidates: one adapter per library, each built fresh for every sequence


@dataclass(frozen=True)
class FrameOutput:
    """A tracker's confirmed outputs in one frame."""

    ids: np.ndarray  # (k,) int64
    boxes: np.ndarray  # (k, 4)


class Candidate:
    """prepare (not timed) -> update (timed: the library's own call) -> confirmed."""

    def prepare(self, detections: Detections, frame: int) -> Any:
        return detections

    def update(self, prepared: Any) -> Any:
        raise NotImplementedError

    def confirmed(self, result: Any) -> FrameOutput:
        raise NotImplementedError


class Ours(Candidate):
    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.tracker = Tracker(options or TrackerOptions())

    def prepare(self, detections: Detections, frame: int) -> Any:
        return detections, frame / FPS

    def update(self, prepared: Any) -> Detections:
        detections, t = prepared
        return self.tracker.update(detections, t=t, frame_size=SIZE)

    def confirmed(self, result: Detections) -> FrameOutput:
        ids = result.track_ids if result.track_ids is not None else np.full(len(result), -1)
        keep = ids >= 0  # -1: tentative, not yet an object
        return FrameOutput(ids[keep].astype(np.int64), result.xyxy[keep].astype(np.float64))


def frigate_distance(detection: Any, tracked_object: Any) -> float:
    """Frigate's norfair distance (frigate/track/norfair_tracker.py), in our words: how far
    the bottom centre moved in units of the estimate's width and height, and how much the
    width and height changed (larger over smaller, minus 1), as one Euclidean length."""
    new, old = np.asarray(detection.points, float), np.asarray(tracked_object.estimate, float)
    new_size = np.maximum(np.abs(new[1] - new[0]), 1e-6)
    old_size = np.maximum(np.abs(old[1] - old[0]), 1e-6)
    moved = np.array([new[:, 0].mean() - old[:, 0].mean(), new[:, 1].max() - old[:, 1].max()])
    change = np.maximum(new_size, old_size) / np.minimum(new_size, old_size) - 1.0
    return float(np.linalg.norm(np.concatenate([moved / old_size, change])))


class Norfair(Candidate):
    """norfair-enough. Only objects matched in this frame are output (as Frigate reads
    them): norfair also returns coasting estimates, and no other candidate outputs those."""

    def __init__(self, config: str) -> None:
        import norfair
        from norfair.filter import OptimizedKalmanFilterFactory

        logging.getLogger("norfair").setLevel(logging.ERROR)  # "use a vectorized distance"
        self._norfair = norfair
        if config == "iou":
            # norfair's box demos: IoU distance, threshold 0.7; library defaults otherwise
            # (hit_counter_max 15, initialization_delay = hit_counter_max // 2).
            self.tracker = norfair.Tracker(distance_function="iou", distance_threshold=0.7)
        else:
            # Frigate's default static-camera tracker: its distance, threshold 2.5,
            # R=3.4, min_initialized fps/2 and max_disappeared fps*5 (0.5 s and 5 s).
            self.tracker = norfair.Tracker(
                distance_function=frigate_distance,
                distance_threshold=2.5,
                initialization_delay=int(FPS / 2),
                hit_counter_max=int(FPS * 5),
                filter_factory=OptimizedKalmanFilterFactory(R=3.4),
            )
        self._frame = -1

    def prepare(self, detections: Detections, frame: int) -> Any:
        self._frame = frame
        return [
            self._norfair.Detection(
                points=np.asarray(box, np.float64).reshape(2, 2),
                scores=np.array([score, score], np.float64),
                label=label, data=frame,
            )
            for box, score, _, label in detections
        ]  # fmt: skip

    def update(self, prepared: Any) -> Any:
        return self.tracker.update(detections=prepared)

    def confirmed(self, result: Any) -> FrameOutput:
        seen = [o for o in result if o.id is not None and o.last_detection.data == self._frame]
        return FrameOutput(
            np.array([o.id for o in seen], np.int64),
            _boxes([np.asarray(o.last_detection.points).reshape(4) for o in seen]),
        )


class RoboflowTracker(Candidate):
    """The `trackers` package (SORT, ByteTrack, OC-SORT) on supervision Detections;
    class-agnostic by design. Confirmed = tracker_id >= 0."""

    def __init__(self, kind: str) -> None:
        import supervision
        import trackers

        self._sv = supervision
        make = {
            "sort": trackers.SORTTracker,
            "bytetrack": trackers.ByteTrackTracker,
            "ocsort": trackers.OCSORTTracker,
        }[kind]
        self.tracker = make()  # documented defaults, frame_rate 30 = our videos

    def prepare(self, detections: Detections, frame: int) -> Any:
        if not len(detections):
            return self._sv.Detections.empty()
        return self._sv.Detections(
            xyxy=detections.xyxy.astype(np.float32),
            confidence=detections.scores.astype(np.float32),
            class_id=detections.class_ids.astype(int),
        )

    def update(self, prepared: Any) -> Any:
        return self.tracker.update(prepared)

    def confirmed(self, result: Any) -> FrameOutput:
        if not len(result) or result.tracker_id is None:
            return FrameOutput(np.zeros(0, np.int64), np.zeros((0, 4)))
        keep = np.asarray(result.tracker_id) >= 0
        return FrameOutput(
            np.asarray(result.tracker_id)[keep].astype(np.int64),
            np.asarray(result.xyxy, np.float64)[keep].reshape(-1, 4),
        )


@dataclass(frozen=True)
class Contender:
    name: str
    make: Callable[[], Candidate]


def contenders(ours: TrackerOptions | None = None) -> tuple[list[Contender], list[str]]:
    """Every candidate that can be built here, and a line for each that cannot."""
    listed = [
        Contender("pisight Tracker (ours)", lambda: Ours(ours)),
        Contender("norfair IoU (norfair-enough)", lambda: Norfair("iou")),
        Contender("norfair Frigate config", lambda: Norfair("frigate")),
        Contender("SORT (trackers)", lambda: RoboflowTracker("sort")),
        Contender("ByteTrack (trackers)", lambda: RoboflowTracker("bytetrack")),
        Contender("OC-SORT (trackers)", lambda: RoboflowTracker("ocsort")),
    ]
    usable, skipped = [], []
    for contender in listed:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                contender.make()
        except Exception as error:  # a library missing or broken: say so, run the rest
            skipped.append(f"{contender.name}: skipped ({type(error).__name__}: {error})")
        else:
            usable.append(contender)
    return usable, skipped


@dataclass
class Run:
    outputs: list[FrameOutput]
    update_s: list[float]


def run_candidate(candidate: Candidate, detections: Sequence[Detections]) -> Run:
    outputs, update_s = [], []
    for frame, found in enumerate(detections):
        prepared = candidate.prepare(found, frame)
        start = time.perf_counter()
        result = candidate.update(prepared)
        update_s.append(time.perf_counter() - start)
        outputs.append(candidate.confirmed(result))
    return Run(outputs, update_s)


# ---------------------------------------------------------------------------------------
# Scoring with TrackEval


def drop_ignored(frame: FrameTruth, output: FrameOutput) -> FrameOutput:
    """Removes outputs on objects too hidden to be in the truth, as MOTChallenge's
    preprocessing removes those on distractors: an output that matches no visible box
    (IoU >= 0.5, Hungarian) and lies mostly (>= 50 % of its area) inside a hidden object's
    full box found a real object; it is neither right nor wrong."""
    hidden = frame.hidden_boxes
    if not len(output.ids) or not len(hidden):
        return output
    matched = np.zeros(len(output.ids), bool)
    if len(frame.ids):
        overlap = box_iou(frame.boxes, output.boxes)
        rows, columns = linear_sum_assignment(overlap, maximize=True)
        matched[columns[overlap[rows, columns] >= MATCH_IOU]] = True
    x1 = np.maximum(output.boxes[:, None, 0], hidden[None, :, 0])
    y1 = np.maximum(output.boxes[:, None, 1], hidden[None, :, 1])
    x2 = np.minimum(output.boxes[:, None, 2], hidden[None, :, 2])
    y2 = np.minimum(output.boxes[:, None, 3], hidden[None, :, 3])
    inside = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = np.maximum(np.prod(output.boxes[:, 2:] - output.boxes[:, :2], axis=1), 1e-9)
    ignored = ~matched & ((inside / area[:, None]).max(axis=1) >= 0.5)
    return FrameOutput(output.ids[~ignored], output.boxes[~ignored])


def trackeval_data(truth: Sequence[FrameTruth], outputs: Sequence[FrameOutput]) -> dict:
    """The `data` dict TrackEval's metrics read (what get_preprocessed_seq_data returns):
    ids relabelled 0..n-1 per sequence, similarity = IoU (gt x tracker) per timestep."""
    kept = [drop_ignored(frame, out) for frame, out in zip(truth, outputs, strict=True)]
    gt_map = {v: i for i, v in enumerate(sorted({int(i) for f in truth for i in f.ids}))}
    tr_map = {v: i for i, v in enumerate(sorted({int(i) for o in kept for i in o.ids}))}
    return {
        "num_timesteps": len(truth),
        "num_gt_ids": len(gt_map),
        "num_tracker_ids": len(tr_map),
        "num_gt_dets": sum(len(f.ids) for f in truth),
        "num_tracker_dets": sum(len(o.ids) for o in kept),
        "gt_ids": [np.array([gt_map[int(i)] for i in f.ids], int) for f in truth],
        "tracker_ids": [np.array([tr_map[int(i)] for i in o.ids], int) for o in kept],
        "similarity_scores": [box_iou(f.boxes, o.boxes) for f, o in zip(truth, kept, strict=True)],
    }


@dataclass(frozen=True)
class Score:
    hota: float
    det_a: float
    ass_a: float
    idf1: float
    mota: float
    idsw: int
    ms_per_frame: float


class Scorer:
    """TrackEval's metric classes, used directly; one result dict per sequence."""

    def __init__(self) -> None:
        from trackeval.metrics import CLEAR, HOTA, Identity

        quiet = {"THRESHOLD": MATCH_IOU, "PRINT_CONFIG": False}
        self.metrics = (HOTA(), CLEAR(dict(quiet)), Identity(dict(quiet)))

    def evaluate(self, data: dict) -> dict[str, dict]:
        return {m.get_name(): m.eval_sequence(data) for m in self.metrics}

    def combine(self, results: Sequence[dict[str, dict]]) -> dict[str, dict]:
        combined = {}
        for metric in self.metrics:
            name = metric.get_name()
            combined[name] = metric.combine_sequences(
                {str(i): r[name] for i, r in enumerate(results)}
            )
        return combined

    @staticmethod
    def score(result: dict[str, dict], update_s: Sequence[float]) -> Score:
        hota, clear, identity = result["HOTA"], result["CLEAR"], result["Identity"]
        return Score(
            float(np.mean(hota["HOTA"])), float(np.mean(hota["DetA"])),
            float(np.mean(hota["AssA"])), float(identity["IDF1"]), float(clear["MOTA"]),
            int(clear["IDSW"]), 1000.0 * float(np.mean(update_s)) if update_s else 0.0,
        )  # fmt: skip


@dataclass
class Table:
    """Scores of every contender on every clip, and over all clips."""

    per_clip: dict[str, dict[str, Score]] = field(default_factory=dict)  # clip -> name -> score
    overall: dict[str, Score] = field(default_factory=dict)


def compare(
    scorer: Scorer, clips: Sequence[Clip], inputs: Sequence[Sequence[Detections]],
    listed: Sequence[Contender],
) -> Table:  # fmt: skip
    table = Table()
    for contender in listed:
        results, times = [], []
        for clip, detections in zip(clips, inputs, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the libraries' deprecation chatter
                run = run_candidate(contender.make(), detections)
            result = scorer.evaluate(trackeval_data(clip.truth, run.outputs))
            results.append(result)
            times += run.update_s
            table.per_clip.setdefault(clip.name, {})[contender.name] = scorer.score(
                result, run.update_s
            )
        table.overall[contender.name] = scorer.score(scorer.combine(results), times)
    return table


# ---------------------------------------------------------------------------------------
# Counting


def ideal_counts(clip: Clip, class_names: Sequence[str]) -> Counts:
    """The true counts: every object a Track seen in every frame it is in (full box), ended
    the frame it leaves."""
    index = {name: i for i, name in enumerate(class_names)}
    counter = ZoneCounter([ZONE], [LINE])
    alive: dict[int, Track] = {}
    first: dict[int, float] = {}
    for frame_index, frame in enumerate(clip.truth):
        t = frame_index / FPS
        tracks = {}
        for obj, label, box in zip(frame.object_ids, frame.object_labels, frame.object_boxes,
                                   strict=True):  # fmt: skip
            key = int(obj)
            first.setdefault(key, t)
            x1, y1, x2, y2 = (float(v) for v in box)
            tracks[key] = Track(key, label, index.get(label, 0), (x1, y1, x2, y2), 1.0, 1.0,
                                first[key], t, frame_index + 1, 0)  # fmt: skip
        ended = [track for key, track in alive.items() if key not in tracks]
        for track in ended:
            first.pop(track.track_id, None)  # back later: a new track with the same id
        counter.update(list(tracks.values()), ended, clip.width, clip.height)
        alive = tracks
    return counter.counts()


def id_counts(clip: Clip, class_names: Sequence[str]) -> Counts:
    """Counting alone: the visible ground-truth boxes with their true ids as tracks (an
    object hidden but present coasts, one that leaves the frame ends), as a perfect
    tracker would give them."""
    index = {name: i for i, name in enumerate(class_names)}
    counter = ZoneCounter([ZONE], [LINE])
    last: dict[int, Track] = {}
    for frame_index, frame in enumerate(clip.truth):
        t, present = frame_index / FPS, set(frame.object_ids.tolist())
        tracks = {}
        for obj, label, box in zip(frame.ids.tolist(), frame.labels, frame.boxes, strict=True):
            x1, y1, x2, y2 = (float(v) for v in box)
            tracks[obj] = Track(obj, label, index.get(label, 0), (x1, y1, x2, y2), 1.0, 1.0,
                                t, t, frame_index + 1, 0)  # fmt: skip
        for obj, track in last.items():
            if obj in present and obj not in tracks:  # hidden: coasting
                tracks[obj] = replace(track, misses=track.misses + 1)
        ended = [track for obj, track in last.items() if obj not in present]
        counter.update(list(tracks.values()), ended, clip.width, clip.height)
        last = tracks
    return counter.counts()


def tracked_counts(
    clip: Clip, detections: Sequence[Detections], options: TrackerOptions | None = None
) -> Counts:
    tracker, counter = Tracker(options), ZoneCounter([ZONE], [LINE])
    for frame_index, found in enumerate(detections):
        tracker.update(found, t=frame_index / FPS, frame_size=(clip.width, clip.height))
        counter.update(tracker.tracks, tracker.ended, clip.width, clip.height)
    return counter.counts()


def count_figures(counts: Counts) -> tuple[int, int, int]:
    """(line in, line out, zone entries), all classes together."""
    line, zone = counts.lines[0], counts.zones[0]
    return sum(line.crossed_in.values()), sum(line.crossed_out.values()), sum(zone.entries.values())


# ---------------------------------------------------------------------------------------
# Cost


def counting_cost(frames: int = 1200, objects: int = 20, seed: int = 0) -> dict[str, float]:
    """ms per frame of Tracker.update + ZoneCounter.update: `objects` boxes moving smoothly
    (bouncing, 1 px of jitter) in 640x480, 2 zones and 1 line; median after 20 warm-up
    frames."""
    rng = np.random.default_rng(seed)
    width, height = SIZE
    sizes = rng.uniform(25, 60, objects)
    centers = np.column_stack(
        [rng.uniform(60, width - 60, objects), rng.uniform(60, height - 60, objects)]
    )
    velocity = rng.uniform(-4, 4, (objects, 2))
    labels = tuple(("circle", "square", "triangle")[i % 3] for i in range(objects))
    class_ids = np.array([i % 3 for i in range(objects)], np.int32)
    zones = [
        ZONE,
        Zone("top-right", ((0.5, 0.0), (1.0, 0.0), (1.0, 0.5), (0.5, 0.5)), anchor="center"),
    ]
    tracker, counter = Tracker(TrackerOptions()), ZoneCounter(zones, [LINE])
    spent = []
    for frame in range(frames + 20):
        centers += velocity
        for axis, limit in ((0, width), (1, height)):
            out = (centers[:, axis] < 30) | (centers[:, axis] > limit - 30)
            velocity[out, axis] *= -1
        jitter = rng.normal(0, 1, (objects, 4))
        half = sizes[:, None] / 2
        boxes = np.hstack([centers - half, centers + half]) + jitter
        found = Detections(
            boxes.astype(np.float32), np.full(objects, 0.9, np.float32), class_ids, labels
        )
        start = time.perf_counter()
        tracker.update(found, t=frame / FPS, frame_size=SIZE)
        counter.update(tracker.tracks, tracker.ended, width, height)
        if frame >= 20:
            spent.append(time.perf_counter() - start)
    return {
        "median_ms": 1000 * statistics.median(spent),
        "p90_ms": 1000 * float(np.percentile(spent, 90)),
        "frames": len(spent),
        "tracks": len(tracker.tracks),
    }


# ---------------------------------------------------------------------------------------
# Tuning (tune seeds only)


TUNE_GRID = {
    "min_hits": (1, 2, 3),
    "max_misses": (30, 60, 90, 150),
    "match_iou": (0.1, 0.2, 0.3),
    "max_jump": (1.0, 1.5, 2.5, 4.0),
}


def count_errors(clips: Sequence[Clip], class_names: Sequence[str], options: TrackerOptions) -> int:
    """Absolute line and zone count errors of our Tracker on the detector, all clips."""
    return sum(
        sum(abs(a - b) for a, b in zip(
            count_figures(tracked_counts(clip, clip.detections, options)),
            count_figures(ideal_counts(clip, class_names)), strict=True))
        for clip in clips
    )  # fmt: skip


def tune(scorer: Scorer, clips: Sequence[Clip]) -> list[tuple[TrackerOptions, Score]]:
    """Every TUNE_GRID combination of TrackerOptions on the tune clips, best HOTA first."""
    tried = []
    for values in itertools.product(*TUNE_GRID.values()):
        options = TrackerOptions(**dict(zip(TUNE_GRID, values, strict=True)))
        results, times = [], []
        for clip in clips:
            run = run_candidate(Ours(options), clip.detections)
            results.append(scorer.evaluate(trackeval_data(clip.truth, run.outputs)))
            times += run.update_s
        tried.append((options, scorer.score(scorer.combine(results), times)))
    return sorted(tried, key=lambda pair: -pair[1].hota)


# ---------------------------------------------------------------------------------------
# The report


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def score_table(scores: dict[str, Score]) -> list[str]:
    lines = ["| tracker | HOTA | IDF1 | MOTA | ID switches | ms/frame | DetA | AssA |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, s in scores.items():
        lines.append(f"| {name} | {_pct(s.hota)} | {_pct(s.idf1)} | {_pct(s.mota)} | {s.idsw} "
                     f"| {s.ms_per_frame:.3f} | {_pct(s.det_a)} | {_pct(s.ass_a)} |")  # fmt: skip
    return lines


def per_sequence_table(table: Table) -> list[str]:
    """HOTA / IDF1 / ID switches of every tracker on every sequence, one row a tracker."""
    clips = list(table.per_clip)
    lines = [f"| tracker | {' | '.join(clips)} |", "|---|" + "---:|" * len(clips)]
    for name in table.overall:
        cells = []
        for clip in clips:
            s = table.per_clip[clip][name]
            cells.append(f"{_pct(s.hota)} / {_pct(s.idf1)} / {s.idsw}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def table_section(title: str, table: Table) -> list[str]:
    lines = [f"### {title}: all sequences", "", *score_table(table.overall), ""]
    heading = f"{title}, per sequence: HOTA / IDF1 / ID switches"
    lines += [heading, "", *per_sequence_table(table), ""]
    for clip, scores in table.per_clip.items():
        lines += [f"#### {title}: {clip}", "", *score_table(scores), ""]
    return lines


def _error(value: int, truth: int) -> str:
    diff = value - truth
    percent = f"{100 * diff / truth:+.0f} %" if truth else ("0 %" if diff == 0 else "n/a")
    return f"{value} ({diff:+d}, {percent})"


COUNT_INPUTS = ("GT boxes, true ids", "GT boxes, our Tracker", "detector, our Tracker")


def counting_section(rows: Sequence[tuple[str, tuple, list[tuple]]]) -> list[str]:
    """rows: (sequence, true (in, out, entries), one (in, out, entries) per COUNT_INPUTS)."""
    lines = [
        f"| sequence | true line in / out / zone entries | {' | '.join(COUNT_INPUTS)} |",
        "|---|---|" + "---|" * len(COUNT_INPUTS),
    ]
    truth_total = np.zeros(3, int)
    totals = np.zeros((len(COUNT_INPUTS), 3), int)
    per_sequence = np.zeros(len(COUNT_INPUTS), int)
    for name, truth, counted in [*rows, ("**all**", None, None)]:
        if truth is None:  # the totals row
            truth, counted = tuple(truth_total), [tuple(row) for row in totals]
        else:
            truth_total += truth
            totals += np.array(counted)
            per_sequence += np.abs(np.array(counted) - np.array(truth)).sum(axis=1)
        cells = [" / ".join(_error(v, t) for v, t in zip(c, truth, strict=True)) for c in counted]
        lines.append(f"| {name} | {' / '.join(map(str, truth))} | {' | '.join(cells)} |")
    events = max(int(truth_total.sum()), 1)
    # Two readings: the totals (line in, line out, entries over every sequence) against
    # the true totals, where a count too many in one sequence and one too few in another
    # cancel; and every sequence's every count against its truth, where nothing cancels.
    errors = [int(np.abs(row - truth_total).sum()) for row in totals]
    lines += [
        "",
        f"Count errors, of {events} true events: of the totals {_errors(errors, events)}; "
        f"per sequence (absolute, summed) {_errors(per_sequence.tolist(), events)}.",
    ]
    return lines


def _errors(errors: Sequence[int], events: int) -> str:
    return ", ".join(
        f"{name} {error} ({100 * error / events:.1f} %)"
        for name, error in zip(COUNT_INPUTS, errors, strict=True)
    )


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in (
        "norfair-enough",
        "trackers",
        "supervision",
        "trackeval",
        "numpy",
        "ai-edge-litert",
    ):
        try:
            found.append(f"{package} {version(package)}")
        except PackageNotFoundError:
            found.append(f"{package} not installed")
    return ", ".join(found)


NOTES = [
    "- Scoring is class-agnostic (SORT, ByteTrack and OC-SORT ignore classes; ours and "
    "norfair match within a class). Outputs on objects too hidden to be in the truth "
    "(< 50 % visible) are dropped before scoring, as MOTChallenge drops those on "
    "distractors. MOTA and IDF1 match at IoU 0.5; HOTA averages over 0.05-0.95.",
    "- Every tracker gets the same cached detections (threshold 0.5, the pipeline's) and "
    "counts only its own confirmed outputs on this frame's detections (ours: track_id >= 0; "
    "trackers: tracker_id >= 0; norfair: initialized objects whose last detection is this "
    "frame's). ms/frame is the update call alone (perf_counter), mean over all frames.",
    "- norfair: the original `norfair` 2.3.0 pins numpy<2 (and rich<15) and cannot be "
    "installed beside TensorFlow 2.21's numpy 2; the maintained fork `norfair-enough` "
    "(imports as `norfair`) is used. Frigate config: its distance function, threshold 2.5, "
    "Kalman R=3.4, initialization_delay = fps/2 and hit_counter_max = fps*5 at 30 fps.",
    "- supervision 0.31.2 has no `sv.ByteTrack`: ByteTrack moved to the `trackers` package "
    "(`trackers.ByteTrackTracker`, which supervision itself now imports). `trackers` and "
    "`trackeval` declare opencv-python; both are installed with --no-deps and run on the "
    "project's opencv-python-headless (same `cv2`).",
    "- ByteTrack's defaults (track_activation_threshold 0.7, high_conf_det_threshold 0.6) "
    "expect a detector run at a low threshold; at the pipeline's 0.5, detections scored "
    "0.5-0.7 never start a track.",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(EVAL_SEEDS))
    parser.add_argument("--tune-seeds", type=int, nargs="+", default=list(TUNE_SEEDS))
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--scenario", default="mixed")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--tune", action="store_true", help="sweep TrackerOptions on --tune-seeds")
    parser.add_argument("--work", type=Path, help="keep videos and cached detections here")
    parser.add_argument("--out", type=Path, help="also write the markdown here")
    parser.add_argument("--cost-frames", type=int, default=1200)
    args = parser.parse_args(argv)
    if set(args.seeds) & set(args.tune_seeds):
        parser.error("--seeds and --tune-seeds must not share a seed: nothing is tuned on "
                     "the seeds it is scored on")  # fmt: skip

    command = shlex.join([Path(sys.executable).name, *sys.argv])
    with tempfile.TemporaryDirectory(prefix="pisight-tracking-") as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        report = measure(args, work, command)
    text = "\n".join(report) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    return 0


def load_clips(args: argparse.Namespace, work: Path, seeds: Iterable[int]) -> list[Clip]:
    detector: list[Detector] = []

    def lazily() -> Detector:  # loaded once, only when some clip is not cached
        if not detector:
            detector.append(Detector.load(DetectorOptions(model=args.model, threads=args.threads)))
        return detector[0]

    clips = []
    for seed in seeds:
        video, clip = make_clip(work, seed, args.frames, args.scenario)
        clip.detections = cached_detections(lazily, video, Path(args.model))
        if len(clip.detections) != len(clip.truth):
            raise SystemExit(
                f"{video}: {len(clip.detections)} frames read, truth has {len(clip.truth)}"
            )
        clips.append(clip)
    return clips


def measure(args: argparse.Namespace, work: Path, command: str) -> list[str]:
    started = time.monotonic()
    class_names = names = load_labels(Path(args.model) / "labels.txt").names
    clips = load_clips(args, work, args.seeds)
    scorer = Scorer()
    listed, skipped = contenders()
    tuned_rows: list[str] = []
    if args.tune:
        tune_clips = load_clips(args, work, args.tune_seeds)
        tried = tune(scorer, tune_clips)
        best = tried[0][0]
        tuned_name = f"pisight Tracker, tuned on seeds {' '.join(map(str, args.tune_seeds))}"
        listed.insert(1, Contender(tuned_name, lambda: Ours(best)))
        tuned_rows = [
            f"## Tuning ours on seeds {' '.join(map(str, args.tune_seeds))} only "
            f"({len(tried)} TrackerOptions: {', '.join(f'{k} {v}' for k, v in TUNE_GRID.items())})",
            "",
            *score_table(
                {
                    f"{_options_name(o)}; count errors {count_errors(tune_clips, names, o)}": s
                    for o, s in [*tried[:12], *_defaults(tried)]
                }
            ),
            "",
        ]
    detector_table = compare(scorer, clips, [c.detections for c in clips], listed)
    truth_table = compare(scorer, clips, [truth_detections(c, class_names) for c in clips], listed)
    counting = [
        (clip.name, count_figures(ideal_counts(clip, class_names)), [
            count_figures(id_counts(clip, class_names)),
            count_figures(tracked_counts(clip, truth_detections(clip, class_names))),
            count_figures(tracked_counts(clip, clip.detections)),
        ])
        for clip in clips
    ]  # fmt: skip
    cost = counting_cost(args.cost_frames)
    detections = sum(len(d) for c in clips for d in c.detections)
    truths = sum(len(f.ids) for c in clips for f in c.truth)
    return [
        "## Tracker benchmark (scripts/benchmark_tracking.py)",
        "",
        f"Command: `{command}`  ",
        f"CPU: {this_cpu().describe()} ({platform.python_version()})  ",
        f"Packages: {_versions()}  ",
        f"Sequences: {len(clips)} x {args.frames} frames of `{args.scenario}` "
        f"(seeds {' '.join(map(str, args.seeds))}), {SIZE[0]}x{SIZE[1]} at {FPS:g} fps; "
        f"{truths} ground-truth boxes, {detections} detections from {Path(args.model).name} "
        f"at threshold 0.5; took {time.monotonic() - started:.0f} s.",
        "",
        *([f"- {line}" for line in skipped] + [""] if skipped else []),
        *table_section("Detector input", detector_table),
        *table_section("Ground-truth boxes as input (sanity)", truth_table),
        *tuned_rows,
        "## Counting accuracy (our Tracker + ZoneCounter)",
        "",
        f"Line `{LINE.name}` x=0.5 from y 0.95 to 0.05 (in = left to right), zone "
        f"`{ZONE.name}` = the left-bottom quarter, both anchor=center (shapes seen from "
        "above: the centre is where they are). True counts: the truth's objects as ideal "
        "tracks (full boxes, every frame they are in, ended when they leave).",
        "",
        *counting_section(counting),
        "",
        "## Cost of tracking and counting",
        "",
        f"Tracker.update + ZoneCounter.update, 20 objects moving smoothly, 2 zones and 1 "
        f"line: median {cost['median_ms']:.3f} ms per frame, p90 {cost['p90_ms']:.3f} ms "
        f"over {cost['frames']} frames ({cost['tracks']} confirmed tracks at the end), "
        "on the CPU above.",
        "",
        "## Notes",
        "",
        *NOTES,
    ]


def _options_name(options: TrackerOptions) -> str:
    default = " (default)" if options == TrackerOptions() else ""
    return (f"min_hits {options.min_hits}, max_misses {options.max_misses}, match_iou "
            f"{options.match_iou:g}, max_jump {options.max_jump:g}{default}")  # fmt: skip


def _defaults(tried: list[tuple[TrackerOptions, Score]]) -> list[tuple[TrackerOptions, Score]]:
    """The default options' row, when it is not among the best already shown."""
    rows = [pair for pair in tried if pair[0] == TrackerOptions()]
    return [] if rows and rows[0] in tried[:8] else rows


if __name__ == "__main__":
    sys.exit(main())
