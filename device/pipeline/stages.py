"""The device pipeline: capture -> prepare -> inference -> decode -> output, a thread each.

    sinks = [BroadcastSink(broadcast, server_options)]  # beside a --record MP4, if any
    pipeline = Pipeline(detector, capture, frames, PipelineOptions(max_frames=200), sinks)
    summary = pipeline.run(stop_event)  # blocks until the source ends, N frames, or stop
    print(summary.line())

Threads are joined by one-slot LatestSlot handoffs: for a live camera a slow stage
drops stale frames (counted) instead of queueing them; a file source is lossless.
The inference threads (inference.py: one interpreter, or several on alternate frames,
results back in frame order) only feed the interpreters: resizing the next frame and
decoding the last one's outputs run beside the invokes, not between two of them. With
`--threads auto` the tuning thread (autotune.py) picks that setting in the first seconds.
The output thread draws and JPEG-encodes a frame only when one of its sinks wants it (a
viewer, a snapshot, the recorder), once, and every viewer shares those bytes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pisight.device.events.event import EventSink
from pisight.device.model.detections import Detections
from pisight.device.model.detector import Detector
from pisight.device.pipeline.autotune import Tuner
from pisight.device.pipeline.capture import CaptureWorker
from pisight.device.pipeline.cores import IO_THREADS
from pisight.device.pipeline.handoff import (
    POLL_S,
    InOrder,
    LatestSlot,
    SlotClosedError,
    put_until_done,
)
from pisight.device.pipeline.inference import InferencePool, InferenceSetting, Prepared
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stats import RunStats, Summary
from pisight.device.pipeline.status import RunStatus
from pisight.device.pipeline.tracking import TrackingStage
from pisight.device.render.frame_sink import FrameSink
from pisight.device.render.renderer import StreamRenderer
from pisight.device.render.sinks import DetectionLog, MetricsLog, Recorder
from pisight.device.sources.frames import Frame
from pisight.device.zones.counting import Counts

log = logging.getLogger("pisight.pipeline")
SHUTDOWN_S = 3.0  # all threads together; SIGTERM must end the process within 5 s


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
        sinks: Sequence[FrameSink] = (),
        event_sinks: Sequence[EventSink] = (),
    ) -> None:
        """sinks: outputs from outside (the live view); the recorder comes from options.
        event_sinks: where events go (the MQTT publisher), with options.events set."""
        self.detector = detector
        self.capture = capture
        self.options = options
        self._frames_in = frame_slot
        self._prepared: LatestSlot[Prepared] = LatestSlot()
        self._results: LatestSlot[_Result] = LatestSlot()
        self._done = threading.Event()
        self.stats = RunStats()
        setting = options.inference or InferenceSetting(detector.options.threads or 1)
        self._pool = InferencePool(
            lambda threads: Detector.load(replace(detector.options, threads=threads)),
            self._prepared, InOrder(), self._done, setting, options.invoke_timeout_s,
            options.cores,
        )  # fmt: skip
        # The workers pin themselves to the inference cores: they are not I/O threads, so
        # moving those onto the spare core must not take the interpreters with them.
        self._pool.guard = lambda target: self._guard(target, io=False)
        self._pool.on_switch = self._place_io_threads
        self.tuner = (
            Tuner(self._pool, self.stats, options.tuning, options.tuning_options, self._done,
                  options.on_tuned)
            if len(options.tuning) > 1
            else None
        )  # fmt: skip
        self._threads: list[threading.Thread] = []
        self._detection_log = (
            DetectionLog(options.detections_jsonl, capture.description)
            if options.detections_jsonl
            else None
        )
        self._metrics_log = (
            MetricsLog(options.metrics_csv, bool(options.tracker), options.zones, options.lines)
            if options.metrics_csv
            else None
        )
        self._recorder = (
            Recorder(options.record_mp4, options.record_fps) if options.record_mp4 else None
        )
        recording = [self._recorder] if self._recorder else []
        self._renderer = StreamRenderer(
            [*recording, *sinks], options.jpeg_quality, options.overlay,
            zones=options.zones, lines=options.lines,
        )  # fmt: skip
        self._tracking = (
            TrackingStage(
                options.tracker, options.zones, options.lines, options.events, event_sinks
            )
            if options.tracker
            else None
        )
        self.error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------

    def run(self, stop: threading.Event) -> Summary:
        """Run until the source ends, max_frames is reached, or stop is set."""
        self.stats.started = time.monotonic()
        self._pool.start(self.detector)
        self._place_io_threads(self._pool.setting)
        for name, target in (
            ("prepare", self._prepare_loop),
            ("decode", self._decode_loop),
            ("output", self._output_loop),
            ("metrics", self._metrics_loop),
        ):
            self._start_thread(name, target)
        if self.tuner:
            self._start_thread("tuning", self.tuner.run)
        while not stop.is_set() and not self._done.is_set():
            stop.wait(POLL_S)
        return self._shutdown()

    def _place_io_threads(self, setting: InferenceSetting) -> None:
        cores = self.options.cores
        if cores is not None:
            IO_THREADS.move(cores.io_cpus(setting.threads * setting.interpreters))

    def _start_thread(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _guard(self, target, io: bool = True):
        def run() -> None:
            if io:
                IO_THREADS.join(threading.current_thread().name)
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
        for slot in (self._frames_in, self._prepared, self._pool.results, self._results):
            slot.close()
        deadline = time.monotonic() + SHUTDOWN_S
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._pool.join(max(0.0, deadline - time.monotonic()))  # abandoned ones stay behind
        if self._tracking:
            self._tracking.close()  # after the decode thread: the last events come last
        summary = self.summary()
        if self._metrics_log:
            self._metrics_log.write(summary.in_status(self.status()), row="summary")
            self._metrics_log.close()
        if self._detection_log:
            self._detection_log.close()
        self._renderer.close()
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
            prepared = Prepared(frame, self.detector.prepare(frame.image))
            if not put_until_done(self._prepared, prepared, lossless, self._done):
                return

    def _decode_loop(self) -> None:
        last_heartbeat = 0.0
        while not self._done.is_set():
            try:
                inferred = self._pool.results.get(timeout=POLL_S)
            except SlotClosedError:
                self._done.set()  # the source ended and every frame was processed
                return
            if inferred is None:
                continue
            frame = inferred.frame
            detections = self.detector.decode(inferred.raw, frame.width, frame.height)
            if self._tracking:
                detections = self._tracking.apply(frame, detections)
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
        if not self._renderer.has_sinks:
            return  # nothing is drawn or encoded: the output stage only marks staleness
        # A recording of a file keeps every frame; live, the output stage may skip some.
        lossless = self._recorder is not None and not self.capture.live
        put_until_done(
            self._results, _Result(frame, detections, inference_ms), lossless, self._done
        )

    def _output_loop(self) -> None:
        while True:
            try:
                result = self._results.get(timeout=POLL_S)
            except SlotClosedError:
                return
            if result is None:  # the same verdict /healthz gives, from the same status
                self._renderer.publish_stale(self.status().stale_reason)
            else:
                frame = result.frame
                self._renderer.render(frame.image, result.detections, self.status, frame.t_capture)

    def _metrics_loop(self) -> None:
        interval = self.options.metrics_interval_s
        next_at = time.monotonic() + interval
        while not self._done.wait(max(0.0, next_at - time.monotonic())):
            next_at += interval
            self._pool.restart_stuck()
            self.stats.sample()
            if self._metrics_log:
                self._metrics_log.write(self.status())

    # -- reporting -------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Frames captured that never reached inference."""
        return self.capture.dropped + self._prepared.dropped

    def counts(self) -> Counts | None:
        """Zone and line counts now (any thread); None without tracking."""
        return self._tracking.counts() if self._tracking else None

    def status(self) -> RunStatus:
        tracking = self._tracking
        counts = tracking.counts() if tracking else None
        return replace(
            self.stats.snapshot(),
            tracks=tracking.active if tracking else None,
            events=tracking.events_started if tracking else None,
            zones=counts.zones if counts else (),
            lines=counts.lines if counts else (),
            dropped_frames=self.dropped,
            source=self.capture.description,
            source_online=self.capture.online,
            runtime=self.detector.runtime,
            inference=self._pool.setting.short,
            inference_restarts=self._pool.restarts,
            source_stalls=self.capture.stalls,
            bad_frames=self.capture.bad_frames,
            stale_after_s=self.options.stale_after_s,
        )

    def summary(self) -> Summary:
        return self.stats.summary(self.dropped)
