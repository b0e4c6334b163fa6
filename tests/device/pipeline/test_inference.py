"""Several interpreters on alternate frames: every frame, in order, and switching costs none."""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import pytest

from pisight.device.pipeline.cores import IO_THREADS, CorePlan
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.sources.testpattern import write_video
from tests.device.pipeline.inference_rig import run_pipeline
from tests.helpers import wait_until


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.avi", frames=60)


def test_two_interpreters_deliver_every_frame_in_order(
    ssd_bundle: Path, video: Path, tmp_path: Path
) -> None:
    options = PipelineOptions(inference=InferenceSetting(threads=1, interpreters=2))
    pipeline, summary, frames = run_pipeline(ssd_bundle, video, options, tmp_path / "d.jsonl")
    assert pipeline.error is None
    assert frames == list(range(60))  # a file is lossless, and tracking needs the order
    assert summary.frames == 60
    assert pipeline.status().inference == "2x1"
    assert len(pipeline._pool.detectors) == 2


def test_switching_settings_mid_run_loses_and_reorders_no_frame(
    ssd_bundle: Path, video: Path, tmp_path: Path
) -> None:
    settings = [InferenceSetting(1, 2), InferenceSetting(2), InferenceSetting(1, 3)]

    def switch(pipeline: Pipeline, stop: threading.Event) -> None:
        for setting in settings:
            start = pipeline.stats.frames
            while pipeline.stats.frames < start + 20 and not stop.is_set():
                stop.wait(0.01)  # frames flow on the setting before
            pipeline._pool.switch(setting)
        start = pipeline.stats.frames
        while pipeline.stats.frames < start + 20 and not stop.is_set():
            stop.wait(0.01)
        stop.set()

    options = PipelineOptions(inference=InferenceSetting(1))
    pipeline, _, frames = run_pipeline(
        ssd_bundle, video, options, tmp_path / "d.jsonl", loop=True, beside=switch
    )
    assert pipeline.error is None
    assert len(frames) >= 80
    assert frames == list(range(len(frames)))  # consecutive: nothing lost, nothing swapped
    assert pipeline.status().inference == "3x1"


def test_a_detector_with_other_threads_than_the_setting_is_not_reused(ssd_bundle: Path) -> None:
    # `pisight run` loads one interpreter first; a cached setting may want other threads.
    from pisight.device.model.detector import Detector, DetectorOptions
    from pisight.device.pipeline.handoff import InOrder, LatestSlot
    from pisight.device.pipeline.inference import InferencePool

    loaded = Detector.load(DetectorOptions(ssd_bundle, threads=1))
    done = threading.Event()
    pool = InferencePool(
        lambda threads: Detector.load(DetectorOptions(ssd_bundle, threads=threads)),
        LatestSlot(), InOrder(), done, InferenceSetting(threads=2), timeout_s=5.0,
    )  # fmt: skip
    pool.start(loaded)
    try:
        assert [d.options.threads for d in pool.detectors] == [2]
    finally:
        done.set()
        pool.join(2.0)


def _affinity_by_thread_name() -> dict[str, set[int]]:
    found = {}
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(OSError):  # the thread ended meanwhile
            found[(task / "comm").read_text().strip()] = os.sched_getaffinity(int(task.name))
    return found


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two cores to give the interpreter one of its own",
)
def test_the_interpreter_keeps_its_core_when_the_io_threads_move(
    ssd_bundle: Path, video: Path, tmp_path: Path
) -> None:
    # The workers once registered as I/O threads, so placing those on the spare core took
    # the interpreter along: the whole pipeline ran on one core (0.7x the bare rate).
    inference, io = sorted(os.sched_getaffinity(0))[:2]
    seen: dict[str, set[int]] = {}

    def look(pipeline: Pipeline, stop: threading.Event) -> None:
        while pipeline.stats.frames < 10 and not stop.is_set():
            stop.wait(0.01)
        seen.update(_affinity_by_thread_name())
        stop.set()

    options = PipelineOptions(
        inference=InferenceSetting(1), cores=CorePlan(frozenset({inference}), frozenset({io}))
    )
    try:
        pipeline, _, _ = run_pipeline(
            ssd_bundle, video, options, tmp_path / "d.jsonl", loop=True, beside=look
        )
    finally:
        IO_THREADS.move(frozenset(os.sched_getaffinity(0)))  # the registry is the process's
    assert pipeline.error is None
    assert seen["inference"] == {inference}
    assert seen["decode"] == seen["prepare"] == {io}


@pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 3,
    reason="needs three cores for a two-thread interpreter beside a spare one",
)
def test_an_interpreters_own_threads_stay_off_the_io_core(ssd_bundle: Path) -> None:
    from pisight.device.model.detector import Detector, DetectorOptions
    from pisight.device.pipeline.handoff import InOrder, LatestSlot
    from pisight.device.pipeline.inference import InferencePool

    cores = sorted(os.sched_getaffinity(0))
    inference, io = frozenset(cores[:-1]), frozenset(cores[-1:])
    before = set(os.listdir("/proc/self/task"))
    done = threading.Event()
    pool = InferencePool(
        lambda threads: Detector.load(DetectorOptions(ssd_bundle, threads=threads)),
        LatestSlot(), InOrder(), done, InferenceSetting(threads=len(inference)), timeout_s=5.0,
        cores=CorePlan(inference, io),
    )  # fmt: skip

    def placed() -> bool:  # the worker and the interpreter's own helper threads
        new = [int(tid) for tid in os.listdir("/proc/self/task") if tid not in before]
        return len(new) > 1 and all(os.sched_getaffinity(tid) == inference for tid in new)

    pool.start()
    try:
        assert wait_until(placed, timeout=5)
    finally:
        done.set()
        pool.join(2.0)
