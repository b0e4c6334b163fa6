"""RunStatus: the JSON the live view has always sent, and one staleness verdict for all."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from pisight.device.live.prometheus import render_health, render_metrics
from pisight.device.pipeline.capture import CaptureOptions
from pisight.device.pipeline.handoff import LatestSlot
from pisight.device.pipeline.options import PipelineOptions
from pisight.device.pipeline.stages import Pipeline
from pisight.device.pipeline.staleness import SOURCE_STALL_S, STALE_AFTER_S
from pisight.device.pipeline.status import RunStatus

# What Pipeline.status() held as a dict, in its order; run.py and the server added the last two.
PIPELINE_KEYS = [
    "time", "frames", "fps", "inference_ms_p50", "inference_ms_p90", "cpu_percent",
    "system_cpu_percent", "rss_mb", "temperature_c", "throttled", "last_frame_age_s",
    "uptime_s", "dropped_frames", "source", "source_online", "runtime",
    "inference_restarts", "source_stalls", "bad_frames",
]  # fmt: skip
# The fields the live page (static/index.html) reads from /healthz.
PAGE_KEYS = {
    "status", "fps", "inference_ms_p50", "inference_ms_p90", "cpu_percent",
    "system_cpu_percent", "rss_mb", "temperature_c", "throttled", "dropped_frames",
    "viewers", "uptime_s", "source", "model", "runtime",
}  # fmt: skip


def fake_pipeline(options: PipelineOptions) -> Pipeline:
    """A Pipeline that is never run: enough of a detector and a capture for status()."""
    detector = SimpleNamespace(runtime="litert", options=SimpleNamespace(threads=1))
    capture = SimpleNamespace(
        description="test:fake", online=True, stalls=0, bad_frames=0, dropped=0, live=True
    )
    return Pipeline(detector, capture, LatestSlot(), options)  # type: ignore[arg-type]


def test_to_json_has_the_old_keys_in_the_old_order() -> None:
    status = fake_pipeline(PipelineOptions()).status()
    assert list(status.to_json()) == [*PIPELINE_KEYS, "inference"]
    served = replace(status, viewers=2, model="demo")
    assert list(served.to_json()) == [*PIPELINE_KEYS, "viewers", "model", "inference"]
    assert "stale_after_s" not in served.to_json()  # a setting, never reported


def test_healthz_carries_every_key_the_page_reads() -> None:
    served = replace(fake_pipeline(PipelineOptions()).status(), viewers=0, model="demo")
    assert set(json.loads(render_health(served)[1])) >= PAGE_KEYS


def test_to_json_is_json_safe() -> None:
    status = RunStatus(fps=float("nan"), rss_mb=np.float32(1.5), throttled=np.int64(5))  # type: ignore[arg-type]
    document = status.to_json()
    assert document["fps"] is None and document["rss_mb"] == 1.5 and document["throttled"] == 5
    assert type(document["throttled"]) is int
    json.dumps(document, allow_nan=False)


def test_one_threshold_default_for_the_pipeline_and_health() -> None:
    assert PipelineOptions().stale_after_s == RunStatus().stale_after_s == STALE_AFTER_S
    assert CaptureOptions().stall_timeout_s == SOURCE_STALL_S
    # A silent camera must be found offline before its last result goes stale (staleness.py).
    assert SOURCE_STALL_S <= STALE_AFTER_S


@pytest.mark.parametrize(
    ("age", "online", "reason", "healthy"),
    [
        (0.4, True, None, True),
        (0.6, True, "inference stalled", False),
        (0.1, False, "source offline", False),
        (None, True, None, False),  # no result yet: nothing to mark stale, but not healthy
    ],
)
def test_marker_and_health_give_one_verdict(
    age: float | None, online: bool, reason: str | None, healthy: bool
) -> None:
    status = RunStatus(last_frame_age_s=age, source_online=online, stale_after_s=0.5)
    assert status.stale_reason == reason
    assert status.frames_flow is healthy
    assert render_health(status)[0] is healthy
    assert f"pisight_up {int(healthy)}\n" in render_metrics(status)


def test_the_pipelines_threshold_reaches_health() -> None:
    pipeline = fake_pipeline(PipelineOptions(stale_after_s=0.3))
    pipeline.stats.last_result_at = time.monotonic() - 1.0  # a result 1 s ago
    status = pipeline.status()
    assert status.stale_after_s == 0.3
    assert status.stale_reason == "inference stalled"  # what the output stage marks ...
    ok, body = render_health(status)  # ... and what /healthz says, from the same status
    assert not ok and json.loads(body)["status"] == "offline"
    pipeline.stats.last_result_at = time.monotonic()
    assert render_health(pipeline.status())[0]


def test_a_tracking_pipeline_reports_tracks_zones_and_lines() -> None:
    from pisight.device.track.tracks import TrackerOptions
    from pisight.device.zones.geometry import Line, Zone

    zone = Zone("door", ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4)))
    line = Line("street", (0.0, 0.5), (1.0, 0.5))
    options = PipelineOptions(tracker=TrackerOptions(), zones=(zone,), lines=(line,))
    document = fake_pipeline(options).status().to_json()
    assert document["tracks"] == 0
    assert document["zones"] == [
        {"name": "door", "occupancy": 0, "by_class": {}, "entries": {}, "exits": {}}
    ]
    assert document["lines"] == [{"name": "street", "in": {}, "out": {}}]
    assert "tracks" not in fake_pipeline(PipelineOptions()).status().to_json()
    with pytest.raises(ValueError, match="tracking"):
        PipelineOptions(zones=(zone,))


def test_metrics_carry_zone_and_line_counters_labelled_by_name_and_class() -> None:
    from pisight.device.zones.counting import LineCount, ZoneCount

    status = RunStatus(
        tracks=3,
        zones=(ZoneCount("door", {"person": 1}, {"person": 2, "cat": 1}, {"person": 1, "cat": 1}),),
        lines=(LineCount('say "hi"', {"car": 2}, {"car": 1}),),
    )
    text = render_metrics(status)
    assert "pisight_tracks 3\n" in text
    assert "# TYPE pisight_zone_entries_total counter" in text
    assert 'pisight_zone_occupancy{zone="door",class="person"} 1\n' in text
    assert 'pisight_zone_occupancy{zone="door",class="cat"} 0\n' in text  # it left: 0, kept
    assert 'pisight_zone_exits_total{zone="door",class="cat"} 1\n' in text
    assert 'pisight_line_crossings_total{line="say \\"hi\\"",direction="out",class="car"} 1' in text


def test_metrics_carry_the_event_and_broker_readings() -> None:
    status = RunStatus(events=4, events_spooled=2, events_dropped=1, events_published=7,
                       mqtt_connected=False)  # fmt: skip
    text = render_metrics(status)
    assert "pisight_events_total 4\n" in text
    assert "# TYPE pisight_events_spooled gauge\npisight_events_spooled 2\n" in text
    assert "# TYPE pisight_events_dropped_total counter\npisight_events_dropped_total 1\n" in text
    assert "pisight_events_published_total 7\n" in text and "pisight_mqtt_connected 0\n" in text
    assert "events_spooled" not in RunStatus().to_json()  # without MQTT: not there at all
    assert "pisight_mqtt_connected" not in render_metrics(RunStatus())
