"""A real pipeline over a real video, in this process: what the inference tests share."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.pipeline.capture import CaptureWorker
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.pipeline.stats import Summary
from pisight.device.sources.files import open_source


def run_pipeline(
    model: Path, video: Path, options: PipelineOptions, log: Path, loop: bool = False,
    beside: Callable[[Pipeline, threading.Event], None] | None = None,
) -> tuple[Pipeline, Summary, list[int]]:  # fmt: skip
    """Run to the end, or until `beside(pipeline, stop)` (run in a thread meanwhile) sets
    stop; returns the pipeline, its summary and the frame numbers of the detections log,
    in the order they were written."""
    threads = options.inference.threads if options.inference else 1
    detector = Detector.load(DetectorOptions(model, threads=threads))
    slot: LatestSlot = LatestSlot()
    capture = CaptureWorker(lambda: open_source(str(video), loop=loop), slot)
    capture.start()
    pipeline = Pipeline(detector, capture, slot, replace(options, detections_jsonl=log))
    stop = threading.Event()
    if beside:
        threading.Thread(target=beside, args=(pipeline, stop), daemon=True).start()
    try:
        summary = pipeline.run(stop)
    finally:
        capture.stop()
    frames = [json.loads(line)["frame"] for line in log.read_text().splitlines()]
    return pipeline, summary, frames
