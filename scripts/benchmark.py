#!/usr/bin/env python3
"""Every speed, size and memory figure of BENCHMARKS.md, measured on this machine in one run.

    .venv/bin/python scripts/benchmark.py                  # writes BENCHMARKS.md + benchmarks.json
    .venv/bin/python scripts/benchmark.py --quick --out /tmp/B.md   # small and fast (tests)

1. Models: the demo detector and a full-size SSD-MobileNetV2 (alpha 1.0, 300x300, random
   weights: latency and size do not depend on training) as FP32, FP16, dynamic-range,
   INT8, pruned INT8 and channel-pruned INT8: bytes raw and gzipped, ai-edge-litert p50/p90
   at 1 and 2 threads (variants interleaved), tflite-runtime 2.14 p50 where its isolated
   environment can be built, mAP@0.5 on held-out synthetic data for the demo detector.
   The demo's pruned variants are the fine-tuned bundles of scripts/optimize-demo-model.sh
   when they exist; otherwise (and for the full-size model) one-shot pruning, whose mAP
   would mean nothing and is not shown.
2. End to end (scripts/benchmark_runtime.py): `pisight run` inference FPS on a 640x480
   video over the bare-interpreter rate, with no viewer and one viewer, the serial
   read-resize-invoke-draw loop as the reference row, peak RSS, launch to first frame.
3. Viewers: inference FPS and CPU of `pisight run` with 0, 1, 5 and 10 MJPEG clients.
4. At the limit (scripts/benchmark_limit.py): `pisight run` at its defaults (--threads
   auto) against the best bare rate over every interpreter and thread count.
Only ratios taken in this one run are meant to be compared.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from benchmark_limit import measure as measure_limit
from benchmark_limit import render as render_limit
from benchmark_runtime import one_round, run_pisight

from pisight.convert.conversion.legacy_runtime import ensure_legacy_env
from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
from pisight.convert.data.calibration import load_calibration_frames
from pisight.convert.data.synth import generate_dataset
from pisight.convert.data.synth_scene import LABELS
from pisight.convert.report.demo_report import PRIVATE_PROMISE_MB
from pisight.convert.report.evaluate import evaluate_model
from pisight.convert.report.variants import interleaved_latency
from pisight.convert.ssd.export import export_saved_model
from pisight.convert.ssd.model import SSDConfig, build_ssd, load_detector
from pisight.convert.tf import keras, tf
from pisight.device.model.bundle import pixel_input, write_model_dir
from pisight.device.model.cpu import this_cpu
from pisight.device.model.runtime import default_threads
from pisight.device.sources.testpattern import write_video

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "models" / "demo" / "demo.keras"
OPTIMIZED_DEMO = ROOT / "build" / "demo-optimize"
FLOAT_MODES = ("fp32", "fp16", "dynamic", "int8")
VIEWER_COUNTS = (0, 1, 5, 10)
RAW_PIXELS = (0.0, 1.0)  # input mean, std: our detectors normalise inside the graph
CALIBRATION_SEED, EVALUATION_SEED = 101, 202  # seeds the demo detector never trained on

LEGACY_LATENCY = r"""
import json, sys, time
import numpy as np
from tflite_runtime.interpreter import Interpreter
interpreter = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[2]))
interpreter.allocate_tensors()
for d in interpreter.get_input_details():
    interpreter.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
for _ in range(3):
    interpreter.invoke()
times = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    interpreter.invoke()
    times.append((time.perf_counter() - start) * 1e3)
print(json.dumps({"p50": float(np.percentile(times, 50))}))
"""


def _made_from(bundle: Path, config: SSDConfig) -> bool:
    """Whether scripts/optimize-demo-model.sh made `bundle` from this very checkpoint.

    A bundle left over from an earlier demo detector would mix two models in one table;
    the training record (command, seed, finish time) tells them apart.
    """
    metadata_file = bundle / "pisight.json"
    if not metadata_file.is_file():
        return False
    provenance = json.loads(metadata_file.read_text()).get("provenance") or {}
    if config.training and provenance.get("training") == config.training:
        return True
    print(f"  {bundle} was made from another demo checkpoint: one-shot variant instead")
    return False


def variant_models(
    model: keras.Model, config: SSDConfig, frames, work: Path, pruned: dict[str, bytes]
) -> dict[str, bytes]:
    """FP32 ... INT8 conversions of `model`, plus pruned INT8 ones (given, or one-shot)."""
    saved = export_saved_model(model, config, work / "saved_model")
    models = {
        mode: convert_saved_model(saved, QuantizeOptions(mode), frames.batches)
        for mode in FLOAT_MODES
    }
    for name, build in (("pruned int8", _one_shot_sparse), ("channel-pruned int8", _narrow)):
        if name in pruned:
            models[name] = pruned[name]
            continue
        smaller = export_saved_model(build(model), config, work / name.replace(" ", "_"))
        models[name] = convert_saved_model(smaller, QuantizeOptions("int8"), frames.batches)
    return models


def _one_shot_sparse(model: keras.Model) -> keras.Model:
    """Half of every Conv2D kernel's smallest weights set to zero, no fine-tuning."""
    from pisight.convert.optimize.pruning import copy_model

    sparse = copy_model(model)
    for layer in sparse.layers:
        if type(layer) is keras.layers.Conv2D:
            kernel, *rest = layer.get_weights()
            kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0.0
            layer.set_weights([kernel, *rest])
    return sparse


def _narrow(model: keras.Model) -> keras.Model:
    from pisight.convert.optimize.channel_pruning import channel_plan, rebuild_pruned

    return rebuild_pruned(model, channel_plan(model, 0.3))


def legacy_p50(model: Path, threads: int, runs: int) -> float | None:
    python = ensure_legacy_env()  # the isolated env's interpreter, or None
    if python is None:
        return None
    done = subprocess.run(
        [str(python), "-c", LEGACY_LATENCY, str(model), str(threads), str(runs)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        return None
    return round(json.loads(done.stdout.strip().splitlines()[-1])["p50"], 3)


def measure_models(
    label: str, models: dict[str, bytes], work: Path, args, dataset=None, has_map=()
) -> list[dict]:
    latency = {
        threads: interleaved_latency(models, work, threads, rounds=args.rounds, runs=args.runs)
        for threads in (1, 2)
    }
    rows = []
    for index, (name, model) in enumerate(models.items()):
        path = work / f"{label}_{index}.tflite"
        path.write_bytes(model)
        row = {"model": label, "variant": name, "bytes": len(model),
               "bytes_gzip": len(gzip.compress(model, 9))}  # fmt: skip
        for threads, samples in latency.items():
            p50, p90 = (float(np.percentile(samples[name], q)) for q in (50, 90))
            row[f"litert_{threads}t_p50_ms"], row[f"litert_{threads}t_p90_ms"] = p50, p90
        row["tflite_runtime_1t_p50_ms"] = legacy_p50(path, 1, max(5, args.runs // 2))
        row["map50"] = None
        if dataset is not None and name in has_map:
            bundle = write_model_dir(
                work / f"{label}_{index}", model, LABELS, pixel_input(*RAW_PIXELS)
            )
            row["map50"] = round(evaluate_model(bundle, dataset).map50, 4)
        rows.append(row)
        print(f"  {label} {name}: {row['litert_2t_p50_ms']:.2f} ms at 2 threads", flush=True)
    return rows


def model_section(args, work: Path) -> tuple[list[dict], Path]:
    """All model rows; returns them and the INT8 model the runtime sections use."""
    frames_dir = work / "calibration"
    generate_dataset(frames_dir, args.calibration, CALIBRATION_SEED)
    eval_dir = work / "evaluation"
    dataset = generate_dataset(eval_dir, args.eval_images, EVALUATION_SEED)
    rows = []
    demo, config = load_detector(args.demo)
    size = config.input_size
    frames = load_calibration_frames(frames_dir, size, size, args.calibration, warn=False)
    pruned, tuned = {}, []
    for name, bundle in (("pruned int8", "unstructured"), ("channel-pruned int8", "channel")):
        if not args.quick and _made_from(OPTIMIZED_DEMO / bundle, config):
            pruned[name] = (OPTIMIZED_DEMO / bundle / "model.tflite").read_bytes()
            tuned.append(name)
    models = variant_models(demo, config, frames, work / "demo", pruned)
    has_map = (*FLOAT_MODES, *tuned)
    rows += measure_models("demo", models, work, args, dataset, has_map)
    keras.utils.set_random_seed(0)
    full = SSDConfig(num_classes=3, input_size=args.full_size, alpha=args.full_alpha)
    full_model = build_ssd(full)
    frames = load_calibration_frames(
        frames_dir, args.full_size, args.full_size, args.calibration, warn=False
    )
    full_models = variant_models(full_model, full, frames, work / "full", {})
    rows += measure_models("full-size", full_models, work, args)
    int8 = write_model_dir(
        work / "full-size-int8", full_models["int8"], LABELS, pixel_input(*RAW_PIXELS)
    )
    return rows, int8


def runtime_section(args, int8: Path, work: Path) -> tuple[dict, list[dict]]:
    video = write_video(work / "clip.avi", frames=120)
    options = argparse.Namespace(
        model=str(int8), threads=args.threads, runs=args.runs * 5, frames=args.frames
    )
    rounds = [one_round(options, video) for _ in range(args.rounds)]

    def summarise(key: str) -> float:
        values = [r[key] for r in rounds]
        peak = key in ("rss_mb_max", "private_mb_max")
        return round(float(np.max(values) if peak else np.median(values)), 3)

    end_to_end = {key: summarise(key) for key in rounds[0]}
    viewers = []
    for count in VIEWER_COUNTS:
        runs = [
            run_pisight(str(int8), video, args.threads, args.frames, viewers=count)
            for _ in range(args.rounds)
        ]
        viewers.append({
            "viewers": count,
            "fps": round(float(np.median([r["fps"] for r in runs])), 2),
            "cpu_percent": _median(r["cpu_percent"] for r in runs),
            "system_cpu_percent": _median(r["system_cpu_percent"] for r in runs),
        })  # fmt: skip
        print(f"  {count} viewers: {viewers[-1]['fps']} fps", flush=True)
    return end_to_end, viewers


def _median(values) -> float | None:
    found = [v for v in values if v is not None]
    return round(float(np.median(found)), 1) if found else None


TRACKING_SECTION = "\n## Tracking: which tracker, by measurement"


def render(report: dict) -> str:
    machine, e2e = report["machine"], report["end_to_end"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured {report['date']} on {machine['description']} by:",
        "",
        f"    {report['command']}",
        "",
        "Every ratio below was taken within this one run; figures from different machines",
        "or runs are not comparable. Regenerate with the command above.",
        "",
        "## Models",
        "",
        "LiteRT = ai-edge-litert, variants interleaved. INT8/FP32 is the 2-thread p50 ratio.",
        "",
        "| model | variant | bytes | gzip | LiteRT 1 thread p50 / p90 | "
        "LiteRT 2 threads p50 / p90 | tflite-runtime 2.14 p50 | mAP@0.5 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["models"]:
        legacy, accuracy = row["tflite_runtime_1t_p50_ms"], row["map50"]
        lines.append(
            f"| {row['model']} | {row['variant']} | {row['bytes']:,} | {row['bytes_gzip']:,} | "
            f"{row['litert_1t_p50_ms']:.2f} / {row['litert_1t_p90_ms']:.2f} ms | "
            f"{row['litert_2t_p50_ms']:.2f} / {row['litert_2t_p90_ms']:.2f} ms | "
            f"{'n/a' if legacy is None else f'{legacy:.2f} ms'} | "
            f"{'n/a' if accuracy is None else f'{accuracy:.4f}'} |"
        )
    lines += ["", *(f"- {line}" for line in report["ratios"]), ""]
    lines += [
        "## End to end: `pisight run` against the bare interpreter",
        "",
        f"Full-size INT8 model, 640x480 video, interpreter threads: {report['threads']}, "
        f"median of {report['rounds']} interleaved rounds.",
        "",
        "| | inference FPS | ratio to bare interpreter |",
        "|---|---|---|",
        f"| bare interpreter (`pisight bench`) | {e2e['bench_fps']:.2f} | 1.000 |",
        f"| `pisight run`, no viewer | {e2e['run_fps_no_viewer']:.2f} | "
        f"{e2e['ratio_no_viewer']:.3f} |",
        f"| `pisight run`, one viewer | {e2e['run_fps_one_viewer']:.2f} | "
        f"{e2e['ratio_one_viewer']:.3f} |",
        f"| `pisight run`, no viewer, tracking + two zones + a line | "
        f"{e2e['run_fps_counting']:.2f} | {e2e['ratio_counting']:.3f} |",
        f"| reference: serial read-resize-invoke-draw loop | {e2e['serial_loop_fps']:.2f} | "
        f"{e2e['ratio_serial_loop']:.3f} |",
        "",
        f"Peak private memory of `pisight run` (RSS less file-backed pages): "
        f"{e2e.get('private_mb_max', float('nan')):.1f} MB; peak RSS {e2e['rss_mb_max']:.1f} MB "
        "(it also counts library pages the page cache happens to hold). Launch to first processed "
        f"frame: {e2e['launch_to_first_frame_s']:.2f} s.",
        "",
        "## Viewers",
        "",
        "| MJPEG clients | inference FPS | vs no viewer | process CPU % | system CPU % |",
        "|---|---|---|---|---|",
    ]
    base = report["viewers"][0]["fps"]
    for row in report["viewers"]:
        lines.append(
            f"| {row['viewers']} | {row['fps']:.2f} | {row['fps'] / base:.3f} | "
            f"{_shown(row['cpu_percent'])} | {_shown(row['system_cpu_percent'])} |"
        )
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [
        f"| {name} | {value:.3f} | {'measured' if ok is None else 'met' if ok else 'NOT met'} |"
        for name, value, ok in targets(report)
    ]
    return "\n".join(lines) + "\n"


def targets(report: dict) -> list[tuple[str, float, bool | None]]:
    """The project's speed and memory goals against this run's figures."""
    e2e, viewers = report["end_to_end"], report["viewers"]
    full = {r["variant"]: r for r in report["models"] if r["model"] == "full-size"}
    int8_over_fp32 = full["int8"]["litert_2t_p50_ms"] / full["fp32"]["litert_2t_p50_ms"]
    ten_viewers = viewers[-1]["fps"] / viewers[0]["fps"]
    return [
        ("`pisight run` / bare interpreter, no viewer >= 0.97", e2e["ratio_no_viewer"],
         e2e["ratio_no_viewer"] >= 0.97),
        ("`pisight run` / bare interpreter, one viewer >= 0.95", e2e["ratio_one_viewer"],
         e2e["ratio_one_viewer"] >= 0.95),
        ("`pisight run` with two zones and a line / bare interpreter >= 0.97",
         e2e["ratio_counting"], e2e["ratio_counting"] >= 0.97),
        int8_target(report["machine"], int8_over_fp32),
        (f"peak private memory of `pisight run` < {PRIVATE_PROMISE_MB} MB",
         e2e.get("private_mb_max", float("nan")),
         e2e.get("private_mb_max", float("inf")) < PRIVATE_PROMISE_MB),
        ("launch to first processed frame < 1 s", e2e["launch_to_first_frame_s"],
         e2e["launch_to_first_frame_s"] < 1.0),
        (f"{viewers[-1]['viewers']} viewers / no viewer inference FPS >= 0.95", ten_viewers,
         ten_viewers >= 0.95),
    ]  # fmt: skip


FAST_INT8 = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
"""SIMD features with integer dot products: without them INT8 may run no faster than FP32
(one AVX2-only machine ran our INT8 models slower), and the target does not apply."""


def int8_target(machine: dict, ratio: float) -> tuple[str, float, bool | None]:
    simd = set(machine.get("cpu", {}).get("simd", ()))
    name = "full-size INT8 / FP32 LiteRT latency <= 0.75 (CPUs with integer dot products)"
    if simd and not simd & set(FAST_INT8):
        return f"{name}; this CPU has none", ratio, None
    return name, ratio, ratio <= 0.75


def _shown(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def ratios(rows: list[dict]) -> list[str]:
    found = []
    for label in ("demo", "full-size"):
        by_variant = {r["variant"]: r for r in rows if r["model"] == label}
        fp32, int8 = by_variant["fp32"], by_variant["int8"]

        def ratio(row: dict, base: dict, key: str) -> str:
            return f"{row[key] / base[key]:.3f}"

        found.append(
            f"{label}: INT8/FP32 LiteRT latency {ratio(int8, fp32, 'litert_2t_p50_ms')} "
            f"(2 threads), {ratio(int8, fp32, 'litert_1t_p50_ms')} (1 thread); INT8/FP32 "
            f"bytes {ratio(int8, fp32, 'bytes')}; channel-pruned/INT8 latency "
            f"{ratio(by_variant['channel-pruned int8'], int8, 'litert_2t_p50_ms')}; "
            f"pruned/INT8 gzip {ratio(by_variant['pruned int8'], int8, 'bytes_gzip')}"
        )
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--json", type=Path, default=None, help="default: OUT with .json")
    parser.add_argument("--demo", type=Path, default=DEMO)
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--runs", type=int, default=30, help="invokes per model per round")
    parser.add_argument("--frames", type=int, default=600, help="frames per pisight run")
    parser.add_argument("--calibration", type=int, default=200)
    parser.add_argument("--eval-images", type=int, default=300)
    parser.add_argument("--full-size", type=int, default=300)
    parser.add_argument("--full-alpha", type=float, default=1.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for tests")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.runs, args.frames, args.calibration = 1, 4, 40, 8
        args.eval_images, args.full_size, args.full_alpha = 8, 96, 0.35
    command = " ".join(["python", "scripts/benchmark.py", *sys.argv[1:]])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pisight-benchmark-") as scratch:
        work = Path(scratch)
        print("models ...", flush=True)
        models, int8 = model_section(args, work)
        print("end to end and viewers ...", flush=True)
        end_to_end, viewers = runtime_section(args, int8, work)
        print("at the limit ...", flush=True)
        limit_options = argparse.Namespace(
            rounds=args.rounds, seconds=0.5 if args.quick else 2.0, frames=max(args.frames, 600)
        )
        demo_bundle = str(ROOT / "models" / "demo" / "bundle")
        limits = [measure_limit(model, limit_options) for model in (demo_bundle, str(int8))]
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "command": command,
        "machine": {
            # The CPU and its SIMD features decide INT8 speed (AVX-512 VNNI, or AVX2 only).
            "description": f"{this_cpu().describe()}, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}, "
            f"TensorFlow {tf.__version__}",
            "cpu": this_cpu().to_json(),
            "cpu_count": os.cpu_count(),
        },
        "threads": args.threads, "rounds": args.rounds, "frames": args.frames,
        "models": models, "ratios": ratios(models),
        "end_to_end": end_to_end, "viewers": viewers,
        "limit": [{k: v for k, v in r.items() if k != "rounds"} for r in limits],
        "seconds": round(time.monotonic() - started, 1),
    }  # fmt: skip
    json_path = args.json or args.out.with_suffix(".json")
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    # The tracking section comes from scripts/benchmark-tracking.sh: keep it as it is.
    kept = args.out.read_text().partition(TRACKING_SECTION) if args.out.exists() else ("", "", "")
    at_limit = "\n" + render_limit(limits, command)
    args.out.write_text(render(report) + at_limit + (kept[1] + kept[2] if kept[1] else ""))
    print(f"wrote {args.out} and {json_path} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
