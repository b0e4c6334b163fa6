"""EventArchive: retention by count, size and age over a long run; atomic files; safe ids."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from pisight.device.events.archive import EventArchive, Retention
from pisight.device.events.event import EventState


def state(start: float, suffix: str = "abcdef") -> EventState:
    return EventState(f"{start:.6f}-{suffix}", "cam", "car", 1, 0.9, 0.9, (0, 0, 1, 1), (), (),
                      start, start)  # fmt: skip


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir()) / 2**20


def test_a_long_run_stays_within_every_limit(tmp_path: Path) -> None:
    archive = EventArchive(tmp_path, Retention(max_events=25, max_mb=0.5, max_age_days=1))
    rng = np.random.default_rng(0)
    start = time.time() - 3600
    peak = 0.0
    for index in range(150):  # a busy street: one event every few seconds for ten minutes
        event = state(start + 4 * index)
        archive.write_record(event)
        archive.write_snapshot(event.id, b"\xff\xd8" + bytes(20_000))
        clip = archive.open_clip(event.id, 10.0, (64, 48))
        for _ in range(5):
            clip.add(rng.integers(0, 255, (48, 64, 3), np.uint8))  # noise: real bytes
        clip.finish()
        archive.enforce()
        peak = max(peak, folder_mb(tmp_path))
        assert len(list(tmp_path.glob("*.json"))) <= 25
    assert peak <= 0.5 + 0.1  # one event over at most, before enforce removes the oldest
    kept = [d["id"] for d in archive.recent(100)]
    assert kept[0] == state(start + 4 * 149).id  # newest first, the newest kept
    assert all(archive.file(i, "clip") and archive.file(i, "snapshot") for i in kept)


def test_age_and_open_events(tmp_path: Path) -> None:
    archive = EventArchive(tmp_path, Retention(max_events=2, max_age_days=1))
    old, open_, new = state(time.time() - 3 * 86400), state(time.time() - 60), state(time.time())
    for event in (old, open_, new):
        archive.write_record(event)
    extra = state(time.time() - 30, "zzzzzz")
    archive.write_record(extra)
    assert archive.enforce(keep=frozenset({open_.id})) == 2  # the old one and one over count
    assert {d["id"] for d in archive.recent()} == {open_.id, new.id}


def test_files_appear_whole_and_ids_cannot_leave_the_folder(tmp_path: Path) -> None:
    archive = EventArchive(tmp_path)
    event = state(time.time())
    clip = archive.open_clip(event.id, 10.0, (64, 48))
    clip.add(np.zeros((48, 64, 3), np.uint8))
    assert archive.file(event.id, "clip") is None  # still being written: invisible
    clip.finish()
    assert archive.file(event.id, "clip") is not None
    assert [p.name for p in tmp_path.iterdir()] == [f"{event.id}.mp4"]
    (tmp_path / f".{event.id}.mp4.tmp").write_bytes(b"half")  # a crash mid-write
    EventArchive(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [f"{event.id}.mp4"]
    assert archive.file("../../etc/passwd", "record") is None
    with pytest.raises(ValueError, match="not an event id"):
        archive.path("x/../y", "clip")


def test_a_shared_clip_outlives_the_event_it_was_named_after(tmp_path: Path) -> None:
    archive = EventArchive(tmp_path, Retention(max_events=2))
    start = time.time() - 60
    first, second, third = state(start), state(start + 1), state(start + 2)
    archive.write_record(first)
    clip = archive.open_clip(first.id, 10.0, (64, 48))
    clip.add(np.zeros((48, 64, 3), np.uint8))
    clip.finish()
    for later in (second, third):  # they overlapped the first: one clip shows all three
        archive.write_record(later, {"clip": first.id})
    assert archive.enforce() == 1
    assert archive.file(first.id, "clip") is None and archive.file(first.id, "record") is None
    for later in (second, third):
        found = archive.file(later.id, "clip")
        assert found == archive.path(second.id, "clip") and found.stat().st_size > 0
    assert [d["clip"] for d in archive.recent()] == [second.id, second.id]
