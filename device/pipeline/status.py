"""What a run reports about itself: RunStatus, one frozen value per moment.

    status = pipeline.status()                   # built by the pipeline (stats + capture)
    status = replace(status, model="demo")       # run.py and the live server add what they know
    status.fps, status.stale_reason, status.frames_flow
    json.dumps(status.to_json())                 # /healthz: the same keys, in the same order

The metrics CSV, the stream's overlay, /metrics and /healthz all read this one value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from pisight.device.pipeline.staleness import STALE_AFTER_S
from pisight.device.zones.counting import LineCount, ZoneCount

# Field metadata. Filled in after the pipeline: absent from the JSON until someone does,
# as they were when each producer added its own key.
_ADDED_LATER = {"omit_when_none": True}
# A setting the verdicts below need, not a reading: /healthz never carried it.
_NOT_REPORTED = {"reported": False}


@dataclass(frozen=True)
class RunStatus:
    time: float = 0.0
    """Wall-clock time (Unix seconds, ms precision) the status was taken."""
    frames: int = 0
    """Frames processed since the start."""
    fps: float = 0.0
    """Frames processed per second, over the last few seconds."""
    inference_ms_p50: float | None = None
    """Median invoke time of recent frames, ms; None before the first frame."""
    inference_ms_p90: float | None = None
    """90th percentile invoke time of recent frames, ms; None before the first frame."""
    cpu_percent: float | None = None
    """CPU used by pisight (100 = one core); None until the first sample."""
    system_cpu_percent: float | None = None
    """CPU used by the whole system (100 = every core); None until the first sample."""
    rss_mb: float | None = None
    """Resident memory of pisight, MiB; None until the first sample."""
    temperature_c: float | None = None
    """SoC temperature; None where there is no such sensor (off a Pi)."""
    throttled: int | None = None
    """The firmware's get_throttled bit field, 0 = never throttled; None off a Pi."""
    last_frame_age_s: float | None = None
    """Seconds since the last inference result; None before the first."""
    uptime_s: float = 0.0
    """Seconds since the run started."""
    dropped_frames: int = 0
    """Frames captured that never reached inference (a live source outran it)."""
    source: str = ""
    """What is being watched, e.g. "video:/clip.mp4" or "picamera"."""
    source_online: bool = True
    """False while the live source has failed or stalled and is being reopened."""
    runtime: str = ""
    """The interpreter runtime, e.g. "litert"."""
    inference_restarts: int = 0
    """Hung invokes abandoned for a fresh interpreter."""
    source_stalls: int = 0
    """Times the live source sent nothing for the stall timeout and was reopened."""
    bad_frames: int = 0
    """Frames from the source that were not 8-bit BGR and were dropped."""
    viewers: int | None = field(default=None, metadata=_ADDED_LATER)
    """Connected stream viewers; the live server fills it in."""
    model: str | None = field(default=None, metadata=_ADDED_LATER)
    """The model file or bundle name; `pisight run` fills it in."""
    tracks: int | None = field(default=None, metadata=_ADDED_LATER)
    """Confirmed tracks alive now; None when tracking is off."""
    zones: tuple[ZoneCount, ...] = field(default=(), metadata=_ADDED_LATER)
    """Occupancy, entries and exits of each configured zone, per class."""
    lines: tuple[LineCount, ...] = field(default=(), metadata=_ADDED_LATER)
    """Crossings of each configured line, per direction and class."""
    events: int | None = field(default=None, metadata=_ADDED_LATER)
    """Events started since the run began; None when events are off."""
    events_spooled: int | None = field(default=None, metadata=_ADDED_LATER)
    """Event messages waiting on disk for the broker; None without MQTT."""
    events_dropped: int | None = field(default=None, metadata=_ADDED_LATER)
    """Event messages dropped because the spool was full (the oldest go first)."""
    events_published: int | None = field(default=None, metadata=_ADDED_LATER)
    """Event messages the broker acknowledged."""
    mqtt_connected: bool | None = field(default=None, metadata=_ADDED_LATER)
    """Whether the broker is connected now; None without MQTT."""
    private_mb: float | None = field(default=None, metadata=_ADDED_LATER)
    """Resident memory less file-backed pages (pipeline/meters.py), MiB."""
    inference: str | None = field(default=None, metadata=_ADDED_LATER)
    """Interpreters x threads each, e.g. "2x1" (pipeline/inference.py: --threads auto may
    change it in a run's first seconds)."""
    stale_after_s: float = field(default=STALE_AFTER_S, metadata=_NOT_REPORTED)
    """Above this last_frame_age_s the run is stale (PipelineOptions.stale_after_s)."""

    @property
    def stale_reason(self) -> str | None:
        """Why the picture is not live ("source offline", "inference stalled"), or None."""
        if not self.source_online:
            return "source offline"
        age = self.last_frame_age_s
        if age is not None and age > self.stale_after_s:
            return "inference stalled"
        return None

    @property
    def frames_flow(self) -> bool:
        """Healthy: a result has come, recently enough, from a source that is online."""
        return self.last_frame_age_s is not None and self.stale_reason is None

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (NaN and numpy scalars made safe), in field order."""
        document: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if not item.metadata.get("reported", True):
                continue
            empty = value is None or (isinstance(value, tuple) and not value)
            if empty and item.metadata.get("omit_when_none"):
                continue
            if isinstance(value, tuple):  # zone and line counts
                document[item.name] = [reading.to_json() for reading in value]
                continue
            document[item.name] = _json_safe(value)
        return document


def _json_safe(value: Any) -> Any:
    # Browsers reject NaN in JSON, and numpy scalars are not serialisable at all.
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)
