"""EventMedia: snapshots at the best moment, clips with pre-roll and post-roll, atomic files,
and a broken disk that costs media only."""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.events.event import EventMessage, EventState
from pisight.device.events.media import EventMedia, MediaOptions
from pisight.device.render.frame_sink import AnnotatedFrame
from tests.helpers import wait_until

FPS = 20.0
T0 = 1_800_000_000.0
UNPACED = float("inf")  # the test plays frames as fast as it can: keep every one
EVENT = EventState("1800000001.900000-abc123", "cam", "person", 1, 0.6, 0.6, (10, 10, 30, 30),
                   (), (), T0 + 1.9, T0 + 2.0)  # fmt: skip


def frame(index: int) -> AnnotatedFrame:
    image = np.full((48, 64, 3), (index * 2) % 256, np.uint8)
    return AnnotatedFrame(image, cv2.imencode(".jpg", image)[1].tobytes(), T0 + index / FPS)


def play(
    media: EventMedia, frames: range, script: dict[int, EventMessage | list[EventMessage]]
) -> list[bytes]:
    """Frames in order as the renderer hands them over, the script's messages before some."""
    written = []
    for index in frames:
        found = script.get(index, [])
        for message in found if isinstance(found, list) else [found]:
            media.send(message)
        if media.wants_frame(stale=False):
            shown = frame(index)
            media.write(shown)
            written.append(shown.jpeg)
    return written


def lifecycle() -> dict[int, EventMessage]:
    better = replace(EVENT, score=0.9, top_score=0.9, frame_time=T0 + 3.0)
    ended = replace(better, end_time=T0 + 4.0, frame_time=T0 + 4.0)
    return {40: EventMessage("new", EVENT, EVENT), 60: EventMessage("update", EVENT, better),
            80: EventMessage("end", better, ended)}  # fmt: skip


def test_a_clip_holds_the_pre_roll_and_the_post_roll(tmp_path: Path) -> None:
    snapshots: list[bytes] = []
    options = MediaOptions(tmp_path, clips=True, pre_roll_s=1.0, post_roll_s=0.5, clip_fps=UNPACED)
    media = EventMedia(options, on_snapshot=snapshots.append)
    media.start()
    play(media, range(0, 70), lifecycle())
    assert wait_until(lambda: media._writer._work.empty())
    clip = tmp_path / f"{EVENT.id}.mp4"
    assert not clip.exists() and list(tmp_path.glob(".*.tmp.mp4"))  # atomic: not yet there
    play(media, range(70, 110), lifecycle())
    media.close()
    record = json.loads((tmp_path / f"{EVENT.id}.json").read_text())
    assert record["end_time"] == T0 + 4.0 and record["top_score"] == 0.9
    assert record["clip"] == EVENT.id
    assert record["clip_start"] <= EVENT.start_time - options.pre_roll_s + 1e-6
    assert record["clip_end"] >= T0 + 4.0 + options.post_roll_s - 1 / FPS
    video = cv2.VideoCapture(str(clip))
    assert video.isOpened()
    count = int(video.get(cv2.CAP_PROP_FRAME_COUNT))
    expected = round((record["clip_end"] - record["clip_start"]) * FPS) + 1
    assert count == expected  # every frame from the pre-roll to the post-roll
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS, rel=0.05)
    # The last frame at or before start_time - pre_roll: frame 18 (0.9 s) or, as floats
    # round, 17; grey 36 or 34 (mp4v is lossy: a few levels off), long before the event's
    # frame 40 (grey 80).
    since = EVENT.start_time - options.pre_roll_s
    first_index = max(i for i in range(110) if T0 + i / FPS <= since)
    assert first_index in (17, 18) and record["clip_start"] == T0 + first_index / FPS
    ok, first = video.read()
    assert ok and abs(first.mean() - 2 * first_index) < 8
    # The snapshot is the best-score moment's frame (the update at frame 60), not the first.
    assert snapshots == [frame(40).jpeg, frame(60).jpeg]
    assert (tmp_path / f"{EVENT.id}.jpg").read_bytes() == frame(60).jpeg
    assert not list(tmp_path.glob(".*"))  # no temporaries left


def test_snapshots_alone_ask_only_for_the_frames_they_need(tmp_path: Path) -> None:
    media = EventMedia(MediaOptions(tmp_path, snapshots=True, clips=False))
    media.start()
    written = play(media, range(0, 100), lifecycle())
    media.close()
    assert written == [frame(40).jpeg, frame(60).jpeg]  # nothing drawn or encoded otherwise
    assert not list(tmp_path.glob("*.mp4")) and (tmp_path / f"{EVENT.id}.jpg").exists()
    assert not media.wants_frame(stale=True)


def test_a_broken_disk_loses_media_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "media"
    media = EventMedia(MediaOptions(folder, clips=True, pre_roll_s=1.0, post_roll_s=0.5,
                                    clip_fps=UNPACED))  # fmt: skip
    media.start()
    shutil.rmtree(folder)
    folder.write_text("the folder is gone: every write fails")
    with caplog.at_level(logging.WARNING, "pisight.events"):
        play(media, range(0, 110), lifecycle())  # never raises into the output thread
        media.close()
    warnings = [r.getMessage() for r in caplog.records if "not written" in r.getMessage()]
    assert 1 <= len(warnings) <= 4  # one per kind of file, not one per frame
    assert all("events and the stream go on" in w for w in warnings)


def test_overlapping_events_share_one_clip_encoded_once(tmp_path: Path) -> None:
    options = MediaOptions(tmp_path, snapshots=False, clips=True, pre_roll_s=1.0,
                           post_roll_s=0.5, clip_fps=UNPACED)  # fmt: skip
    media = EventMedia(options)
    media.start()
    other = replace(EVENT, id="1800000002.900000-def456", track_id=2, start_time=T0 + 2.9,
                    frame_time=T0 + 3.0)  # fmt: skip
    same_time = replace(EVENT, id="1800000001.900000-ghi789", track_id=3)
    script: dict[int, EventMessage | list[EventMessage]] = {
        # two at once: the second joins before the clip has even opened
        40: [EventMessage("new", EVENT, EVENT), EventMessage("new", same_time, same_time)],
        45: EventMessage("end", same_time, replace(same_time, end_time=T0 + 2.2)),
        60: EventMessage("new", other, other),  # joins the clip EVENT opened
        70: EventMessage("end", EVENT, replace(EVENT, end_time=T0 + 3.5)),
        90: EventMessage("end", other, replace(other, end_time=T0 + 4.5)),
    }
    play(media, range(0, 120), script)
    media.close()
    assert [p.name for p in tmp_path.glob("*.mp4")] == [f"{EVENT.id}.mp4"]
    first, second, third = (json.loads((tmp_path / f"{e.id}.json").read_text())
                            for e in (EVENT, other, same_time))  # fmt: skip
    assert first["clip"] == second["clip"] == third["clip"] == EVENT.id
    assert first["clip_start"] == second["clip_start"] <= EVENT.start_time - 1.0
    assert second["clip_end"] >= T0 + 4.5 + 0.5 - 1 / FPS  # post-roll after the last one
    video = cv2.VideoCapture(str(tmp_path / f"{EVENT.id}.mp4"))
    assert (
        int(video.get(cv2.CAP_PROP_FRAME_COUNT))
        == round((second["clip_end"] - second["clip_start"]) * FPS) + 1
    )  # each frame once
    assert media.archive.file(other.id, "clip") == tmp_path / f"{EVENT.id}.mp4"


def test_clips_keep_clip_fps_frames_a_second(tmp_path: Path) -> None:
    media = EventMedia(MediaOptions(tmp_path, snapshots=False, clips=True, clip_fps=10.0))
    asked = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # a 200 fps stream for a second
        asked += media.wants_frame(stale=False)
        time.sleep(0.005)
    assert 8 <= asked <= 12  # the rest are neither drawn, encoded nor kept
