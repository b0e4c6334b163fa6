"""StreamRenderer: draws only for sinks that want a frame, encodes a JPEG once for all."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.live.broadcast import BroadcastSink, FrameBroadcast
from pisight.device.live.options import ServerOptions
from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.render.frame_sink import AnnotatedFrame, FrameFormat
from pisight.device.render.renderer import StreamRenderer
from pisight.device.render.sinks import Recorder

GREY = 90


class FakeSink:
    def __init__(self, frame_format: FrameFormat, wants: bool = True, stale: bool = True):
        self.frame_format = frame_format
        self.wants, self.takes_stale = wants, stale
        self.frames: list[AnnotatedFrame] = []
        self.closed = False

    def wants_frame(self, stale: bool) -> bool:
        return self.wants and (self.takes_stale or not stale)

    def write(self, frame: AnnotatedFrame) -> None:
        self.frames.append(frame)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def encodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts cv2.imencode calls (one entry per call)."""
    calls: list[int] = []
    real = cv2.imencode

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "imencode", counting)
    return calls


def image() -> np.ndarray:
    return np.full((120, 160, 3), GREY, np.uint8)


def one_box() -> Detections:
    return Detections(
        np.array([[20, 20, 100, 90]], np.float32),
        np.array([0.9], np.float32),
        np.array([0], np.int32),
        ("thing",),
    )


def test_two_jpeg_sinks_share_one_encode_per_frame(encodes: list[int]) -> None:
    live, clips, recorder = FakeSink("jpeg"), FakeSink("jpeg"), FakeSink("bgr")
    renderer = StreamRenderer([live, clips, recorder])
    for _ in range(3):
        renderer.render(image(), one_box(), RunStatus(fps=30.0))
    assert len(encodes) == 3
    for a, b, c in zip(live.frames, clips.frames, recorder.frames, strict=True):
        assert a.jpeg is not None and a.jpeg is b.jpeg  # the same bytes, not a second encode
        assert c.image is a.image and np.any(c.image != GREY)  # drawn once, for everyone
    decoded = cv2.imdecode(np.frombuffer(live.frames[0].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (120, 160, 3)


def test_nobody_wanting_means_no_drawing_and_no_encoding(encodes: list[int]) -> None:
    sinks = [FakeSink("jpeg", wants=False), FakeSink("bgr", wants=False)]
    picture = image()
    StreamRenderer(sinks).render(picture, one_box(), RunStatus())
    assert np.all(picture == GREY) and encodes == []
    assert all(sink.frames == [] for sink in sinks)


def test_bgr_sinks_alone_cost_no_encoding(encodes: list[int]) -> None:
    recorder = FakeSink("bgr")
    renderer = StreamRenderer([recorder, FakeSink("jpeg", wants=False)])
    renderer.render(image(), one_box(), RunStatus())
    assert encodes == [] and len(recorder.frames) == 1 and recorder.frames[0].jpeg is None


def test_stale_repeats_go_only_to_sinks_that_take_them(encodes: list[int]) -> None:
    live, recorder = FakeSink("jpeg"), FakeSink("bgr", stale=False)
    renderer = StreamRenderer([live, recorder])
    renderer.publish_stale("source offline")  # nothing drawn yet: nothing to repeat
    renderer.render(image(), Detections.empty(), RunStatus())
    renderer.publish_stale(None)  # not stale
    renderer.publish_stale("source offline")
    renderer.publish_stale("source offline")  # within a second of the last marker
    assert len(live.frames) == 2 and len(recorder.frames) == 1
    marked = live.frames[1].image
    assert tuple(marked[2, 100]) == (0, 0, 255)  # the red stale banner
    assert np.all(recorder.frames[0].image[2, 100] == GREY)  # the original is not drawn on
    assert len(encodes) == 2


def test_close_closes_every_sink() -> None:
    sinks = [FakeSink("jpeg"), FakeSink("bgr")]
    StreamRenderer(sinks).close()
    assert all(sink.closed for sink in sinks)


def test_recorder_and_live_view_as_sinks(tmp_path: Path, encodes: list[int]) -> None:
    broadcast = FrameBroadcast()
    recorder = Recorder(tmp_path / "out.mp4", fps=10.0)
    renderer = StreamRenderer([recorder, BroadcastSink(broadcast, ServerOptions())])
    renderer.render(image(), one_box(), RunStatus())  # nobody watches: the recorder alone
    assert recorder.frames == 1 and broadcast.latest() is None and encodes == []
    with broadcast.watching():
        renderer.render(image(), one_box(), RunStatus())
    renderer.close()
    latest = broadcast.latest()
    assert recorder.frames == 2 and latest is not None and len(encodes) == 1
    assert cv2.imdecode(np.frombuffer(latest[1], np.uint8), cv2.IMREAD_COLOR) is not None
    assert not broadcast.closed  # the live server owns the broadcast
