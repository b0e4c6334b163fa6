"""`pisight run --clips --snapshots` end to end: clips that OpenCV (and ffprobe, where
installed) opens, starting at least the pre-roll before their event's first sighting, and
the snapshot on MQTT's retained topic for Home Assistant's camera."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from pisight.device.events.media import RING_MARGIN_S
from tests.broker import Broker, Subscriber, retained
from tests.device.events.conftest import DEMO
from tests.helpers import pisight_in_process

PRE_ROLL, POST_ROLL = 1.0, 0.5


def test_clips_hold_their_pre_roll_and_open_in_players(
    tmp_path: Path, crossing: Path, broker: Broker
) -> None:
    media = tmp_path / "media"
    config = tmp_path / "pisight.toml"
    config.write_text(
        f'[model]\npath = "{DEMO}"\nprobe = false\n[live]\nenabled = false\n'
        f'[media]\nsnapshots = true\nclips = true\nfolder = "{media}"\n'
        f"pre_roll_s = {PRE_ROLL}\npost_roll_s = {POST_ROLL}\n"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nname = "test"\n'
        f'spool = "{tmp_path / "spool.sqlite"}"\n'
    )
    with Subscriber(broker.port, "pisight/test/#") as sub:
        # Looped in real time: the second pass's objects appear with frames before them.
        result = subprocess.run(
            [sys.executable, "-m", "pisight.device.cli", "run", "--config", str(config),
             "--source", str(crossing), "--loop", "--realtime", "--frames", "240",
             "--detections", str(tmp_path / "d.jsonl")],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert sub.wait_for(lambda _: sub.payloads("pisight/test/snapshot"), timeout=10)
    # When each event began: the frame of its "new" message (its object may have been seen
    # earlier, at start_time, with too low a score).
    began = {}
    for payload in sub.payloads("pisight/test/events"):
        message = json.loads(payload)
        if message["type"] == "new":
            began[message["after"]["id"]] = message["after"]["frame_time"]
    first_frame_t = json.loads((tmp_path / "d.jsonl").read_text().splitlines()[0])["t"]
    records = [json.loads(p.read_text()) for p in sorted(media.glob("*.json"))]
    assert records and all(r["has_snapshot"] and r["has_clip"] for r in records)
    assert not list(media.glob(".*"))  # nothing half-written left behind
    late = 0
    for record in records:
        clip = media / f"{record['clip']}.mp4"
        assert (media / f"{record['id']}.jpg").read_bytes()[:2] == b"\xff\xd8"
        video = cv2.VideoCapture(str(clip))
        assert video.isOpened() and video.read()[0], clip
        frames, fps = int(video.get(cv2.CAP_PROP_FRAME_COUNT)), video.get(cv2.CAP_PROP_FPS)
        assert frames >= 2 and fps > 0
        if record["start_time"] - first_frame_t >= PRE_ROLL + 0.2:  # a pre-roll existed
            late += 1
            # At least the pre-roll before the event began; before its first sighting too,
            # when that came less than the ring's margin earlier.
            assert began[record["id"]] - record["clip_start"] >= PRE_ROLL - 1e-6
            opened = record["clip"] == record["id"]  # else it joined an earlier one's clip
            if opened and began[record["id"]] - record["start_time"] < RING_MARGIN_S:
                assert record["start_time"] - record["clip_start"] >= PRE_ROLL - 1e-6
        if shutil.which("ffprobe"):
            probe = subprocess.run(
                ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                 "default=nw=1:nk=1", str(clip)], capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            assert probe.returncode == 0 and float(probe.stdout) > 0, probe.stderr
    assert late, "no event came late enough in the run to have a pre-roll"
    held = retained(broker.port, "#", 0.5)
    assert held["pisight/test/snapshot"][:2] == b"\xff\xd8"
    assert "homeassistant/camera/test/snapshot/config" in held


@pytest.mark.parametrize("flags", [["--clips", "--no-events"], ["--snapshots", "--no-track"]])
def test_media_without_events_is_refused(tmp_path: Path, flags: list[str]) -> None:
    result = pisight_in_process("run", "--model", str(DEMO), "--source", "x.avi", *flags,
                                "--media-dir", str(tmp_path))  # fmt: skip
    assert result.returncode == 2
    assert "snapshots and clips are of events" in result.stderr
