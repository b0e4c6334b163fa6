"""The demo as a newcomer sees it: the page in a real browser shows boxes on the objects."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.model.detections import box_iou
from pisight.device.render.annotators import class_colour
from tests.browser import chromium_path, screenshot
from tests.helpers import free_port


def wait_for_frames(port: int, timeout_s: float = 60) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
                if reply.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def detected_fraction(detections: Path, truth: Path) -> float:
    """Share of ground-truth objects a detection of the same label covers (IoU >= 0.5)."""
    frames = {entry["frame"]: entry["boxes"] for entry in json.loads(truth.read_text())}
    found = total = 0
    for line in detections.read_text().splitlines():
        record = json.loads(line)
        expected = frames.get(record["frame"] % len(frames), [])
        for target in expected:
            total += 1
            boxes = [d["box"] for d in record["detections"] if d["label"] == target["label"]]
            if boxes and box_iou(np.array([target["box"]]), np.array(boxes)).max() >= 0.5:
                found += 1
    return found / max(total, 1)


def test_demo_page_shows_boxes_on_the_objects(tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("no chromium on PATH: install Debian's chromium to run the browser test")
    port, out = free_port(), tmp_path / "demo"
    process = subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", "demo", "--port", str(port), "--out",
         str(out), "--calib-samples", "24", "--eval-images", "12"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PISIGHT_SKIP_LEGACY_RUNTIME": "1"},
    )  # fmt: skip
    threading.Thread(target=process.stdout.read, daemon=True).start()
    deadline = time.monotonic() + 600
    for line in process.stderr:
        if re.search(rf"live view on http://127\.0\.0\.1:{port}/", line):
            break
        assert time.monotonic() < deadline, "the demo never served its page"
    threading.Thread(target=process.stderr.read, daemon=True).start()
    assert wait_for_frames(port), "the demo's /healthz never reported frames flowing"
    png = screenshot(f"http://127.0.0.1:{port}/", tmp_path / "demo.png", wait_ms=8000)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    page = cv2.imread(str(png)).astype(int)
    box_pixels = sum(
        int(np.count_nonzero(np.all(np.abs(page - colour) <= 12, axis=2)))
        for colour in {class_colour(i) for i in range(3)}
    )
    assert box_pixels > 300, "no annotation boxes visible on the demo page"
    # The boxes are on the objects: detections match the video's own ground truth.
    fraction = detected_fraction(out / "detections.jsonl", out / "video.json")
    assert fraction >= 0.5, f"only {fraction:.0%} of the synthetic objects were detected"
    assert (out / "report.md").is_file() and (out / "metrics.png").is_file()
