#!/usr/bin/env python3
"""`pisight run` at its defaults against the best the bare interpreter can do on this CPU.

    .venv/bin/python scripts/benchmark_limit.py                     # demo + full-size SSD
    .venv/bin/python scripts/benchmark_limit.py --model B --update BENCHMARKS.md

The best bare rate: every interpreter count x thread count whose threads fit the cores,
each interpreter invoking in its own thread (the GIL is released in invoke), for
--seconds. `pisight run` runs with default flags (--threads auto; its setting tuned once,
by a warm-up run, into a cache of this benchmark's own) on a 640x480 video with no viewer
and one viewer, beside the old default (one interpreter, all cores but one) and, pinned
to one core with `taskset -c 0`, against the old default pinned the same way. Every
round measures the bare settings again, and the best one-interpreter setting again after
each run, so each run's ratio is taken against the bare rates just before and after it;
medians of --rounds. Hypervisor steal (from /proc/stat) is reported: on a
shared VM it moves every figure by tens of percent.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from benchmark_runtime import run_pisight

from pisight.device.model.bundle import locate_model
from pisight.device.model.cpu import this_cpu
from pisight.device.model.runtime import default_threads, make_interpreter
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.sources.testpattern import write_video

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## At the limit: `pisight run` defaults against the best bare rate"


def bare_rate(model: str, setting: InferenceSetting, seconds: float) -> float:
    """Frames a second of setting.interpreters interpreters invoking side by side."""
    file = locate_model(model).model
    interpreters = [make_interpreter(file, None, setting.threads)[0] for _ in
                    range(setting.interpreters)]  # fmt: skip
    for interpreter in interpreters:
        detail = interpreter.get_input_details()[0]
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        for _ in range(3):
            interpreter.invoke()
    counts = [0] * len(interpreters)
    deadline = time.monotonic() + seconds

    def loop(index: int) -> None:
        while time.monotonic() < deadline:
            interpreters[index].invoke()
            counts[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(interpreters))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def bare_settings(cores: int) -> list[InferenceSetting]:
    return [InferenceSetting(t, k) for k in range(1, cores + 1) for t in range(1, cores + 1)
            if t * k <= cores]  # fmt: skip


def steal_ticks() -> tuple[int, int]:
    """(steal, all) jiffies of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return values[7], sum(values)


def one_round(model: str, video: Path, args: argparse.Namespace, env: dict) -> dict:
    """Every bare setting, then each `pisight run` followed by the best one-interpreter
    bare setting again: each run's ratio is taken against the mean of the bare rates
    measured just before and just after it (steal drifts within a round)."""
    steal_before = steal_ticks()
    cores = len(os.sched_getaffinity(0))
    bare = {s.short: bare_rate(model, s, args.seconds) for s in bare_settings(cores)}
    best = max((s for s in bare_settings(cores) if s.interpreters == 1),
               key=lambda s: bare[s.short])  # fmt: skip
    plans = {
        "default": (None, 0, None), "default_viewer": (None, 1, None),
        "old_default": (default_threads(), 0, None), "pinned_default": (None, 0, "0"),
        "pinned_old": (1, 0, "0"),
    }  # fmt: skip
    runs, floors, before = {}, {}, bare[best.short]
    for name, (threads, viewers, pin) in plans.items():
        runs[name] = run_pisight(model, video, threads, args.frames, viewers, env=env, pin=pin)
        after = bare_rate(model, best, args.seconds)
        floors[name], before = (before + after) / 2, after
    now = steal_ticks()
    steal, total = now[0] - steal_before[0], now[1] - steal_before[1]
    return {
        "bare": bare, "best_bare_one_interpreter": bare[best.short],
        "best_bare": max(bare.values()),
        "fps": {name: run["fps"] for name, run in runs.items()},
        "ratio_no_viewer": runs["default"]["fps"] / floors["default"],
        "ratio_one_viewer": runs["default_viewer"]["fps"] / floors["default_viewer"],
        "ratio_old_default": runs["old_default"]["fps"] / floors["old_default"],
        "pinned_ratio": runs["pinned_default"]["fps"] / runs["pinned_old"]["fps"],
        "steal_percent": 100.0 * steal / max(1, total),
    }  # fmt: skip


def measure(model: str, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="pisight-limit-") as scratch:
        video = write_video(Path(scratch) / "clip.avi", frames=120)
        env = {"XDG_CACHE_HOME": scratch}
        # Tunes once and caches the choice, as a first run on a Pi; long enough for tuning
        # to finish on a fast model (1,500 frames of the demo detector ended before it did).
        warm = subprocess.run(
            [sys.executable, "-m", "pisight.device.cli", "run", "--model", model, "--source",
             str(video), "--loop", "--frames", str(max(args.frames, 5000)), "--no-serve"],
            capture_output=True, text=True, env={**os.environ, **env}, timeout=600,
        )  # fmt: skip
        chosen = [line for line in warm.stderr.splitlines() if "inference: " in line][-1:]
        rounds = [one_round(model, video, args, env) for _ in range(args.rounds)]
    said = chosen[0].split("inference: ", 1)[-1].split("; kept in")[0] if chosen else ""
    report = {"model": model, "chosen": said}
    for key in ("best_bare_one_interpreter", "best_bare", "ratio_no_viewer", "ratio_one_viewer",
                "ratio_old_default", "pinned_ratio", "steal_percent"):  # fmt: skip
        report[key] = round(float(np.median([r[key] for r in rounds])), 3)
    report["bare"] = {k: round(float(np.median([r["bare"][k] for r in rounds])), 1)
                      for k in rounds[0]["bare"]}  # fmt: skip
    report["fps"] = {k: round(float(np.median([r["fps"][k] for r in rounds])), 1)
                     for k in rounds[0]["fps"]}  # fmt: skip
    report["rounds"] = rounds
    return report


def render(reports: list[dict], command: str) -> str:
    lines = [
        SECTION, "",
        f"Measured {time.strftime('%Y-%m-%d')} on {this_cpu().describe()} by `{command}`: "
        "medians of interleaved rounds; bare rates are interpreters x threads, each "
        "interpreter invoking in its own thread; each ratio is against the best "
        "one-interpreter bare rate measured just before and just after that run; "
        "`pisight run` with default flags "
        "(`--threads auto`, tuned once by a warm-up run) on a 640x480 MJPEG video.", "",
        "| model | best bare, one interpreter | best bare, any | `pisight run` defaults, no "
        "viewer | one viewer | old default (1 interpreter, all cores but one) | pinned to "
        "one core, defaults / old | steal % | chosen by `--threads auto` |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in reports:
        fps = r["fps"]
        lines.append(
            f"| {_name(r['model'])} | {r['best_bare_one_interpreter']:.1f} fps | "
            f"{r['best_bare']:.1f} fps | {fps['default']:.1f} fps ({r['ratio_no_viewer']:.3f}) | "
            f"{fps['default_viewer']:.1f} ({r['ratio_one_viewer']:.3f}) | "
            f"{fps['old_default']:.1f} ({r['ratio_old_default']:.3f}) | "
            f"{fps['pinned_default']:.1f} / {fps['pinned_old']:.1f} ({r['pinned_ratio']:.3f}) | "
            f"{r['steal_percent']:.1f} | {r['chosen']} |"
        )
    lines += ["", "Bare rates, fps (interpreters x threads):", ""]
    for r in reports:
        shown = ", ".join(f"{k} {v:.1f}" for k, v in r["bare"].items())
        lines.append(f"- {_name(r['model'])}: {shown}")
    lines += ["", "Targets (issue 20): no viewer >= 0.95 and one viewer >= 0.92 of the best "
              "bare rate with one interpreter; pinned to one core not worse than before "
              "(ratio >= 1.0, within noise).", ""]  # fmt: skip
    return "\n".join(lines)


def _name(model: str) -> str:
    path = Path(model)
    return f"{path.parent.name}/{path.name}" if path.name == "bundle" else path.name


def update(path: Path, section: str) -> None:
    """Put section into path in place of an older one (else before the tracking section)."""
    text = path.read_text() if path.exists() else ""
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        _, next_heading, tail = rest.partition("\n## ")
        text = head + section + ("\n## " + tail if next_heading else "\n")
    elif "\n## Tracking" in text:
        head, _, tail = text.partition("\n## Tracking")
        text = head + "\n" + section + "\n## Tracking" + tail
    else:
        text = text + "\n" + section + "\n"
    path.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="bundle (repeat); default: the demo")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0, help="per bare setting")
    parser.add_argument("--frames", type=int, default=1500, help="per pisight run")
    parser.add_argument("--update", type=Path, default=None, help="put the table into this file")
    args = parser.parse_args()
    models = args.model or [str(ROOT / "models" / "demo" / "bundle")]
    reports = [measure(model, args) for model in models]
    command = " ".join(["python", "scripts/benchmark_limit.py", *sys.argv[1:]])
    section = render(reports, command)
    print(section)
    if args.update:
        update(args.update, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
