"""`pisight run` end to end, as a user runs it: a real process, real files, real signals."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.render.sinks import CSV_COLUMNS
from pisight.device.sources.testpattern import write_video
from tests.helpers import pisight, pisight_in_process

SUMMARY_KEYS = ("frames", "fps", "inference_ms_p50", "rss_mb_max", "dropped", "private_mb_max")


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("media") / "clip.avi", frames=30)


def summary_of(stdout: str) -> dict[str, str]:
    line = stdout.strip().splitlines()[-1]
    return dict(part.split("=", 1) for part in line.split())


def test_video_to_every_output(ssd_bundle: Path, video: Path, tmp_path: Path) -> None:
    result = pisight(
        "run", "--model", str(ssd_bundle), "--source", str(video), "--threshold", "0.3",
        "--log", str(tmp_path / "m.csv"), "--detections", str(tmp_path / "d.jsonl"),
        "--record", str(tmp_path / "r.mp4"), "--listen", "127.0.0.1:0",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = summary_of(result.stdout)
    assert tuple(summary) == SUMMARY_KEYS
    assert int(summary["frames"]) == 30  # a file source is lossless
    records = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [r["frame"] for r in records] == list(range(30))
    first = records[0]
    assert set(first) == {"t", "frame", "source", "inference_ms", "detections"}
    box = first["detections"][0]
    # track_id is there when tracking (on by default) has confirmed the object's track.
    assert {"label", "class_id", "score", "box"} <= set(box) <= {
        "label", "class_id", "score", "box", "track_id",
    }  # fmt: skip
    assert len(box["box"]) == 4
    assert all(0 <= v <= 640 for v in box["box"][::2]) and all(
        0 <= v <= 480 for v in box["box"][1::2]
    )
    rows = list(csv.DictReader((tmp_path / "m.csv").open()))
    # Tracking (on by default) appends its columns; the fixed ones come first, unchanged.
    assert tuple(rows[0])[: len(CSV_COLUMNS)] == CSV_COLUMNS
    assert rows[-1]["row"] == "summary" and rows[-1]["frames"] == "30"
    assert rows[-1]["temperature_c"] == "" or float(rows[-1]["temperature_c"]) > 0
    recording = cv2.VideoCapture(str(tmp_path / "r.mp4"))
    assert int(recording.get(cv2.CAP_PROP_FRAME_COUNT)) == 30
    assert (recording.get(cv2.CAP_PROP_FRAME_WIDTH), recording.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (
        640,
        480,
    )


def test_frames_limit_with_loop(ssd_bundle: Path, video: Path, tmp_path: Path) -> None:
    result = pisight(
        "run", "--model", str(ssd_bundle), "--source", str(video), "--loop", "--frames", "75",
        "--no-serve", "--detections", str(tmp_path / "d.jsonl"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert summary_of(result.stdout)["frames"] == "75"
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 75


def test_image_directory_source(ssd_bundle: Path, tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(4):
        cv2.imwrite(str(images / f"{i}.jpg"), np.full((240, 320, 3), 40 * i, np.uint8))
    result = pisight("run", "--model", str(ssd_bundle), "--source", str(images), "--no-serve")
    assert result.returncode == 0, result.stderr
    assert summary_of(result.stdout)["frames"] == "4"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_ends_cleanly_with_files_flushed(
    ssd_bundle: Path, video: Path, tmp_path: Path, sig: signal.Signals
) -> None:
    log = tmp_path / "d.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(ssd_bundle),
         "--source", str(video), "--loop", "--realtime", "--listen", "127.0.0.1:0",
         "--detections", str(log), "--log", str(tmp_path / "m.csv")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < 500):
        time.sleep(0.1)
    sent = time.monotonic()
    process.send_signal(sig)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert time.monotonic() - sent < 2.0
    frames = int(summary_of(stdout)["frames"])
    lines = log.read_text().splitlines()
    assert len(lines) == frames and json.loads(lines[-1])["frame"] >= 0
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "/nope/model.tflite"], "no such model"),
        (["--source", "/nope.mp4"], "no such file or camera"),
        (["--listen", "0.0.0.0:8080"], "--auth"),
        (["--auth", "nopassword"], "USER:PASS"),
        (["--threshold", "1.5"], "--threshold"),
        (["--frames", "0"], "--frames"),
        (["--classes", "unicorn"], "the model has no class 'unicorn'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    ssd_bundle: Path, video: Path, args: list[str], message: str
) -> None:
    defaults = {"--model": str(ssd_bundle), "--source": str(video)}
    for flag, value in defaults.items():
        if flag not in args:
            args = [*args, flag, value]
    result = pisight("run", "--frames", "1", *args)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("pisight: error")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_config_file_with_a_flag_over_it(ssd_bundle: Path, video: Path, tmp_path: Path) -> None:
    config = tmp_path / "pisight.toml"
    config.write_text(
        f'[model]\npath = "{ssd_bundle}"\nthreshold = 0.3\n'
        f'[source]\nspec = "{video}"\nloop = true\n[live]\nenabled = false\n'
        f'[logs]\ndetections = "{tmp_path / "d.jsonl"}"\n'
    )
    # --no-loop beats the file's loop = true: the clip's 30 frames end the run before 60.
    result = pisight("run", "--config", str(config), "--no-loop", "--frames", "60")
    assert result.returncode == 0, result.stderr
    assert summary_of(result.stdout)["frames"] == "30"
    assert len((tmp_path / "d.jsonl").read_text().splitlines()) == 30


def test_zones_and_lines_reach_the_metrics_and_the_detections(
    ssd_bundle: Path, video: Path, tmp_path: Path
) -> None:
    config = tmp_path / "counting.toml"
    config.write_text(
        f'[model]\npath = "{ssd_bundle}"\nthreshold = 0.3\n[source]\nspec = "{video}"\n'
        "[live]\nenabled = false\n"
        '[[zones]]\nname = "left"\npoints = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n'
        '[[lines]]\nname = "middle"\nstart = [0.5, 0]\nend = [0.5, 1]\n'
    )
    metrics, detections = tmp_path / "m.csv", tmp_path / "d.jsonl"
    result = pisight("run", "--config", str(config), "--log", str(metrics),
                     "--detections", str(detections))  # fmt: skip
    assert result.returncode == 0, result.stderr
    header, *rows = metrics.read_text().splitlines()
    assert header.endswith(",row,tracks,zone:left,line:middle:in,line:middle:out")
    cells = rows[-1].split(",")
    assert cells[CSV_COLUMNS.index("row")] == "summary" and len(cells) == len(CSV_COLUMNS) + 4
    found = [d for line in detections.read_text().splitlines()
             for d in json.loads(line)["detections"]]  # fmt: skip
    assert found and all("track_id" in d for d in found)


def test_model_is_required_without_config() -> None:
    result = pisight_in_process("run", "--source", "0")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "pisight: error: --model is required: give --model BUNDLE or --config FILE"
    )


def test_bench_json(ssd_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = pisight("bench", str(ssd_bundle), "--runs", "5", "--threads", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["runs"] == 5 and report["threads"] == 1 and report["runtime"] == "litert"
    assert 0 < report["latency_ms"]["p50"] <= report["latency_ms"]["p99"]
