"""`pisight run`: the device runtime.

    pisight run --model models/demo/bundle --source picamera --listen 0.0.0.0:8080 --auth me:secret
    pisight run --model ssd.tflite --labels coco.txt --source clip.mp4 --frames 300 --log m.csv

Open http://HOST:PORT/ for the live annotated stream. Ends with exit 0 at --frames N,
at the end of a file (unless --loop), on SIGINT or SIGTERM, and prints one summary line.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from pisight.device.live.broadcast import BroadcastSink, FrameBroadcast
from pisight.device.live.options import ServerOptions, check_exposure, parse_auth, parse_listen
from pisight.device.live.server import LiveServer
from pisight.device.model.bundle import locate_model
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.probe import check_model
from pisight.device.model.runtime import RUNTIMES, default_threads
from pisight.device.pipeline.capture import CaptureWorker
from pisight.device.pipeline.cores import pin_current_thread, plan_cores
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.pipeline.stats import Summary
from pisight.device.pipeline.systemd import systemd_hooks
from pisight.device.sources.files import open_source

log = logging.getLogger("pisight.run")


def default_source() -> str:
    """The Pi camera when picamera2 is importable, else the first webcam."""
    return "picamera" if importlib.util.find_spec("picamera2") else "0"


def input_range(value: str) -> tuple[float, float]:
    """argparse type for --input-range LOW,HIGH (also used by pisight convert)."""
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "--input-range takes LOW,HIGH such as -1,1 or 0,1"
        ) from None
    if high <= low:
        raise argparse.ArgumentTypeError("--input-range needs LOW < HIGH")
    return low, high


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--model", required=True, help="bundle directory or .tflite file")
    add("--labels", default=None, help="label file (a bundle brings its own)")
    add(
        "--source",
        default=None,
        help="picamera, 0, /dev/video0, FILE, DIR or rtsp://... (default: picamera, else 0)",
    )
    add("--loop", action="store_true", help="replay a video file or image directory forever")
    add(
        "--realtime",
        action="store_true",
        help="play files at their own frame rate instead of as fast as inference runs",
    )
    add("--width", type=int, default=None, help="camera capture width")
    add("--height", type=int, default=None, help="camera capture height")
    add("--threshold", type=float, default=None, help="minimum score (default 0.5; classifiers 0)")
    add("--max-detections", type=int, default=100, help="keep at most N detections per frame")
    add("--classes", default="", help="comma-separated labels to keep, e.g. person,car")
    add("--top-k", type=int, default=3, help="classifiers: report the k best classes")
    add(
        "--input-range",
        type=input_range,
        default=(-1.0, 1.0),
        help="float models without pisight.json: -1,1 or 0,1",
    )
    add(
        "--threads",
        type=int,
        default=default_threads(),
        help="interpreter threads (default: all cores but one, %(default)s here)",
    )
    add("--runtime", choices=list(RUNTIMES), default=None, help="force an interpreter runtime")
    add(
        "--no-probe",
        action="store_true",
        help="trusted model: skip loading it in a sandboxed child process first",
    )
    add(
        "--listen",
        default="127.0.0.1:8080",
        help="HOST:PORT of the live view (default 127.0.0.1:8080)",
    )
    add("--auth", default=None, help="USER:PASS for HTTP Basic auth on the live view")
    add("--insecure", action="store_true", help="allow a non-loopback --listen without --auth")
    add("--no-serve", action="store_true", help="no live view at all")
    add("--log", type=Path, default=None, help="per-second metrics CSV")
    add("--detections", type=Path, default=None, help="per-frame detections JSONL")
    add("--record", type=Path, default=None, help="write the annotated video to this MP4")
    add("--frames", type=int, default=None, help="stop after N processed frames")
    add("--no-overlay", action="store_true", help="do not draw the metrics line on the stream")
    add("--jpeg-quality", type=int, default=80, help="stream JPEG quality 1-100")  # fmt: skip


def detector_options(args: argparse.Namespace) -> DetectorOptions:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    classes = tuple(c.strip() for c in args.classes.split(",") if c.strip())
    return DetectorOptions(
        model=args.model, labels=args.labels, runtime=args.runtime, threads=args.threads,
        score_threshold=args.threshold, max_detections=args.max_detections, classes=classes,
        top_k=args.top_k, input_range=args.input_range,
    )  # fmt: skip


def server_options(args: argparse.Namespace, title: str) -> ServerOptions:
    host, port = parse_listen(args.listen)
    auth = parse_auth(args.auth) if args.auth else None
    check_exposure(host, auth, args.insecure)
    return ServerOptions(host=host, port=port, auth=auth, title=title)


def _validate(args: argparse.Namespace) -> None:
    if args.threads < 1:
        raise ValueError("--threads must be at least 1")
    if args.frames is not None and args.frames < 1:
        raise ValueError("--frames must be at least 1")
    if not 1 <= args.jpeg_quality <= 100:
        raise ValueError("--jpeg-quality must be between 1 and 100")
    for path in (args.log, args.detections, args.record):
        if path is not None and path.is_dir():
            raise ValueError(f"{path} is a directory; give a file name")


def main(args: argparse.Namespace, hooks: dict[str, Any] | None = None) -> int:
    """hooks: optional on_first_frame / on_heartbeat callables; by default the systemd
    READY/WATCHDOG notifications when started by a Type=notify unit ($NOTIFY_SOCKET)."""
    summary = execute(args, systemd_hooks() if hooks is None else hooks)
    print(summary.line(), flush=True)
    return 0


def execute(args: argparse.Namespace, hooks: dict[str, Any] | None = None) -> Summary:
    """Run the device pipeline until it ends; returns its summary."""
    _validate(args)
    hooks = hooks or {}
    # Installed first, so a SIGTERM while the model loads still ends with exit 0: the
    # pipeline then starts with stop already set and returns at once.
    stop = threading.Event()
    _install_signal_handlers(stop)
    # The inference thread holds the GIL only for microseconds between invokes; a short
    # switch interval lets it take the GIL back at once from the stream and log threads.
    sys.setswitchinterval(0.0005)
    if not args.no_probe:
        check_model(locate_model(args.model, args.labels).model, args.runtime)
    detector = Detector.load(detector_options(args))
    cores = plan_cores(args.threads)
    if cores:
        pin_current_thread(cores.io)  # capture, pipeline and server threads inherit it
    model = Path(args.model).name
    serve = None if args.no_serve else server_options(args, f"pisight · {model}")
    spec = args.source or default_source()
    frames = LatestSlot()

    def open_spec():
        return open_source(
            spec, loop=args.loop, width=args.width, height=args.height, realtime=args.realtime
        )

    capture = CaptureWorker(open_spec, frames)
    capture.start()
    options = PipelineOptions(
        max_frames=args.frames, detections_jsonl=args.detections, metrics_csv=args.log,
        record_mp4=args.record, jpeg_quality=args.jpeg_quality, overlay=not args.no_overlay,
        on_first_frame=hooks.get("on_first_frame"), on_heartbeat=hooks.get("on_heartbeat"),
        inference_cores=cores.inference if cores else None,
    )  # fmt: skip
    broadcast = FrameBroadcast()
    # One ServerOptions paces both the encoder (the sink) and each viewer (the server).
    sinks = [BroadcastSink(broadcast, serve)] if serve else []
    pipeline = Pipeline(detector, capture, frames, options, sinks)
    server = None
    try:
        if serve:
            server = LiveServer(serve, broadcast, lambda: replace(pipeline.status(), model=model))
            server.start()
            host, port = server.address
            log.info("live view on http://%s:%d/", host if ":" not in host else f"[{host}]", port)
        summary = pipeline.run(stop)
    finally:
        capture.stop()
        if server:
            server.stop()
    if pipeline.error is not None:
        raise RuntimeError(f"the pipeline stopped: {pipeline.error}")
    return summary


def _install_signal_handlers(stop: threading.Event) -> None:
    """SIGINT and SIGTERM end the run cleanly: files flushed, port released, exit 0."""
    if threading.current_thread() is not threading.main_thread():
        return  # tests run main() in a thread; signals only reach the main thread

    def handle(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
