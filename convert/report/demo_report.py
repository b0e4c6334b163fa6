"""The demo's report: the FP32-vs-INT8 table and a plot of the run's metrics CSV."""

from __future__ import annotations

import csv
from pathlib import Path


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
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
    axes[-1].set_xlabel("seconds")
    figure.suptitle("pisight demo: device pipeline on the synthetic video")
    figure.tight_layout()
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return png_path


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
        f"![FPS, CPU and memory over time]({plot.name})",
        "",
        "The INT8 bundle, its own conversion report and the metrics CSV are beside this file.",
    ])  # fmt: skip
    path.write_text(text + "\n")
    return path
