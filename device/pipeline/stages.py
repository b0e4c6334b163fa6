"""The device pipeline: capture -> prepare -> inference -> decode -> output, a thread each.

    pipeline = Pipeline(detector, capture, PipelineOptions(max_frames=200), broadcast)
    summary = pipeline.run(stop_event)      # blocks until the source ends, N frames, or stop
    print(summary.line())

Threads are joined by one-slot LatestSlot handoffs: for a live camera a slow stage
drops stale frames (counted) instead of queueing them; a file source is lossless.
The inference thread only feeds the interpreter: resizing the next frame and decoding
the last one's outputs run beside the invoke, not between two invokes.
The output thread draws and JPEG-encodes a frame only when someone consumes it (a
viewer, a snapshot, the recorder), once, and every viewer shares those bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.model.detector import Detector, RawOutputs
from pisight.device.pipeline.capture import CaptureWorker
from pisight.device.pipeline.cores import pin_current_thread
from pisight.device.pipeline.handoff import LatestSlot, SlotClosedError
from pisight.device.pipeline.stats import RunStats, Summary
from pisight.device.pipeline.watchdog import InvokeWatchdog
from pisight.device.render.renderer import Broadcast, StreamRenderer
from pisight.device.render.sinks import DetectionLog, MetricsLog, Recorder
from pisight.device.sources.frames import Frame

log = logging.getLogger("pisight.pipeline")
POLL_S = 0.2  # every blocking wait wakes this often to notice a stop
SHUTDOWN_S = 3.0  # all threads together; SIGTERM must end the process within 5 s


@dataclass(frozen=True)
class PipelineOptions:
    max_frames: int | None = None
    """Stop after this many processed frames."""
    detections_jsonl: Path | None = None
    metrics_csv: Path | None = None
    record_mp4: Path | None = None
    record_fps: float = 15.0
    jpeg_quality: int = 80
    stream_fps: float = 30.0
    """Most frames per second encoded for viewers; a browser needs no more."""
    overlay: bool = True
    """Draw the FPS/CPU/memory line on the stream."""
    metrics_interval_s: float = 1.0
    on_first_frame: Any = None
    """Called once after the first processed frame (systemd READY, launch timing)."""
    on_heartbeat: Any = None
    """Called from the decode loop at most once a second (systemd watchdog)."""
    inference_cores: frozenset[int] | None = None
    """Pin the inference thread to these cores (see cores.py); None leaves it free."""
    invoke_timeout_s: float = 10.0
    """An invoke running longer is abandoned and inference restarts on a new interpreter."""
    stale_after_s: float = 2.0
    """No new result for this long: viewers get the last picture marked stale, once a second."""


@dataclass
class _Prepared:
    frame: Frame
    tensor: np.ndarray


@dataclass
class _Inferred:
    frame: Frame
    raw: RawOutputs


@dataclass
class _Result:
    frame: Frame
    detections: Detections
    inference_ms: float


class Pipeline:
    def __init__(
        self,
        detector: Detector,
        capture: CaptureWorker,
        frame_slot: LatestSlot[Frame],
        options: PipelineOptions,
        broadcast: Broadcast | None = None,
    ) -> None:
        self.detector = detector
        self.capture = capture
        self.options = options
        self.broadcast = broadcast
        self._frames_in = frame_slot
        self._prepared: LatestSlot[_Prepared] = LatestSlot()
        self._inferred: LatestSlot[_Inferred] = LatestSlot()
        self._results: LatestSlot[_Result] = LatestSlot()
        self._done = threading.Event()
        self.stats = RunStats()
        self._threads: list[threading.Thread] = []
        self._detection_log = (
            DetectionLog(options.detections_jsonl, capture.description)
            if options.detections_jsonl
            else None
        )
        self._metrics_log = MetricsLog(options.metrics_csv) if options.metrics_csv else None
        self._recorder = (
            Recorder(options.record_mp4, options.record_fps) if options.record_mp4 else None
        )
        self._renderer = StreamRenderer(
            broadcast, self._recorder, options.jpeg_quality, options.stream_fps, options.overlay
        )
        self._watchdog = InvokeWatchdog(options.invoke_timeout_s)
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> Summary:
        """Run until the source ends, max_frames is reached, or stop is set."""
        self.stats.started = time.monotonic()
        for name, target in (
            ("prepare", self._prepare_loop),
            ("inference", lambda: self._inference_loop(self._watchdog.generation)),
            ("decode", self._decode_loop),
            ("output", self._output_loop),
            ("metrics", self._metrics_loop),
        ):
            self._start_thread(name, target)
        while not stop.is_set() and not self._done.is_set():
            stop.wait(POLL_S)
        return self._shutdown()

    def _start_thread(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guard(self, target):
        def run() -> None:
            try:
                target()
            except BaseException as exc:  # a worker died: end the run, report why
                self.error = exc
                log.exception("the %s thread failed", threading.current_thread().name)
                self._done.set()

        return run

    def _shutdown(self) -> Summary:
        self._done.set()
        self.capture.stop()
        for slot in (self._frames_in, self._prepared, self._inferred, self._results):
            slot.close()
        deadline = time.monotonic() + SHUTDOWN_S
        for thread in self._threads:  # an abandoned inference thread is not waited for
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        summary = self.summary()
        if self._metrics_log:
            self._metrics_log.write({**self.status(), **summary.values}, row="summary")
            self._metrics_log.close()
        if self._detection_log:
            self._detection_log.close()
        if self._recorder:
            self._recorder.close()
        return summary

    # -- stages ----------------------------------------------------------------------

    def _prepare_loop(self) -> None:
        lossless = not self.capture.live
        while not self._done.is_set():
            try:
                frame = self._frames_in.get(timeout=POLL_S)
            except SlotClosedError:  # the source ended: pass the end on after the last frame
                self._prepared.close()
                return
            if frame is None:
                continue
            prepared = _Prepared(frame, self.detector.prepare(frame.image))
            if not _put_until_done(self._prepared, prepared, lossless, self._done):
                return

    def _inference_loop(self, generation: int) -> None:
        if self.options.inference_cores:
            pin_current_thread(self.options.inference_cores)
        detector = self.detector
        while not self._done.is_set() and self._watchdog.current(generation):
            try:
                prepared = self._prepared.get(timeout=POLL_S)
            except SlotClosedError:  # the source ended: pass it on after the last frame
                self._inferred.close()
                return
            if prepared is None:
                continue
            self._watchdog.begin()
            raw = detector.infer(prepared.tensor)
            if not self._watchdog.end(generation):
                return  # abandoned while stuck; a fresh thread has taken over
            inferred = _Inferred(prepared.frame, raw)
            # Lossless: decoding takes a fraction of an invoke, so this never waits long.
            if not _put_until_done(self._inferred, inferred, True, self._done):
                return

    def _decode_loop(self) -> None:
        last_heartbeat = 0.0
        while not self._done.is_set():
            try:
                inferred = self._inferred.get(timeout=POLL_S)
            except SlotClosedError:
                self._done.set()  # the source ended and every frame was processed
                return
            if inferred is None:
                continue
            frame = inferred.frame
            detections = self.detector.decode(inferred.raw, frame.width, frame.height)
            self._record_inference(frame, detections, inferred.raw.inference_ms)
            now = time.monotonic()
            if self.options.on_heartbeat and now - last_heartbeat >= 1.0:
                last_heartbeat = now
                self.options.on_heartbeat()
            if self.options.max_frames and self.stats.frames >= self.options.max_frames:
                self._done.set()

    def _record_inference(self, frame: Frame, detections: Detections, inference_ms: float) -> None:
        first = self.stats.record(inference_ms)
        if self._detection_log:
            self._detection_log.write(frame, detections, inference_ms)
        if first and self.options.on_first_frame:
            self.options.on_first_frame()
        # A recording of a file keeps every frame; live, the output stage may skip some.
        lossless = self._recorder is not None and not self.capture.live
        _put_until_done(
            self._results, _Result(frame, detections, inference_ms), lossless, self._done
        )

    def _restart_stuck_inference(self) -> None:
        """Replace an inference thread stuck in invoke with a fresh one on a new interpreter."""
        if not self._watchdog.stuck():
            return
        log.warning(
            "invoke ran over %g s; restarting inference on a new interpreter",
            self._watchdog.timeout_s,
        )
        try:
            detector = Detector.load(self.detector.options)
        except Exception as exc:  # keep the stream (stale) up; try again next tick
            log.warning("reloading the model failed: %s", exc)
            return
        self.detector = detector
        generation = self._watchdog.restart()
        self._threads = [t for t in self._threads if t.name != "inference"]
        self._start_thread("inference", lambda: self._inference_loop(generation))

    def _stale_reason(self) -> str | None:
        if not self.capture.online:
            return "source offline"
        age = self.stats.last_frame_age_s
        if age is not None and age > self.options.stale_after_s:
            return "inference stalled"
        return None

    def _output_loop(self) -> None:
        while True:
            try:
                result = self._results.get(timeout=POLL_S)
            except SlotClosedError:
                return
            if result is None:
                self._renderer.publish_stale(self._stale_reason())
            else:
                self._renderer.render(result.frame.image, result.detections, self.status())

    def _metrics_loop(self) -> None:
        interval = self.options.metrics_interval_s
        next_at = time.monotonic() + interval
        while not self._done.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            self._restart_stuck_inference()
            self.stats.sample()
            if self._metrics_log:
                self._metrics_log.write(self.status())

    # -- reporting -------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Frames captured that never reached inference."""
        return self.capture.dropped + self._prepared.dropped

    def status(self) -> dict[str, Any]:
        return {
            **self.stats.snapshot(),
            "dropped_frames": self.dropped,
            "source": self.capture.description,
            "source_online": self.capture.online,
            "runtime": self.detector.runtime,
            "inference_restarts": self._watchdog.restarts,
            "source_stalls": self.capture.stalls,
            "bad_frames": self.capture.bad_frames,
        }

    def summary(self) -> Summary:
        return self.stats.summary(self.dropped)


def _put_until_done(slot: LatestSlot, value: Any, lossless: bool, done: threading.Event) -> bool:
    """Hand value on (waiting for the consumer when lossless); False once the run ends."""
    try:
        while not slot.put(value, wait=lossless, timeout=POLL_S):
            if done.is_set():
                return False
    except SlotClosedError:
        return False
    return True
