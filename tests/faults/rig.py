"""A live pipeline for fault tests: a real tiny model, a test-only paced camera, a real server.

    camera = PacedCamera(fps=60)
    rig = start_rig(model, camera, throttle_s=0.2)   # ~5 fps inference
    ...  rig.url("/healthz"), rig.pipeline.status(), camera.stalled.set()
    rig.close()

Run as `python -m tests.faults.rig MODEL SECONDS` it is the memory soak: a 60 fps camera
into ~5 fps inference with one viewer, printing one JSON line of RSS samples and drops.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from pisight.device.live.broadcast import BroadcastSink, FrameBroadcast
from pisight.device.live.options import ServerOptions
from pisight.device.live.server import LiveServer
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.pipeline.capture import CaptureOptions, CaptureWorker
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.sources.base import SourceError
from pisight.device.sources.testpattern import render_frame


class PacedCamera:
    """A live camera at a fixed rate; while `stalled` is set a read hangs, as a USB camera
    whose link froze does, until the source is closed."""

    def __init__(self, fps: float = 60.0, bad_every: int = 0) -> None:
        self.fps = fps
        self.bad_every = bad_every  # every Nth frame float32: a bad frame to drop and count
        self.stalled = threading.Event()
        self.opens = 0

    def open(self) -> PacedSource:
        self.opens += 1
        return PacedSource(self)


class PacedSource:
    live = True
    description = "test:paced"

    def __init__(self, camera: PacedCamera) -> None:
        self.camera = camera
        self.closed = threading.Event()
        self.index = 0
        self.next_at = time.monotonic()

    def read(self) -> np.ndarray | None:
        while self.camera.stalled.is_set():
            if self.closed.wait(0.05):
                raise SourceError("closed while stalled")
        if self.closed.is_set():
            raise SourceError("closed")
        self.next_at = max(self.next_at + 1.0 / self.camera.fps, time.monotonic())
        time.sleep(max(0.0, self.next_at - time.monotonic()))
        self.index += 1
        image = render_frame(self.index, 320, 240)
        if self.camera.bad_every and self.index % self.camera.bad_every == 0:
            return image.astype(np.float32)
        return image

    def close(self) -> None:
        self.closed.set()


class ThrottledInterpreter:
    """The real interpreter, each invoke stretched to period_s; hang blocks invokes."""

    def __init__(self, inner: Any, period_s: float = 0.0) -> None:
        self.inner = inner
        self.period_s = period_s
        self.hang = threading.Event()
        self.hung = threading.Event()

    def invoke(self) -> None:
        start = time.monotonic()
        if self.hang.is_set():
            self.hung.set()
            threading.Event().wait(3600)  # an invoke that never returns
        self.inner.invoke()
        time.sleep(max(0.0, self.period_s - (time.monotonic() - start)))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@dataclass
class Rig:
    pipeline: Pipeline
    capture: CaptureWorker
    server: LiveServer
    interpreter: ThrottledInterpreter
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        host, port = self.server.address
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(10)
        self.server.stop()
        self.capture.stop()


def start_rig(
    model: Path,
    camera: PacedCamera,
    throttle_s: float = 0.0,
    capture: CaptureOptions | None = None,
    pipeline: PipelineOptions | None = None,
    server: ServerOptions | None = None,
) -> Rig:
    detector = Detector.load(DetectorOptions(model=model, threads=1))
    interpreter = ThrottledInterpreter(detector.interpreter, throttle_s)
    detector.interpreter = interpreter
    slot: LatestSlot = LatestSlot()
    worker = CaptureWorker(camera.open, slot, capture or CaptureOptions())
    worker.start()
    broadcast = FrameBroadcast()
    server = server or ServerOptions(port=0)
    sinks = [BroadcastSink(broadcast, server)]
    running = Pipeline(detector, worker, slot, pipeline or PipelineOptions(), sinks)
    live = LiveServer(server, broadcast, running.status)
    live.start()
    rig = Rig(running, worker, live, interpreter)
    rig.thread = threading.Thread(target=running.run, args=(rig.stop,), daemon=True)
    rig.thread.start()
    return rig


def _view(url: str, stop: threading.Event) -> None:
    with urllib.request.urlopen(url, timeout=10) as response:
        while not stop.is_set() and response.read(65536):
            pass


def soak(model: Path, seconds: float) -> dict[str, Any]:
    """RSS once a second for `seconds` of a 60 fps camera into ~5 fps inference."""
    rig = start_rig(model, PacedCamera(fps=60.0, bad_every=50), throttle_s=0.2)
    viewer = threading.Thread(target=_view, args=(rig.url("/stream.mjpg"), rig.stop), daemon=True)
    viewer.start()
    process = psutil.Process()
    samples = []
    for _ in range(int(seconds)):
        time.sleep(1.0)
        samples.append(process.memory_info().rss)
    status = rig.pipeline.status()
    rig.close()
    return {
        "rss": samples,
        "frames": status.frames,
        "dropped_frames": status.dropped_frames,
        "bad_frames": status.bad_frames,
    }


if __name__ == "__main__":
    print(json.dumps(soak(Path(sys.argv[1]), float(sys.argv[2]))), flush=True)
