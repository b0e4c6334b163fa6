"""Files `pisight run` writes: per-frame detections (JSONL), per-second metrics (CSV),
and the annotated video (MP4). Formats are stable (docs/ARCHITECTURE.md, "Stable output
formats"): tools read them.

    with DetectionLog(path, source="video:x.mp4") as log:
        log.write(frame, detections, inference_ms)
    MetricsLog(path).write(pipeline.status())
    StreamRenderer([Recorder(path, fps=15.0), ...])   # the MP4 is one of the renderer's sinks
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.render.frame_sink import AnnotatedFrame, FrameFormat
from pisight.device.sources.frames import Frame
from pisight.device.zones.geometry import Line, Zone

CSV_COLUMNS = (
    "time",
    "frames",
    "fps",
    "inference_ms_p50",
    "inference_ms_p90",
    "cpu_percent",
    "system_cpu_percent",
    "rss_mb",
    "private_mb",
    "temperature_c",
    "throttled",
    "dropped_frames",
    "row",
)


def _open_for_writing(path: str | Path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Line buffering: a crash or SIGKILL loses at most the line being written.
    return path.open("w", encoding="utf-8", newline="", buffering=1)


class DetectionLog:
    """One JSON object per processed frame."""

    def __init__(self, path: str | Path, source: str) -> None:
        self._file = _open_for_writing(path)
        self._source = source

    def write(self, frame: Frame, detections: Detections, inference_ms: float) -> None:
        record = {
            "t": round(frame.t_capture, 3),
            "frame": frame.seq,
            "source": self._source,
            "inference_ms": round(inference_ms, 2),
            "detections": detections.to_json(),
        }
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> DetectionLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class MetricsLog:
    """One CSV row per second (`row=interval`) and a final `row=summary`.

    With tracking, columns appended after `row`: `tracks`, then `zone:NAME` (occupancy)
    per zone and `line:NAME:in`, `line:NAME:out` (crossings so far) per line.
    """

    def __init__(
        self,
        path: str | Path,
        tracked: bool = False,
        zones: Sequence[Zone] = (),
        lines: Sequence[Line] = (),
    ) -> None:
        self._file = _open_for_writing(path)
        self._writer = csv.writer(self._file)
        self._tracked = tracked
        self._zones = tuple(zone.name for zone in zones)
        self._lines = tuple(line.name for line in lines)
        counted = [f"zone:{name}" for name in self._zones] + [
            f"line:{name}:{way}" for name in self._lines for way in ("in", "out")
        ]
        self._writer.writerow([*CSV_COLUMNS, *(["tracks", *counted] if tracked else [])])

    def write(self, status: RunStatus, row: str = "interval") -> None:
        values = (
            status.time, status.frames, status.fps, status.inference_ms_p50,
            status.inference_ms_p90, status.cpu_percent, status.system_cpu_percent,
            status.rss_mb, status.private_mb, status.temperature_c, status.throttled,
            status.dropped_frames,
        )  # fmt: skip
        cells = [*map(_cell, values), row]  # in CSV_COLUMNS order
        if not self._tracked:
            self._writer.writerow(cells)
            return
        occupancy = {zone.name: zone.total for zone in status.zones}
        crossings = {line.name: (line.total_in, line.total_out) for line in status.lines}
        counted: list[Any] = [occupancy.get(name, 0) for name in self._zones]
        for name in self._lines:
            counted += crossings.get(name, (0, 0))
        self._writer.writerow([*cells, _cell(status.tracks), *counted])

    def close(self) -> None:
        self._file.close()


def _cell(value: Any) -> str:
    """Empty cell where the platform has no such sensor."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


class Recorder:
    """MP4 of the annotated frames; opened at the first frame, whose size it keeps."""

    frame_format: FrameFormat = "bgr"

    def __init__(self, path: str | Path, fps: float = 15.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def wants_frame(self, stale: bool) -> bool:
        # Every new frame; a stall stays a gap in the video rather than copies of a banner.
        return not stale

    def write(self, frame: AnnotatedFrame) -> None:
        image = frame.image
        size = (image.shape[1], image.shape[0])
        if self._writer is None:
            self._writer = cv2.VideoWriter(
                str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, size
            )
            if not self._writer.isOpened():
                raise OSError(f"cannot write video to {self.path}: OpenCV has no mp4v encoder")
            self._size = size
        if size != self._size:  # a camera that changed resolution: keep the file valid
            image = cv2.resize(image, self._size)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
