"""`pisight demo`: the whole kit on one machine, no camera, no network, no download.

    pisight demo                      # then open http://127.0.0.1:8080/ ; Ctrl-C ends it
    pisight demo --frames 200 --out demo-out --no-serve

1. synthetic calibration and validation images and a synthetic video (pisight synth),
2. the shipped FP32 demo detector quantized to INT8 with calibration (per-tensor, as
   scripts/train-demo-model.sh made the shipped bundle), verified,
   and evaluated FP32 vs INT8 on the held-out images (the table is printed, with the
   INT8/FP32 latency ratio of the two timed taking turns),
3. the device runtime on the video with the live view and metrics logging; its peak RSS
   is printed against the figure BENCHMARKS.md promises,
4. OUT/report.md with that table and OUT/metrics.png (FPS, CPU, memory over time, every
   axis from zero).
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
from pathlib import Path

from pisight.convert.conversion.converter import convert_model
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.data.synth import generate_dataset
from pisight.convert.data.synth_video import generate_video
from pisight.convert.report.demo_report import memory_line, plot_metrics, write_report
from pisight.device.model.cpu import CpuInfo, measured_on
from pisight.device.model.runtime import threads_phrase

log = logging.getLogger("pisight.demo")
REPO_MODELS = Path(__file__).resolve().parents[2] / "models"
DEMO_CHECKPOINT = REPO_MODELS / "demo" / "demo.keras"
# Seeds the shipped detector never saw: its training data used seed 1 (see
# scripts/train-demo-model.sh), so calibration, validation and video are held out.
CALIBRATION_SEED, VALIDATION_SEED, VIDEO_SEED = 101, 202, 303


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--port", type=int, default=8080, help="live view port on 127.0.0.1 (default 8080)")
    add("--frames", type=int, default=None, help="stop after N processed frames")
    add("--out", type=Path, default=Path("demo-out"), help="where everything is written")
    add("--no-serve", action="store_true", help="no live view")
    add("--model", type=Path, default=DEMO_CHECKPOINT, help="FP32 detector to quantize")
    add(
        "--per-channel",
        action="store_true",
        help="per-channel weight scales (default per-tensor, the shipped bundle's recipe)",
    )
    add("--calib-samples", type=int, default=200, help="calibration images (default 200)")
    add("--eval-images", type=int, default=200, help="held-out validation images")
    add("--max-map-drop", type=float, default=None,
        help="fail if INT8 loses more mAP@0.5 points than this (default: report only)")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    if args.frames is not None and args.frames < 1:
        raise ValueError("--frames must be at least 1")
    if not args.model.is_file():
        raise FileNotFoundError(
            f"demo checkpoint {args.model} is missing; run scripts/train-demo-model.sh"
        )
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    data = _synthetic_data(out, args.calib_samples, args.eval_images)
    bundle = out / "bundle"
    log.info("quantizing %s to INT8 with %d calibration images", args.model, args.calib_samples)
    result = convert_model(ConvertOptions(
        model=str(args.model), out=bundle, mode="int8", per_tensor=not args.per_channel,
        calibration=str(data["calibration"]),
        calibration_samples=args.calib_samples, eval_data=str(data["validation"]),
        max_map_drop=args.max_map_drop, gate=args.max_map_drop is not None,
    ))  # fmt: skip
    table = comparison_table(result.metadata)
    print(table, flush=True)
    summary = _run_device(args, bundle, data["video"], out)
    print(f"{summary}\n{memory_line(summary)}", flush=True)
    plot = plot_metrics(out / "metrics.csv", out / "metrics.png")
    report = write_report(out / "report.md", table, summary, result.metadata, plot)
    print(f"wrote {report} and {plot}")
    return 0


def _synthetic_data(out: Path, calibration: int, validation: int) -> dict[str, Path]:
    paths = {"calibration": out / "calibration", "validation": out / "validation",
             "video": out / "video.avi"}  # fmt: skip
    if not (paths["calibration"] / "labels.txt").is_file():
        generate_dataset(paths["calibration"], calibration, CALIBRATION_SEED)
    if not (paths["validation"] / "labels.txt").is_file():
        generate_dataset(paths["validation"], validation, VALIDATION_SEED)
    if not paths["video"].is_file():
        generate_video(paths["video"], frames=300, seed=VIDEO_SEED)
    log.info("synthetic data in %s", out)
    return paths


def comparison_table(metadata: dict) -> str:
    metrics, accuracy = metadata["metrics"], metadata["accuracy"]
    fp32, int8 = accuracy["fp32"], accuracy["converted"]
    fp32_ms, int8_ms = metrics["fp32_latency_ms"]["p50"], metrics["latency_ms"]["p50"]
    rows = [
        ("mAP@0.5", f"{fp32['map50']:.4f}", f"{int8['map50']:.4f}"),
        ("mAP@[.5:.95]", f"{fp32['map50_95']:.4f}", f"{int8['map50_95']:.4f}"),
        ("model bytes", f"{metrics['fp32_bytes']:,}", f"{metrics['bytes']:,}"),
        (f"latency p50, {threads_phrase(metrics['latency_threads'])}",
         f"{fp32_ms:.2f} ms", f"{int8_ms:.2f} ms ({int8_ms / fp32_ms:.2f}x)"),
    ]  # fmt: skip
    lines = ["| | FP32 | INT8 |", "|---|---|---|"]
    lines += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    method = metrics.get("latency_method", "one model at a time")
    lines += [
        "",
        f"INT8/FP32 latency {int8_ms / fp32_ms:.2f}x, {method}, so load from elsewhere "
        "slows both alike.",
        f"LiteRT {measured_on(CpuInfo.from_json(metrics['latency_cpu']))}.",
    ]
    return "\n".join(lines)


def _run_device(args: argparse.Namespace, bundle: Path, video: Path, out: Path) -> str:
    """`pisight run` in its own process: what it measures (RSS above all) is what a Pi
    without TensorFlow would see, not this TensorFlow-laden converter process."""
    command = [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(bundle),
               "--source", str(video), "--loop", "--realtime",
               "--log", str(out / "metrics.csv"), "--detections", str(out / "detections.jsonl"),
               "--listen", f"127.0.0.1:{args.port}"]  # fmt: skip
    if args.frames:
        command += ["--frames", str(args.frames)]
    if args.no_serve:
        command.append("--no-serve")
    else:
        print(f"live view: http://127.0.0.1:{args.port}/  (Ctrl-C ends the demo)", flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = process.communicate()
    except KeyboardInterrupt:
        # Pass the interrupt on (a terminal's Ctrl-C reaches both; a plain kill only us),
        # then let the runtime flush its logs and print its summary.
        process.send_signal(signal.SIGINT)
        stdout, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the device runtime failed (exit {process.returncode}); see above")
    return stdout.strip().splitlines()[-1]
