"""--threads auto: the candidates, the choice, tuning inside a real run, and its plan."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.pipeline.autotune import Choice, Trial, TuningOptions, candidates, choose
from pisight.device.pipeline.cores import usable_cores
from pisight.device.pipeline.inference import InferenceSetting as S
from pisight.device.pipeline.inference_plan import plan_inference
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.setting_cache import cache_key, load_setting, store_setting
from pisight.device.pipeline.stages import Pipeline
from pisight.device.sources.testpattern import write_video
from tests.device.pipeline.inference_rig import run_pipeline
from tests.helpers import pisight

QUICK = TuningOptions(warmup_s=0.05, measure_s=0.2, min_frames=3)


@pytest.mark.parametrize(
    ("cores", "expected"),
    [
        (1, [S(1)]),
        (2, [S(1), S(2), S(1, 2)]),
        (4, [S(3), S(1, 3), S(4), S(2, 2), S(1, 4)]),
    ],
)
def test_candidates_start_with_the_old_default(cores: int, expected: list[S]) -> None:
    assert list(candidates(cores)) == expected


def test_the_fastest_wins_and_a_tie_goes_to_the_shorter_invoke() -> None:
    trials = [Trial(S(1), 100.0, 9.0), Trial(S(2), 150.0, 6.0), Trial(S(1, 2), 152.0, 12.0)]
    assert choose(trials, tie=0.03) == S(2)  # 150 is within 3 % of 152, its invokes shorter
    assert choose(trials, tie=0.0) == S(1, 2)
    reason = Choice(S(2), tuple(trials)).reason()
    assert reason == "1 interpreter x 2 threads: 150.0 fps (1x1 100.0, 2x1 152.0)"


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.avi", frames=40)


def test_tuning_tries_each_candidate_on_the_run_and_keeps_the_best(
    ssd_bundle: Path, video: Path, tmp_path: Path
) -> None:
    chosen: list[Choice] = []
    settings = (S(1), S(1, 2), S(2))

    def until_chosen(pipeline: Pipeline, stop: threading.Event) -> None:
        while not chosen and not stop.is_set():
            stop.wait(0.05)
        stop.wait(0.2)  # frames keep flowing on the chosen setting
        stop.set()

    options = PipelineOptions(inference=settings[0], tuning=settings, tuning_options=QUICK,
                              on_tuned=chosen.append)  # fmt: skip
    pipeline, _, frames = run_pipeline(
        ssd_bundle, video, options, tmp_path / "d.jsonl", loop=True, beside=until_chosen
    )
    assert pipeline.error is None and len(chosen) == 1
    choice = chosen[0]
    assert [t.setting for t in choice.trials] == list(settings)
    assert all(t.fps > 0 and t.invoke_ms > 0 for t in choice.trials)
    assert choice.setting == choose(choice.trials, QUICK.tie)
    assert pipeline.status().inference == choice.setting.short
    assert frames == list(range(len(frames)))  # tuning lost no frame


def detector(model: Path, threads: int = 1) -> Detector:
    return Detector.load(DetectorOptions(model, threads=threads))


def test_the_plan_forces_reuses_the_cache_or_tunes(
    ssd_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    caplog.set_level(logging.INFO, "pisight.tuning")
    loaded = detector(ssd_bundle)
    forced = plan_inference(S(2, 2), loaded, None)
    assert (forced.setting, forced.tuning) == (S(2, 2), ())
    short = plan_inference(None, loaded, max_frames=50)
    assert short.tuning == () and "no tuning" in caplog.text
    tuned = plan_inference(None, loaded, max_frames=None)
    assert tuned.tuning == candidates(usable_cores())
    assert tuned.on_tuned is not None
    tuned.on_tuned(Choice(S(1, 2), (Trial(S(1), 10.0, 5.0), Trial(S(1, 2), 19.0, 9.0))))
    assert "kept in" in caplog.text
    again = plan_inference(None, loaded, max_frames=None)
    assert (again.setting, again.tuning) == (S(1, 2), ())
    assert "earlier (2 interpreters x 1 thread: 19.0 fps" in caplog.text


def test_pisight_run_takes_the_cached_setting_and_says_so(
    ssd_bundle: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    monkeypatch.setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
    key = cache_key(ssd_bundle / "model.tflite", "litert")
    store_setting(key, Choice(S(1, 2), (Trial(S(1, 2), 50.0, 4.0),)))
    assert load_setting(key) is not None
    result = pisight("run", "--model", str(ssd_bundle), "--source", str(video), "--no-serve", **env)
    assert result.returncode == 0, result.stderr
    assert "inference: 2 interpreters x 1 thread, tuned for this model and CPU earlier" in (
        result.stderr
    )
    assert result.stdout.strip().splitlines()[-1].startswith("frames=40 ")


def test_a_forced_setting_is_said_and_used(ssd_bundle: Path, video: Path) -> None:
    result = pisight("run", "--model", str(ssd_bundle), "--source", str(video), "--no-serve",
                     "--threads", "1", "--interpreters", "2")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "inference: 2 interpreters x 1 thread (forced" in result.stderr


def test_a_bad_thread_count_is_one_clear_line(ssd_bundle: Path) -> None:
    result = pisight("run", "--model", str(ssd_bundle), "--threads", "many")
    assert result.returncode != 0
    assert "'many' is not a thread count: give auto or a whole number" in result.stderr


def test_an_interpreter_that_cannot_load_ends_tuning_not_the_run(
    ssd_bundle: Path, video: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    real_load = Detector.load

    def load(options: DetectorOptions) -> Detector:
        if options.threads == 2:
            raise MemoryError("no room for another interpreter")
        return real_load(options)

    monkeypatch.setattr(Detector, "load", staticmethod(load))
    caplog.set_level(logging.WARNING, "pisight.tuning")

    def a_while(pipeline: Pipeline, stop: threading.Event) -> None:
        while "tuning stopped" not in caplog.text and not stop.is_set():
            stop.wait(0.05)
        start = pipeline.stats.frames
        while pipeline.stats.frames < start + 20 and not stop.is_set():
            stop.wait(0.05)
        stop.set()

    settings = (S(1), S(2), S(1, 2))
    options = PipelineOptions(inference=settings[0], tuning=settings, tuning_options=QUICK,
                              on_tuned=lambda choice: None)  # fmt: skip
    pipeline, _, frames = run_pipeline(
        ssd_bundle, video, options, tmp_path / "d.jsonl", loop=True, beside=a_while
    )
    assert pipeline.error is None and "tuning stopped at 1x2" in caplog.text
    assert pipeline.status().inference == "1x1" and frames == list(range(len(frames)))
