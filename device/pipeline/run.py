"""`pisight run`: the device runtime.

    pisight run --model models/demo/bundle --source picamera --listen 0.0.0.0:8080 --auth-file a
    pisight run --model ssd.tflite --labels coco.txt --source clip.mp4 --frames 300 --log m.csv
    pisight run --config /etc/pisight/pisight.toml --threshold 0.6     # the flag wins
    pisight run --config /etc/pisight/pisight.toml --check-config      # validate, exit

Open http://HOST:PORT/ for the live annotated stream. Ends with exit 0 at --frames N,
at the end of a file (unless --loop), on SIGINT or SIGTERM, and prints one summary line.
Every flag but --config, --check-config, --auth, --mqtt and --frames is also a key of the TOML
file (config/keys.py; scripts/pisight.toml is the annotated example).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pisight.device.config.keys import FLAG_KEYS, arg_type
from pisight.device.config.keys import input_range as input_range  # pisight convert uses it
from pisight.device.config.load import Config, load_config
from pisight.device.config.merge import AUTH_ENV, Settings, credentials, merge, validate
from pisight.device.config.mqtt import mqtt_options
from pisight.device.events.event import EventSink
from pisight.device.events.media import EventMedia, MediaOptions
from pisight.device.events.mqtt_options import PASSWORD_ENV, MqttOptions
from pisight.device.live.broadcast import BroadcastSink, FrameBroadcast
from pisight.device.live.options import ServerOptions, check_exposure, parse_listen
from pisight.device.live.server import LiveServer
from pisight.device.model.bundle import locate_model
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.labels import PLACEHOLDER
from pisight.device.model.probe import check_model
from pisight.device.pipeline.capture import CaptureWorker
from pisight.device.pipeline.cores import IO_THREADS
from pisight.device.pipeline.event_plan import event_options, make_publisher, media_options
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.inference_plan import first_threads, forced_setting, plan_inference
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.pipeline.stats import Summary
from pisight.device.pipeline.status import RunStatus
from pisight.device.pipeline.systemd import systemd_hooks
from pisight.device.render.frame_sink import FrameSink
from pisight.device.sources.base import FrameSource
from pisight.device.sources.files import open_source
from pisight.device.track.tracks import TrackerOptions

log = logging.getLogger("pisight.run")


def default_source() -> str:
    """The Pi camera when picamera2 is importable, else the first webcam."""
    return "picamera" if importlib.util.find_spec("picamera2") else "0"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--config",
        type=Path,
        default=None,
        help="TOML settings file (scripts/pisight.toml documents it); flags override it",
    )
    add("--check-config", action="store_true",
        help="check --config and the flags, print FILE: ok, exit; loads no model")  # fmt: skip
    # Every flag defaults to None, so a flag the user did not give leaves the file's value.
    for key in FLAG_KEYS:
        if key.kind == "bool":
            add(key.flag, action=argparse.BooleanOptionalAction, default=None, help=key.help)
        else:
            add(key.flag, type=arg_type(key), default=None, help=key.help,
                choices=list(key.choices) or None)  # fmt: skip
    add(
        "--auth",
        default=None,
        help=f"USER:PASS for the live view (visible in ps: prefer --auth-file or ${AUTH_ENV})",
    )
    add("--mqtt", default=None, metavar="URL",
        help="publish events to mqtt://[USER@]HOST[:PORT] (mqtts:// for TLS), over [mqtt] of "
        f"the file; the password from [mqtt] password_file or ${PASSWORD_ENV}")  # fmt: skip
    add("--frames", type=int, default=None, help="stop after N processed frames")


@dataclass(frozen=True)
class SourceArgs:
    spec: str
    loop: bool
    width: int | None
    height: int | None
    realtime: bool

    def open(self) -> FrameSource:
        return open_source(self.spec, loop=self.loop, width=self.width, height=self.height,
                           realtime=self.realtime)  # fmt: skip


@dataclass(frozen=True)
class RunPlan:
    """Everything a run needs, built and checked before any model loads."""

    detector: DetectorOptions
    pipeline: PipelineOptions
    """Without hooks and cores: execute adds those."""
    server: ServerOptions | None
    source: SourceArgs
    probe: bool
    config: Config | None
    mqtt: MqttOptions | None = None
    media: MediaOptions | None = None
    forced: InferenceSetting | None = None
    """--threads N / --interpreters K; None: --threads auto."""


def detector_options(s: Settings) -> DetectorOptions:
    return DetectorOptions(
        model=s.model, labels=s.labels, runtime=s.runtime,
        threads=first_threads(forced_setting(s.threads, s.interpreters)),
        score_threshold=s.threshold, max_detections=s.max_detections, classes=s.classes,
        top_k=s.top_k, input_range=s.input_range,
    )  # fmt: skip


def server_options(s: Settings, title: str) -> ServerOptions:
    host, port = parse_listen(s.listen)
    auth = credentials(s)
    try:
        check_exposure(host, auth, s.insecure)
    except ValueError:
        fix = (f"set [live] auth_file or ${AUTH_ENV}, or insecure = true"
               if s.origin["listen"] == "file" else
               f"give --auth-file FILE holding USER:PASS (or --auth), set ${AUTH_ENV}, "
               "or add --insecure")  # fmt: skip
        raise s.error("listen", f"refusing to serve on {host} without a password; {fix}") from None
    return ServerOptions(host=host, port=port, auth=auth, title=title)


def settings_from(args: argparse.Namespace) -> Settings:
    """The flags over --config's file, checked; ConfigError / ValueError on bad input."""
    config = load_config(args.config) if args.config else None
    settings = merge(args, config)
    validate(settings)
    return settings


def plan(args: argparse.Namespace) -> RunPlan:
    """Build every option of the run from flags and file; loads no model, opens nothing."""
    s = settings_from(args)
    tracker = (
        TrackerOptions(
            min_hits=s.min_hits, max_misses=s.max_misses, match_iou=s.match_iou, max_jump=s.max_jump
        )
        if s.track
        else None
    )
    mqtt = mqtt_options(s)
    media = media_options(s)
    pipeline = PipelineOptions(
        max_frames=s.frames, detections_jsonl=s.detections, metrics_csv=s.log,
        record_mp4=s.record, jpeg_quality=s.jpeg_quality, overlay=s.overlay,
        tracker=tracker, zones=s.zones, lines=s.lines, events=event_options(s, mqtt, media),
    )  # fmt: skip
    title = f"pisight · {Path(s.model).name}"
    server = server_options(s, title) if s.serve else None
    source = SourceArgs(s.source or default_source(), s.loop, s.width, s.height, s.realtime)
    forced = forced_setting(s.threads, s.interpreters)
    return RunPlan(detector_options(s), pipeline, server, source, s.probe, s.config, mqtt, media,
                   forced)  # fmt: skip


def main(args: argparse.Namespace, hooks: dict[str, Any] | None = None) -> int:
    """hooks: optional on_first_frame / on_heartbeat callables; by default the systemd
    READY/WATCHDOG notifications when started by a Type=notify unit ($NOTIFY_SOCKET)."""
    if args.check_config:
        checked = plan(args)
        zones, lines = checked.pipeline.zones, checked.pipeline.lines
        print(f"{args.config}: ok ({len(zones)} zones, {len(lines)} lines)", flush=True)
        return 0
    summary = execute(args, systemd_hooks() if hooks is None else hooks)
    print(summary.line(), flush=True)
    return 0


def execute(args: argparse.Namespace, hooks: dict[str, Any] | None = None) -> Summary:
    """Run the device pipeline until it ends; returns its summary."""
    run = plan(args)
    hooks = hooks or {}
    # Installed first, so a SIGTERM while the model loads still ends with exit 0: the
    # pipeline then starts with stop already set and returns at once.
    stop = threading.Event()
    _install_signal_handlers(stop)
    # The inference thread holds the GIL only for microseconds between invokes; a short
    # switch interval lets it take the GIL back at once from the stream and log threads.
    sys.setswitchinterval(0.0005)
    if run.probe:
        check_model(locate_model(run.detector.model, run.detector.labels).model,
                    run.detector.runtime)  # fmt: skip
    detector = Detector.load(run.detector)
    _check_class_names(detector, run)
    inference = plan_inference(run.forced, detector, run.pipeline.max_frames)
    cores = inference.cores
    IO_THREADS.join("pisight")  # capture, pipeline and server threads inherit its cores
    if cores:
        IO_THREADS.move(cores.io)
    model = Path(run.detector.model).name
    serve = run.server
    # Before the capture starts: an unusable spool file stops the run with nothing open.
    publisher = None
    if run.mqtt is not None and run.pipeline.events is not None:
        publisher = make_publisher(run.mqtt, run.pipeline, run.media, detector.labels, model)
    on_snapshot = publisher.publish_snapshot if publisher else None
    media = EventMedia(run.media, on_snapshot) if run.media and run.media.enabled else None
    frames = LatestSlot()
    capture = CaptureWorker(run.source.open, frames)
    capture.start()
    options = replace(
        run.pipeline, on_first_frame=hooks.get("on_first_frame"),
        on_heartbeat=hooks.get("on_heartbeat"), cores=cores, inference=inference.setting,
        tuning=inference.tuning, on_tuned=inference.on_tuned,
    )  # fmt: skip
    broadcast = FrameBroadcast()
    # One ServerOptions paces both the encoder (the sink) and each viewer (the server).
    sinks: list[FrameSink] = [BroadcastSink(broadcast, serve)] if serve else []
    event_sinks: list[EventSink] = [publisher] if publisher else []
    if media:
        sinks.append(media)
        event_sinks.append(media)
    pipeline = Pipeline(detector, capture, frames, options, sinks, event_sinks)

    def status() -> RunStatus:
        readings = publisher.readings() if publisher else {}
        return replace(pipeline.status(), model=model, **readings)

    server = None
    try:
        if publisher:
            publisher.watch_counts(pipeline.counts)
            publisher.start()
        if media:
            media.start()  # the pipeline closes it with its other frame sinks
        if serve:
            server = LiveServer(serve, broadcast, status, media.archive if media else None)
            server.start()
            host, port = server.address
            log.info("live view on http://%s:%d/", host if ":" not in host else f"[{host}]", port)
        summary = pipeline.run(stop)
    finally:
        capture.stop()
        if server:
            server.stop()
        if publisher:
            publisher.close()  # after the pipeline: its last events are in the inbox
    if pipeline.error is not None:
        raise RuntimeError(f"the pipeline stopped: {pipeline.error}")
    return summary


def _check_class_names(detector: Detector, run: RunPlan) -> None:
    """A class the model does not know would silently count or keep nothing: refuse it."""
    known = {name for name in detector.labels.names if name != PLACEHOLDER}
    wanted = [("--classes", name) for name in run.detector.classes]
    if run.pipeline.events is not None:
        wanted += [("--event-classes", name) for name in run.pipeline.events.classes]
    for kind, places in (("zone", run.pipeline.zones), ("line", run.pipeline.lines)):
        wanted += [(f"{kind} {place.name!r}", name) for place in places for name in place.classes]
    for where, name in wanted:
        if name not in known:
            shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
            raise ValueError(f"{where}: the model has no class {name!r}; its classes: {shown}")


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGINT and SIGTERM end the run cleanly: files flushed, port released, exit 0."""
    if threading.current_thread() is not threading.main_thread():
        return  # tests run main() in a thread; signals only reach the main thread

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
