"""Several interpreters on alternate frames: every frame, in order, and switching costs none."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.sources.testpattern import write_video
from tests.device.pipeline.inference_rig import run_pipeline


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
