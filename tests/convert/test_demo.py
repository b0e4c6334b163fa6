"""`pisight demo` end to end on the shipped checkpoint, small settings."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import cv2


def test_demo_writes_report_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", "demo", "--frames", "40", "--no-serve",
         "--out", str(out), "--calib-samples", "24", "--eval-images", "12"],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "PISIGHT_SKIP_LEGACY_RUNTIME": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| mAP@0.5 |" in result.stdout and "| model bytes |" in result.stdout
    report = (out / "report.md").read_text()
    assert "| mAP@0.5 |" in report and "frames=40 " in report and "metrics.png" in report
    plot = cv2.imread(str(out / "metrics.png"))
    assert plot is not None and plot.shape[0] > 300
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert rows[-1]["row"] == "summary" and rows[-1]["frames"] == "40"
    assert (out / "bundle" / "pisight.json").is_file()
