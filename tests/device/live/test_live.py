"""The live view of a real `pisight run`: concurrent MJPEG viewers and a browser."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.render.annotators import class_colour
from pisight.device.sources.testpattern import write_video
from tests.browser import chromium_path, screenshot


@pytest.fixture(scope="module")
def live_run(ssd_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`pisight run` on a looping video, on an ephemeral port read from its log line."""
    video = write_video(tmp_path_factory.mktemp("live") / "clip.avi", frames=60)
    process = subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(ssd_bundle),
         "--source", str(video), "--loop", "--realtime", "--threshold", "0.3",
         "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    port = None
    deadline = time.monotonic() + 60
    while port is None and time.monotonic() < deadline:
        line = process.stderr.readline()
        if match := re.search(r"live view on http://127\.0\.0\.1:(\d+)/", line):
            port = int(match.group(1))
    assert port, "pisight run never announced its live view"
    threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
    yield port
    process.terminate()
    assert process.wait(timeout=5) == 0


def read_parts(port: int, count: int, results: list) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/stream.mjpg")
    response = connection.getresponse()
    assert response.status == 200
    parts = []
    while len(parts) < count:
        headers = {}
        line = response.fp.readline()
        while line in (b"\r\n", b"\n"):
            line = response.fp.readline()
        assert line.strip() == b"--FRAME", line
        while (line := response.fp.readline().strip()) != b"":
            key, value = line.decode().split(":", 1)
            headers[key.lower()] = value.strip()
        parts.append(response.fp.read(int(headers["content-length"])))
    connection.close()
    results.append(parts)


def test_five_concurrent_viewers_get_valid_jpegs(live_run: int) -> None:
    results: list = []
    threads = [threading.Thread(target=read_parts, args=(live_run, 5, results)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 5
    for parts in results:
        for jpeg in parts:
            assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            assert image.shape == (480, 640, 3)


def test_healthz_and_metrics_while_running(live_run: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", live_run, timeout=10)
    connection.request("GET", "/healthz")
    health = connection.getresponse()
    assert health.status == 200 and b'"status": "ok"' in health.read().replace(b'":"', b'": "')
    connection.request("GET", "/metrics")
    metrics = connection.getresponse().read().decode()
    assert re.search(r"^pisight_frames_total \d+", metrics, re.M)


def test_browser_shows_annotated_stream(live_run: int, tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("no chromium on PATH: install Debian's chromium to run the browser test")
    png = screenshot(f"http://127.0.0.1:{live_run}/", tmp_path / "page.png", wait_ms=5000)
    page = cv2.imread(str(png))
    # Boxes are drawn in their class colour; the synthetic video has no such colour.
    colours = {class_colour(i) for i in range(3)}
    box_pixels = sum(
        int(np.count_nonzero(np.all(np.abs(page.astype(int) - c) <= 12, axis=2))) for c in colours
    )
    assert box_pixels > 500, "no annotation boxes visible in the page screenshot"


def test_another_pisight_can_watch_the_stream_over_http(ssd_bundle: Path, live_run: int) -> None:
    """An HTTP MJPEG source (here our own stream on loopback) is a valid --source."""
    result = subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(ssd_bundle),
         "--source", f"http://127.0.0.1:{live_run}/stream.mjpg", "--frames", "5", "--no-serve"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("frames=5 ")
