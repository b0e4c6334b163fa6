"""Flaky sources: a stall goes offline and recovers in-process; a fast camera into slow
inference keeps memory flat. Scenario lengths: PISIGHT_STALL_S (default 30, as the issue)
and PISIGHT_SOAK_S (default 30; the issue's 2 minutes with PISIGHT_SOAK_S=120)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.pipeline.capture import CaptureOptions, CaptureWorker
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.sources.base import SourceError
from tests.conftest import REPO
from tests.faults.rig import PacedCamera, start_rig
from tests.helpers import wait_until

STALL_S = float(os.environ.get("PISIGHT_STALL_S", "30"))
SOAK_S = float(os.environ.get("PISIGHT_SOAK_S", "30"))


def health(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def snapshot(url: str) -> np.ndarray:
    with urllib.request.urlopen(url, timeout=10) as response:
        return cv2.imdecode(np.frombuffer(response.read(), np.uint8), cv2.IMREAD_COLOR)


@pytest.mark.slow  # a soak: tens of seconds of waiting on purpose
def test_stalled_source_goes_offline_then_recovers_without_restart(ssd_bundle: Path) -> None:
    camera = PacedCamera(fps=30.0)
    rig = start_rig(
        ssd_bundle, camera,
        capture=CaptureOptions(stall_timeout_s=1.0, reopen_backoff_s=(0.2, 0.5),
                               max_reopens_per_minute=600),
        # Not below the stall timeout, as in the defaults: the camera is found offline first.
        pipeline=PipelineOptions(stale_after_s=1.5),
    )  # fmt: skip
    try:
        assert wait_until(lambda: health(rig.url("/healthz"))[0] == 200)
        snapshot(rig.url("/snapshot.jpg"))  # a viewer saw a live picture before the stall
        camera.stalled.set()
        assert wait_until(lambda: health(rig.url("/healthz"))[0] == 503, timeout=5)
        assert health(rig.url("/healthz"))[1]["status"] == "offline"
        assert rig.pipeline.status().source_online is False
        picture = snapshot(rig.url("/snapshot.jpg"))
        assert picture[2, 100, 2] > 200 and picture[2, 100, 1] < 60  # the red stale banner
        time.sleep(max(0.0, STALL_S - 3))
        frames_before = rig.pipeline.stats.frames
        camera.stalled.clear()
        assert wait_until(lambda: health(rig.url("/healthz"))[0] == 200, timeout=10)
        assert wait_until(lambda: rig.pipeline.stats.frames > frames_before + 10)
        assert camera.opens > 1 and rig.capture.stalls >= 1
    finally:
        rig.close()


def test_reopen_attempts_are_capped_per_minute() -> None:
    def unplugged():
        raise SourceError("no camera")

    opens = []
    worker = CaptureWorker(
        lambda: opens.append(1) or (PacedCamera().open() if len(opens) == 1 else unplugged()),
        LatestSlot(),
        CaptureOptions(reopen_backoff_s=(0.01,), stall_timeout_s=0.2, max_reopens_per_minute=4),
    )
    worker.start()
    time.sleep(0.1)
    worker._close_source()  # the camera goes away: every reopen fails from now on
    time.sleep(1.5)
    worker.stop()
    assert len(opens) - 1 == 4  # 150 attempts at 0.01 s without the cap


@pytest.mark.slow  # a soak: tens of seconds of waiting on purpose
def test_fast_source_into_slow_inference_keeps_memory_flat(ssd_bundle: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.rig", str(ssd_bundle), str(SOAK_S)],
        cwd=REPO, capture_output=True, text=True, timeout=SOAK_S + 60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    rss = report["rss"]
    warm = rss[len(rss) // 5]  # after start-up allocation (arenas, JPEG buffers)
    growth = max(rss[-3:]) / warm - 1.0
    print(f"\nsoak {SOAK_S:g} s: rss {warm / 2**20:.1f} -> {rss[-1] / 2**20:.1f} MiB, "
          f"frames={report['frames']} dropped={report['dropped_frames']} "
          f"bad={report['bad_frames']}")  # fmt: skip
    assert growth < 0.05
    assert report["frames"] < SOAK_S * 7  # inference ran at ~5 fps ...
    assert report["dropped_frames"] > report["frames"] * 5  # ... so most frames were dropped
    assert report["bad_frames"] > 0  # the float32 frames were dropped and counted
