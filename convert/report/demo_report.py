"""The demo's report: the FP32-vs-INT8 table and a plot of the run's metrics CSV.

    png = plot_metrics(out / "metrics.csv", out / "metrics.png")
    write_report(out / "report.md", table, summary_line, metadata, png)

Every panel's axis starts at zero, so a flat line looks flat.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

PRIVATE_PROMISE_MB = 96
"""The peak private memory (RSS less file-backed pages) BENCHMARKS.md promises for
`pisight run` (scripts/benchmark.py checks it). Not RSS: RSS also counts the pages of
OpenCV, FFmpeg and LiteRT that the page cache happens to hold, so the same run read
93 MB in one venv and 135 MB in a freshly installed one (docs/ARCHITECTURE.md, "Memory")."""


def plot_metrics(csv_path: Path, png_path: Path) -> Path:
    """FPS, CPU % and RSS over time from `pisight run --log`, one panel each."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a Pi or in CI
    import matplotlib.pyplot as plt

    rows = [r for r in csv.DictReader(csv_path.open()) if r.get("row") == "interval"]
    start = float(rows[0]["time"]) if rows else 0.0
    seconds = [float(r["time"]) - start for r in rows]
    panels = (("fps", "frames/s"), ("cpu_percent", "CPU % (100 = one core)"),
              ("private_mb", "private MB (RSS dotted)"))  # fmt: skip
    figure, axes = plt.subplots(len(panels), 1, figsize=(8, 6), sharex=True)
    for axis, (column, title) in zip(axes, panels, strict=True):
        values = [float(r[column]) if r.get(column) else float("nan") for r in rows]
        axis.plot(seconds, values, linewidth=1.5)
        # From zero: an axis fitted to the data made 132.0-132.1 MB of noise look like a
        # climb and 29.9-31.7 fps like a collapse.
        top = _top(values)
        if column == "private_mb":  # RSS dotted, the promise dashed
            rss = [float(r["rss_mb"]) if r.get("rss_mb") else float("nan") for r in rows]
            axis.plot(seconds, rss, linewidth=1, linestyle=":", color="grey")
            axis.axhline(PRIVATE_PROMISE_MB, color="grey", linestyle="--", linewidth=1)
            axis.annotate(f"< {PRIVATE_PROMISE_MB} MB promised (BENCHMARKS.md)",
                          (0, PRIVATE_PROMISE_MB), xytext=(4, 3), textcoords="offset points",
                          fontsize=8, color="grey")  # fmt: skip
            top = max(top, _top(rss), PRIVATE_PROMISE_MB * 1.15)
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
    """The device run's peak private memory against the promise, RSS beside it, from its
    `Summary.line()`."""
    fields = dict(part.split("=", 1) for part in summary.split() if "=" in part)
    rss = f"RSS {float(fields['rss_mb_max']):.1f} MB" if "rss_mb_max" in fields else "RSS n/a"
    if "private_mb_max" not in fields:
        return f"Peak private memory: not measured on this platform ({rss})"
    private = float(fields["private_mb_max"])
    verdict = "within" if private < PRIVATE_PROMISE_MB else "OVER"
    return (
        f"Peak private memory {private:.1f} MB: {verdict} the < {PRIVATE_PROMISE_MB} MB "
        f"BENCHMARKS.md promises ({rss}, with the shared libraries' pages in the page cache)"
    )


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
