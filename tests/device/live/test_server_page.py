"""The live page renders the MJPEG stream in a real browser (headless Chromium)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.live.broadcast import FrameBroadcast
from pisight.device.live.options import ServerOptions
from pisight.device.live.server import LiveServer
from pisight.device.pipeline.status import RunStatus

# tests/ is not a package; browser.py is a helper beside the test folders.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from browser import chromium_path, dump_dom, screenshot

GREEN = (0, 255, 0)  # BGR


def green_frame() -> bytes:
    """A 640x480 frame whose middle half is pure green, a colour the page itself never uses."""
    image = np.full((480, 640, 3), 40, np.uint8)
    cv2.rectangle(image, (160, 120), (480, 360), GREEN, thickness=-1)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return encoded.tobytes()


def green_fraction(png: Path) -> float:
    shot = cv2.imread(str(png), cv2.IMREAD_COLOR)
    assert shot is not None, f"{png} is not an image"
    b, g, r = (shot[..., i].astype(int) for i in range(3))
    return float(np.mean((g > 200) & (r < 60) & (b < 60)))


@pytest.mark.slow
def test_page_shows_the_stream_and_metrics(tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("no chromium: install Debian's chromium")
    broadcast = FrameBroadcast()
    status = RunStatus(fps=29.7, inference_ms_p50=11.8, last_frame_age_s=0.03, model="demo")
    server = LiveServer(ServerOptions(port=0, title="pisight test"), broadcast, lambda: status)
    server.start()
    stop = threading.Event()
    jpeg = green_frame()

    def publish() -> None:
        while not stop.wait(1 / 30):
            if broadcast.wanted():  # as the pipeline does: encode only for a viewer
                broadcast.publish(jpeg)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        png = screenshot(f"http://127.0.0.1:{server.address[1]}/", tmp_path / "page.png")
    finally:
        stop.set()
        publisher.join(timeout=2)
        server.stop()
    # The green rectangle is a quarter of the frame; scaled into the page it covers well
    # over 5% of a 1280x800 viewport. Without the stream it would be 0.
    assert green_fraction(png) > 0.05


@pytest.mark.slow
def test_page_lists_the_zone_and_line_counts_from_healthz() -> None:
    if chromium_path() is None:
        pytest.skip("no chromium: install Debian's chromium")
    from pisight.device.zones.counting import LineCount, ZoneCount

    status = RunStatus(
        fps=29.7, last_frame_age_s=0.03, tracks=3,
        zones=(ZoneCount("door", {"person": 2}, {"person": 5}, {"person": 3}),),
        lines=(LineCount("street", {"car": 4}, {"car": 1}),),
    )  # fmt: skip
    server = LiveServer(ServerOptions(port=0), FrameBroadcast(), lambda: status)
    server.start()
    try:
        dom = dump_dom(f"http://127.0.0.1:{server.address[1]}/", wait_ms=2500)
    finally:
        server.stop()
    assert '<section id="counts">' in dom  # no longer hidden
    assert "<dt>Zone door</dt><dd>2 now · 5 in · 3 out</dd>" in dom
    assert "<dt>Line street</dt><dd>in 4 · out 1</dd>" in dom
    assert "<dt>Tracks now</dt><dd>3</dd>" in dom
