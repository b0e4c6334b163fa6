"""Files `pisight run` writes: per-frame detections (JSONL), per-second metrics (CSV),
and the annotated video (MP4). Formats are stable (DESIGN.md): tools read them.

    with DetectionLog(path, source="video:x.mp4") as log:
        log.write(frame, detections, inference_ms)
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pisight.device.model.detections import Detections
from pisight.device.sources.frames import Frame

CSV_COLUMNS = (
    "time",
    "frames",
    "fps",
    "inference_ms_p50",
    "inference_ms_p90",
    "cpu_percent",
    "system_cpu_percent",
    "rss_mb",
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
    """One CSV row per second (`row=interval`) and a final `row=summary`."""

    def __init__(self, path: str | Path) -> None:
        self._file = _open_for_writing(path)
        self._writer = csv.DictWriter(self._file, CSV_COLUMNS, extrasaction="ignore")
        self._writer.writeheader()

    def write(self, values: dict[str, Any], row: str = "interval") -> None:
        cells = {key: _cell(values.get(key)) for key in CSV_COLUMNS}
        cells["row"] = row
        self._writer.writerow(cells)

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

    def __init__(self, path: str | Path, fps: float = 15.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
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
