"""The demo's report: the FP32-vs-INT8 table and a plot of the run's metrics CSV.

    png = plot_metrics(out / "metrics.csv", out / "metrics.png")
    write_report(out / "report.md", table, summary_line, metadata, png)

Every panel's axis starts at zero, so a flat line looks flat.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

RSS_PROMISE_MB = 128
"""The peak RSS BENCHMARKS.md promises for `pisight run` (scripts/benchmark.py checks it)."""


def plot_metrics(csv_path: Path, png_path: Path) -> Path:
    """FPS, CPU % and RSS over time from `pisight run --log`, one panel each."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a Pi or in CI
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(csv_path.open()) if r.get("row") == "interval"]
    start = float(rows[0]["time"]) if rows else 0.0
    seconds = [float(r["time"]) - start for r in rows]
    panels = (("fps", "frames/s"), ("cpu_percent", "CPU % (100 = one core)"), ("rss_mb", "RSS MB"))
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 6), sharex=True)
    for axis, (column, title) in zip(axes, panels, strict=True):
        values = [float(r[column]) if r[column] else float("nan") for r in rows]
        axis.plot(seconds, values, linewidth=1.5)
        # From zero: an axis fitted to the data made 132.0-132.1 MB of noise look like a
        # climb and 29.9-31.7 fps like a collapse.
        top = _top(values)
        if column == "rss_mb":  # the promise beside the run, dashed
            axis.axhline(RSS_PROMISE_MB, color="grey", linestyle="--", linewidth=1)
            axis.annotate(f"< {RSS_PROMISE_MB} MB promised (BENCHMARKS.md)",
                          (0, RSS_PROMISE_MB), xytext=(4, 3), textcoords="offset points",
                          fontsize=8, color="grey")  # fmt: skip
            top = max(top, RSS_PROMISE_MB * 1.15)
        axis.set_ylim(0, top)
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    figure.suptitle("pisight demo: device pipeline on the synthetic video")
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return png_path


def _top(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) * 1.15 if finite and max(finite) > 0 else 1.0


def memory_line(summary: str) -> str:
    """The device run's peak RSS against the promise, from its `Summary.line()`."""
    fields = dict(part.split("=", 1) for part in summary.split() if "=" in part)
    if "rss_mb_max" not in fields:
        return "Peak RSS: not measured"
    rss = float(fields["rss_mb_max"])
    verdict = "within" if rss < RSS_PROMISE_MB else "OVER"
    return f"Peak RSS {rss:.1f} MB: {verdict} the < {RSS_PROMISE_MB} MB BENCHMARKS.md promises"


def write_report(path: Path, table: str, summary: str, metadata: dict, plot: Path) -> Path:
    accuracy = metadata["accuracy"]
    text = "\n".join([
        "# pisight demo report",
        "",
        f"Model: {metadata['source_model']}, quantized to INT8 with "
        f"{metadata['calibration']['count']} calibration images.",
        f"Evaluated on {accuracy['images']} held-out synthetic images "
        f"(mAP@0.5 change: {-accuracy['map50_drop_points']:+.2f} points).",
        "",
        table,
        "",
        "## Device run",
        "",
        f"`{summary}`",
        "",
        f"{memory_line(summary)}.",
        "",
        f"![FPS, CPU and memory over time]({plot.name})",
        "",
        "The INT8 bundle, its own conversion report and the metrics CSV are beside this file.",
    ])  # fmt: skip
    path.write_text(text + "\n")
    return path
