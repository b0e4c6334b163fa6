from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.device.model.detections import Detections
from pisight.device.pipeline.status import RunStatus
from pisight.device.render.frame_sink import AnnotatedFrame
from pisight.device.render.sinks import CSV_COLUMNS, DetectionLog, MetricsLog, Recorder
from pisight.device.sources.frames import Frame

DESIGN_COLUMNS = (
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
)


def _frame(seq: int) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), t_capture=1732269000.123456 + seq, seq=seq)


def test_detection_log_writes_one_object_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "detections.jsonl"
    boxes = Detections(
        np.array([[1.0, 2.0, 30.25, 40.0]], np.float32),
        np.array([0.83], np.float32),
        np.array([0], np.int32),
        ("person",),
    )
    top_k = Detections(
        np.full((1, 4), np.nan, np.float32), np.array([0.5], np.float32), np.array([2]), ("cat",)
    )
    with DetectionLog(path, source="video:x.mp4") as log:
        log.write(_frame(0), boxes, 11.8234)
        log.write(_frame(1), Detections.empty(), 9.0)
        log.write(_frame(2), top_k, 7.5)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 3
    first = records[0]
    assert set(first) == {"t", "frame", "source", "inference_ms", "detections"}
    assert first["t"] == pytest.approx(1732269000.123, abs=1e-3)
    assert (first["frame"], first["source"], first["inference_ms"]) == (0, "video:x.mp4", 11.82)
    assert first["detections"] == [
        {"label": "person", "class_id": 0, "score": 0.83, "box": [1.0, 2.0, 30.2, 40.0]}
    ]
    assert [r["frame"] for r in records] == [0, 1, 2]
    assert records[1]["detections"] == []
    assert records[2]["detections"][0]["box"] is None


def test_metrics_log_columns_and_empty_cells(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    log.write(RunStatus(time=1732269000.5, frames=30, fps=29.97, temperature_c=None))
    log.write(RunStatus(frames=60, throttled=0, rss_mb=120.0), row="summary")
    log.close()
    with path.open(newline="") as file:
        reader = csv.DictReader(file)
        assert set(DESIGN_COLUMNS) <= set(reader.fieldnames or ())
        rows = list(reader)
    assert len(rows) == 2
    assert rows[0]["frames"] == "30" and float(rows[0]["fps"]) == pytest.approx(29.97)
    assert float(rows[0]["time"]) == pytest.approx(1732269000.5)
    assert rows[0]["temperature_c"] == "" and rows[0]["throttled"] == ""
    assert rows[1]["throttled"] == "0" and float(rows[1]["rss_mb"]) == 120.0
    assert rows[1]["row"] == "summary"


def test_metrics_log_puts_each_status_field_in_its_column(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    log = MetricsLog(path)
    log.write(
        RunStatus(
            time=1.5, frames=2, fps=3.25, inference_ms_p50=4.5, inference_ms_p90=5.5,
            cpu_percent=6.5, system_cpu_percent=7.5, rss_mb=8.5, private_mb=8.75, temperature_c=9.5,
            throttled=10, dropped_frames=11, uptime_s=99.0, source="not a column",
        )
    )  # fmt: skip
    log.close()
    header, row = path.read_text().splitlines()
    assert tuple(header.split(",")) == CSV_COLUMNS
    assert dict(zip(CSV_COLUMNS, row.split(","), strict=True)) == {
        "time": "1.5", "frames": "2", "fps": "3.25", "inference_ms_p50": "4.5",
        "inference_ms_p90": "5.5", "cpu_percent": "6.5", "system_cpu_percent": "7.5",
        "rss_mb": "8.5", "private_mb": "8.75", "temperature_c": "9.5", "throttled": "10",
        "dropped_frames": "11",
        "row": "interval",
    }  # fmt: skip


@pytest.mark.parametrize(("width", "height", "frames"), [(64, 48, 5), (160, 120, 12)])
def test_recorder_writes_readable_mp4(tmp_path: Path, width: int, height: int, frames: int) -> None:
    recorder = Recorder(tmp_path / "out" / "video.mp4", fps=10.0)
    rng = np.random.default_rng(0)
    for _ in range(frames):
        recorder.write(AnnotatedFrame(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)))
    # a size change is resized
    recorder.write(AnnotatedFrame(np.zeros((height * 2, width, 3), np.uint8)))
    recorder.close()
    assert recorder.frames == frames + 1
    capture = cv2.VideoCapture(str(recorder.path))
    try:
        assert capture.isOpened()
        assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == width
        assert int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == height
        read = 0
        while capture.read()[0]:
            read += 1
    finally:
        capture.release()
    assert read == frames + 1


def test_metrics_log_appends_track_zone_and_line_columns_when_tracking(tmp_path: Path) -> None:
    from pisight.device.zones.counting import LineCount, ZoneCount
    from pisight.device.zones.geometry import Line, Zone

    zone = Zone("door", ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4)))
    line = Line("street", (0.0, 0.5), (1.0, 0.5))
    path = tmp_path / "m.csv"
    log = MetricsLog(path, tracked=True, zones=[zone], lines=[line])
    counted = RunStatus(
        tracks=4,
        zones=(ZoneCount("door", {"person": 2, "cat": 1}),),
        lines=(LineCount("street", {"car": 3}, {"car": 1, "bus": 1}),),
    )
    log.write(counted)
    log.write(RunStatus(tracks=0))  # before the first count: zeros, never a missing cell
    log.close()
    rows = list(csv.reader(path.open()))
    assert rows[0] == [*CSV_COLUMNS, "tracks", "zone:door", "line:street:in", "line:street:out"]
    assert rows[1][len(CSV_COLUMNS) :] == ["4", "3", "3", "2"]
    assert rows[2][len(CSV_COLUMNS) :] == ["0", "0", "0", "0"]


def test_detection_log_carries_track_ids(tmp_path: Path) -> None:
    detections = Detections(
        np.array([[1, 2, 3, 4], [5, 6, 7, 8]], np.float32), np.array([0.9, 0.6], np.float32),
        np.array([0, 1], np.int32), ("person", "car"),
    ).with_track_ids(np.array([7, -1]))  # fmt: skip
    path = tmp_path / "d.jsonl"
    with DetectionLog(path, source="test") as log:
        log.write(Frame(np.zeros((10, 10, 3), np.uint8), 1.0, 3), detections, 5.0)
    record = json.loads(path.read_text())
    assert [d["track_id"] for d in record["detections"]] == [7, None]
