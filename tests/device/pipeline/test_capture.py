"""The capture thread with a generated video and fake sources; no camera needed."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.pipeline.capture import CaptureOptions, CaptureWorker
from pisight.device.pipeline.handoff import LatestSlot, SlotClosedError
from pisight.device.sources.base import FrameSource, SourceError
from pisight.device.sources.files import open_source
from pisight.device.sources.frames import Frame
from tests.helpers import wait_until

FAST = CaptureOptions(reopen_backoff_s=(0.01,))


def write_video(path: Path, n_frames: int = 10) -> Path:
    """An MJPG clip whose frame i has gray level 10 + 20 i, so order survives compression."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for i in range(n_frames):
        image = np.full((480, 640, 3), 10 + 20 * i, np.uint8)
        cv2.putText(image, str(i), (200, 300), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        writer.write(image)
    writer.release()
    return path


class FakeLiveSource:
    """A camera that delivers small frames as fast as asked, optionally failing first."""

    live = True
    description = "fake:live"

    def __init__(self, fail_reads: int = 0, period_s: float = 0.001) -> None:
        self.fail_reads = fail_reads
        self.period_s = period_s
        self.closed = False
        self.reads = 0

    def read(self) -> np.ndarray | None:
        self.reads += 1
        if self.reads <= self.fail_reads:
            raise SourceError("fake camera unplugged")
        time.sleep(self.period_s)
        return np.zeros((8, 8, 3), np.uint8)

    def close(self) -> None:
        self.closed = True


class BlockingSource:
    """A read that hangs until close(), like a stream whose network went away."""

    live = True
    description = "fake:blocking"

    def __init__(self) -> None:
        self.released = threading.Event()

    def read(self) -> np.ndarray | None:
        self.released.wait(10)
        return None

    def close(self) -> None:
        self.released.set()


def drain(slot: LatestSlot[Frame], delay_s: float = 0.0, limit: int = 1000) -> list[Frame]:
    """Take frames until the slot closes, sleeping delay_s after each (a slow consumer)."""
    frames: list[Frame] = []
    with pytest.raises(SlotClosedError):
        while len(frames) < limit:
            frame = slot.get(timeout=5.0)
            assert frame is not None, "capture stopped delivering"
            frames.append(frame)
            time.sleep(delay_s)
    return frames


def test_video_reaches_a_slow_consumer_losslessly(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi")
    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(lambda: open_source(str(path)), slot)
    worker.start()
    assert worker.live is False
    assert worker.description == f"video:{path}"
    frames = drain(slot, delay_s=0.02)
    assert [f.seq for f in frames] == list(range(10))
    assert [round((f.image[:8, :8].mean() - 10) / 20) for f in frames] == list(range(10))
    assert worker.ended.is_set()
    assert worker.dropped == 0
    assert worker.frames_captured == 10
    assert wait_until(lambda: not worker.alive)
    worker.stop()


def test_live_source_drops_stale_frames_for_a_slow_consumer() -> None:
    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(FakeLiveSource, slot)
    worker.start()
    seqs = []
    for _ in range(5):
        frame = slot.get(timeout=2.0)
        assert frame is not None
        seqs.append(frame.seq)
        time.sleep(0.03)
    worker.stop()
    assert worker.dropped > 0
    assert seqs == sorted(seqs) and seqs[-1] - seqs[0] > 4  # newest frames, gaps between
    assert worker.online is True
    assert worker.last_frame_time is not None


def test_failing_source_is_reopened_and_frames_resume(caplog: pytest.LogCaptureFixture) -> None:
    opened: list[FakeLiveSource] = []

    def open_fn() -> FrameSource:
        # The first two openings fail on their first read; the third works.
        opened.append(FakeLiveSource(fail_reads=1 if len(opened) < 2 else 0))
        return opened[-1]

    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(open_fn, slot, FAST)
    with caplog.at_level(logging.WARNING, logger="pisight.capture"):
        worker.start()
        first = slot.get(timeout=2.0)
        worker.stop()
    assert first is not None  # a live slot may already hold a later frame than seq 0
    assert worker.reopen_count == 2
    assert len(opened) == 3
    assert all(source.closed for source in opened)
    assert sum("fake camera unplugged" in r.getMessage() for r in caplog.records) == 2


def test_failed_reopen_attempts_back_off_and_keep_trying() -> None:
    attempts: list[float] = []

    def open_fn() -> FrameSource:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            return FakeLiveSource(fail_reads=1)
        if len(attempts) < 4:
            raise SourceError("still unplugged")
        return FakeLiveSource()

    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(open_fn, slot, CaptureOptions(reopen_backoff_s=(0.01, 0.05)))
    worker.start()
    assert slot.get(timeout=2.0) is not None
    worker.stop()
    assert worker.reopen_count == 1  # successful reopens; the failed attempts only log
    gaps = np.diff(attempts)
    assert gaps[0] >= 0.01 and gaps[1] >= 0.05 and gaps[2] >= 0.05  # the last delay repeats


def test_source_error_marks_offline_until_frames_flow() -> None:
    gate = threading.Event()

    def open_fn() -> FrameSource:
        if not gate.is_set():
            gate.set()
            return FakeLiveSource(fail_reads=1)
        raise SourceError("no camera")

    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(open_fn, slot, FAST)
    worker.start()
    assert wait_until(lambda: not worker.online)
    worker.stop()


def test_stalled_live_source_goes_offline_and_stop_unblocks_it() -> None:
    source = BlockingSource()
    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(lambda: source, slot, CaptureOptions(stall_timeout_s=0.05))
    worker.start()
    assert wait_until(lambda: not worker.online)  # no frame within stall_timeout_s
    start = time.monotonic()
    worker.stop()
    assert time.monotonic() - start < 2.0
    assert not worker.alive
    assert not worker.ended.is_set()  # stopping is not the end of the source
    assert not slot.closed


def test_stop_returns_promptly_and_joins_the_thread() -> None:
    source = FakeLiveSource()
    worker = CaptureWorker(lambda: source, LatestSlot(), FAST)
    worker.start()
    assert wait_until(lambda: worker.frames_captured > 3)
    assert any(t.name == "capture" and t.daemon for t in threading.enumerate())
    start = time.monotonic()
    worker.stop()
    assert time.monotonic() - start < 2.0
    assert not worker.alive
    assert source.closed


def test_bad_spec_raises_in_start_and_no_thread_runs(tmp_path: Path) -> None:
    worker = CaptureWorker(lambda: open_source(str(tmp_path / "missing.mp4")), LatestSlot())
    with pytest.raises(SourceError, match="no such file or camera"):
        worker.start()
    assert not worker.alive


def test_consumer_closing_the_slot_ends_capture_quietly(tmp_path: Path) -> None:
    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(FakeLiveSource, slot)
    worker.start()
    assert slot.get(timeout=2.0) is not None
    slot.close()
    assert wait_until(lambda: not worker.alive)
    assert worker.error is None
    assert not worker.ended.is_set()


def test_unusable_frames_are_counted_not_fatal() -> None:
    class Junk(FakeLiveSource):
        def read(self) -> np.ndarray | None:
            self.reads += 1
            return np.zeros((4, 4), np.float32) if self.reads % 2 else np.zeros((4, 4), np.uint8)

    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(Junk, slot)
    worker.start()
    frame = slot.get(timeout=2.0)
    worker.stop()
    assert frame is not None and frame.image.shape == (4, 4, 3)
    assert worker.bad_frames > 0


def test_unexpected_error_closes_the_slot_so_the_consumer_does_not_hang() -> None:
    class Buggy(FakeLiveSource):
        def read(self) -> np.ndarray | None:
            raise ZeroDivisionError("bug")

    slot: LatestSlot[Frame] = LatestSlot()
    worker = CaptureWorker(Buggy, slot)
    worker.start()
    with pytest.raises(SlotClosedError):
        slot.get(timeout=2.0)
    assert isinstance(worker.error, ZeroDivisionError)
    worker.stop()
