#!/usr/bin/env python3
"""Runtime benchmark: `pisight run` against the bare interpreter, measured in one run.

    .venv/bin/python scripts/benchmark_runtime.py --model BUNDLE [--threads 2] [--frames 300]

Prints (and with --json writes) the inference FPS of `pisight run` on a 640x480 video
with no viewer and with one /stream.mjpg viewer, as ratios of the `pisight bench` rate
at the same thread count; the same ratio for a plain serial read-resize-invoke-draw
loop (the shape of the popular Pi scripts); peak RSS; and launch-to-first-frame time.
Each figure is the median of --rounds interleaved rounds (bench, run, watched run,
serial loop, bench), each ratio taken against the benches that bracket it: shared
machines drift by tens of percent within a minute. Never compare across machines.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from pisight.device.model.bench import benchmark
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.runtime import default_threads
from pisight.device.pipeline.cores import pin_current_thread, plan_cores
from pisight.device.sources.testpattern import write_video

# Two zones and a line, as a user counting a shop's door and its street would configure.
COUNTING_CONFIG = """
[[zones]]
name = "door"
points = [[0.05, 0.05], [0.5, 0.05], [0.5, 0.95], [0.05, 0.95]]

[[zones]]
name = "window"
points = [[0.5, 0.05], [0.95, 0.05], [0.95, 0.95], [0.5, 0.95]]

[[lines]]
name = "street"
start = [0.0, 0.5]
end = [1.0, 0.5]
"""


def run_pisight(
    model: str, video: Path, threads: int | None, frames: int, viewers: int,
    timed_launch: bool = False, counting: bool = False, env: dict | None = None,
    pin: str | None = None,
) -> dict:  # fmt: skip
    """One `pisight run` process with `viewers` MJPEG clients; returns its summary, RSS,
    mean process and system CPU % from its metrics log and (timed_launch) the time from
    launch to the first processed frame, seen as the first detections-log line.
    threads None: the default (--threads auto); env: added to the environment (a cache
    folder); pin: `taskset -c PIN`."""
    with tempfile.TemporaryDirectory() as scratch:
        detections, metrics = Path(scratch) / "d.jsonl", Path(scratch) / "m.csv"
        serve = ["--listen", "127.0.0.1:0"] if viewers else ["--no-serve"]
        log = ["--detections", str(detections)] if timed_launch else []
        if counting:
            config = Path(scratch) / "counting.toml"
            config.write_text(COUNTING_CONFIG)
            log += ["--config", str(config)]
        forced = [] if threads is None else ["--threads", str(threads)]
        command = [sys.executable, "-m", "pisight.device.cli", "run", "--model", model,
                   "--source", str(video), "--loop", "--frames", str(frames), *forced,
                   "--log", str(metrics), *log, *serve]  # fmt: skip
        if pin is not None:
            command = ["taskset", "-c", pin, *command]
        launched = time.monotonic()
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
        first_frame_s = _wait_first_line(detections, launched) if timed_launch else None
        if viewers:
            port = _announced_port(process)
            for _ in range(viewers):
                threading.Thread(target=_watch, args=(port,), daemon=True).start()
        stdout, _ = process.communicate(timeout=600)
        cpu, system_cpu = _mean_cpu(metrics)
    summary = dict(part.split("=", 1) for part in stdout.strip().splitlines()[-1].split())
    return {
        "fps": float(summary["fps"]),
        "rss_mb_max": float(summary["rss_mb_max"]),
        "private_mb_max": float(summary.get("private_mb_max", "nan")),
        "dropped": int(summary["dropped"]),
        "cpu_percent": cpu,
        "system_cpu_percent": system_cpu,
        "launch_to_first_frame_s": first_frame_s,
    }


def _mean_cpu(metrics: Path) -> tuple[float | None, float | None]:
    """Mean of the per-second CPU samples, the first (warm-up) one left out."""
    with metrics.open(newline="") as handle:
        rows = list(csv.DictReader(handle))[1:]

    def mean(key: str) -> float | None:
        values = [float(row[key]) for row in rows if row[key]]
        return round(float(np.mean(values)), 1) if values else None

    return mean("cpu_percent"), mean("system_cpu_percent")


def _wait_first_line(path: Path, launched: float) -> float:
    while not (path.exists() and path.stat().st_size > 0):
        if time.monotonic() - launched > 60:
            raise RuntimeError("pisight run processed no frame in 60 s")
        time.sleep(0.002)
    return time.monotonic() - launched


def _announced_port(process: subprocess.Popen) -> int:
    for line in process.stderr:
        if match := re.search(r"live view on http://[^:]+:(\d+)/", line):
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return int(match.group(1))
    raise RuntimeError("pisight run did not announce its live view")


def _watch(port: int) -> None:
    """A viewer that reads the MJPEG stream as fast as it comes until the run ends.

    On a Pi the viewer is a browser on another machine; here it shares the CPU, so it
    is kept on the core pisight leaves for I/O rather than on the interpreter's.
    """
    plan = plan_cores(default_threads())
    if plan:
        pin_current_thread(plan.io)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/stream.mjpg")
        response = connection.getresponse()
        while response.read(65536):
            pass
    except OSError:
        pass


def serial_loop(model: str, video: Path, threads: int, frames: int) -> float:
    """Read, resize, invoke, draw, one after another: the popular scripts' loop."""
    detector = Detector.load(DetectorOptions(model, threads=threads))
    capture = cv2.VideoCapture(str(video))
    done, started = 0, None
    while done < frames:
        ok, image = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        for box in detector.detect(image).xyxy.astype(int):
            cv2.rectangle(image, tuple(box[:2]), tuple(box[2:]), (0, 255, 0), 2)
        done += 1
        if done == 10:  # skip warm-up, as the pipeline's fps does
            started = time.monotonic()
    return (frames - 10) / (time.monotonic() - started)


def one_round(args: argparse.Namespace, video: Path) -> dict:
    """Bench, run, run watched, serial loop, bench: ratios against the bracketing benches."""
    before = benchmark(args.model, None, args.threads, args.runs).to_json()
    launch = run_pisight(args.model, video, args.threads, 30, viewers=0, timed_launch=True)
    plain = run_pisight(args.model, video, args.threads, args.frames, viewers=0)
    watched = run_pisight(args.model, video, args.threads, args.frames, viewers=1)
    counted = run_pisight(args.model, video, args.threads, args.frames, viewers=0, counting=True)
    serial_fps = serial_loop(args.model, video, args.threads, args.frames)
    after = benchmark(args.model, None, args.threads, args.runs).to_json()
    floor = (before["fps"] + after["fps"]) / 2
    return {
        "bench_fps": round(floor, 2),
        "run_fps_no_viewer": plain["fps"],
        "run_fps_one_viewer": watched["fps"],
        "serial_loop_fps": round(serial_fps, 2),
        "ratio_no_viewer": plain["fps"] / floor,
        "ratio_one_viewer": watched["fps"] / floor,
        "run_fps_counting": counted["fps"],
        "ratio_counting": counted["fps"] / floor,
        "ratio_serial_loop": serial_fps / floor,
        "rss_mb_max": max(plain["rss_mb_max"], watched["rss_mb_max"]),
        "private_mb_max": max(plain["private_mb_max"], watched["private_mb_max"]),
        "launch_to_first_frame_s": launch["launch_to_first_frame_s"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument(
        "--rounds", type=int, default=5, help="interleaved rounds; medians reported"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        video = write_video(Path(scratch) / "clip.avi", frames=120)
        rounds = [one_round(args, video) for _ in range(args.rounds)]
    report = {"model": args.model, "threads": args.threads, "frames": args.frames,
              "rounds": len(rounds), "cpu_count": os.cpu_count()}  # fmt: skip
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        peak = key in ("rss_mb_max", "private_mb_max")
        report[key] = round(float(np.max(values) if peak else np.median(values)), 3)
    report["per_round"] = rounds
    print(json.dumps({k: v for k, v in report.items() if k != "per_round"}, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
