"""What a pipeline run does besides detecting: PipelineOptions, built by `pisight run`.

    options = PipelineOptions(max_frames=300, metrics_csv=Path("m.csv"), overlay=False)
    options = PipelineOptions(tracker=TrackerOptions(), zones=(door,), lines=(street,))
    Pipeline(detector, capture, frames, options, sinks)

How often viewers get a frame is the live view's setting (ServerOptions.stream_fps), so
the encoder and the server cannot disagree about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pisight.device.events.event import EventOptions
from pisight.device.pipeline.autotune import TUNING, TuningOptions
from pisight.device.pipeline.cores import CorePlan
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.staleness import INVOKE_TIMEOUT_S, STALE_AFTER_S
from pisight.device.track.tracks import TrackerOptions
from pisight.device.zones.geometry import Line, Zone


@dataclass(frozen=True)
class PipelineOptions:
    max_frames: int | None = None
    """Stop after this many processed frames."""
    detections_jsonl: Path | None = None
    """Write one JSON line per processed frame here."""
    metrics_csv: Path | None = None
    """Write one CSV row a second, and a summary row at the end, here."""
    record_mp4: Path | None = None
    """Record the annotated stream to this MP4."""
    record_fps: float = 15.0
    """Frame rate written into the MP4's header."""
    jpeg_quality: int = 80
    """JPEG quality (1-100) of the frames the live view gets."""
    overlay: bool = True
    """Draw the FPS/CPU/memory line on the stream."""
    metrics_interval_s: float = 1.0
    """How often the metrics thread samples the system and writes a CSV row."""
    on_first_frame: Any = None
    """Called once after the first processed frame (systemd READY, launch timing)."""
    on_heartbeat: Any = None
    """Called from the decode loop at most once a second (systemd watchdog)."""
    cores: CorePlan | None = None
    """Pin the inference threads to plan.inference while the setting leaves the I/O core
    spare (see cores.py); None leaves them free."""
    inference: InferenceSetting | None = None
    """Interpreters and their threads; None: one, with the detector's own threads."""
    tuning: tuple[InferenceSetting, ...] = ()
    """--threads auto: try these (the first is `inference`) and keep the fastest."""
    tuning_options: TuningOptions = TUNING
    on_tuned: Any = None
    """Called with the autotune.Choice once tuning has chosen (to cache and log it)."""
    invoke_timeout_s: float = INVOKE_TIMEOUT_S
    """An invoke running longer is abandoned and inference restarts on a new interpreter."""
    stale_after_s: float = STALE_AFTER_S
    """No new result for this long: the run is stale; viewers get the last picture marked
    stale (once a second) and /healthz answers 503. Both read it from RunStatus."""
    tracker: TrackerOptions | None = None
    """Track objects over frames (detections get track ids); None: each frame alone."""
    zones: tuple[Zone, ...] = ()
    """Zones to count tracks in (needs the tracker)."""
    lines: tuple[Line, ...] = ()
    """Lines to count tracks crossing (needs the tracker)."""
    events: EventOptions | None = None
    """Make new/update/end events from the tracks (needs the tracker); None: no events."""

    def __post_init__(self) -> None:
        if (self.zones or self.lines) and self.tracker is None:
            raise ValueError("zones and lines count tracks: they need tracking on")
        if self.events is not None and self.tracker is None:
            raise ValueError("events are made from tracks: they need tracking on")
