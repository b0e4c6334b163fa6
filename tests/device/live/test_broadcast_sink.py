"""BroadcastSink: the live view as a renderer sink, paced by the server's one stream_fps."""

from __future__ import annotations

import time
from dataclasses import fields

import numpy as np

from pisight.device.live.broadcast import BroadcastSink, FrameBroadcast
from pisight.device.live.options import STREAM_FPS, ServerOptions
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.render.frame_sink import AnnotatedFrame

FRAME = AnnotatedFrame(np.zeros((4, 4, 3), np.uint8), b"\xff\xd8jpeg\xff\xd9")


def test_stream_fps_is_one_setting_owned_by_the_live_view() -> None:
    assert ServerOptions().stream_fps == STREAM_FPS
    assert "stream_fps" not in {field.name for field in fields(PipelineOptions)}


def test_wants_frames_only_while_someone_watches() -> None:
    broadcast = FrameBroadcast()
    sink = BroadcastSink(broadcast, ServerOptions())
    assert not sink.wants_frame(stale=False) and not sink.wants_frame(stale=True)
    with broadcast.watching("snapshot"):
        assert sink.wants_frame(stale=False)
    assert not sink.wants_frame(stale=False)


def test_paced_at_the_servers_stream_fps() -> None:
    broadcast = FrameBroadcast()
    sink = BroadcastSink(broadcast, ServerOptions(stream_fps=2.0))
    with broadcast.watching():
        sink.write(FRAME)
        assert broadcast.latest() == (1, FRAME.jpeg)
        assert not sink.wants_frame(stale=False)  # the server would not send it yet
        assert sink.wants_frame(stale=True)  # a stale marker goes out at once
        time.sleep(0.55)
        assert sink.wants_frame(stale=False)


def test_publishes_nothing_without_a_jpeg_and_leaves_the_broadcast_open() -> None:
    broadcast = FrameBroadcast()
    sink = BroadcastSink(broadcast, ServerOptions())
    sink.write(AnnotatedFrame(FRAME.image))  # encoding failed
    sink.close()
    assert broadcast.latest() is None and not broadcast.closed
