"""What the live view reports about the pipeline: Prometheus metrics and a health document.

Both render the RunStatus the pipeline publishes::

    status = RunStatus(fps=29.7, last_frame_age_s=0.03)
    render_metrics(status)            # "...pisight_fps 29.7\\n..."
    ok, body = render_health(status)  # True, '{"status": "ok", "time": ...}'

Healthy means RunStatus.frames_flow: the same verdict, by the same threshold, as the stale
marker the viewers see on the picture.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import NamedTuple

from pisight.device.pipeline.status import RunStatus


class _Metric(NamedTuple):
    name: str
    """A name ending in _total is a counter, the rest are gauges; may carry {labels}."""
    help_text: str
    read: Callable[[RunStatus], float | int | None]
    scale: float = 1.0
    """Status unit to metric unit (MiB to bytes)."""


_METRICS = (
    _Metric("pisight_frames_total", "Frames processed.", lambda s: s.frames),
    _Metric("pisight_fps", "Frames processed per second.", lambda s: s.fps),
    _Metric(
        'pisight_inference_ms{quantile="0.5"}',
        "Inference latency, ms.",
        lambda s: s.inference_ms_p50,
    ),
    _Metric(
        'pisight_inference_ms{quantile="0.9"}',
        "Inference latency, ms.",
        lambda s: s.inference_ms_p90,
    ),
    _Metric(
        "pisight_cpu_percent", "CPU used by pisight (100 = one core).", lambda s: s.cpu_percent
    ),
    _Metric(
        "pisight_system_cpu_percent",
        "CPU used by the whole system.",
        lambda s: s.system_cpu_percent,
    ),
    _Metric("pisight_rss_bytes", "Resident memory of pisight.", lambda s: s.rss_mb, 2.0**20),
    _Metric(
        "pisight_private_memory_bytes",
        "Resident memory of pisight less file-backed pages (shared libraries, the model).",
        lambda s: s.private_mb,
        2.0**20,
    ),
    _Metric("pisight_temperature_celsius", "SoC temperature.", lambda s: s.temperature_c),
    _Metric(
        "pisight_throttled",
        "Firmware throttling flags (0 = never throttled).",
        lambda s: s.throttled,
    ),
    _Metric("pisight_dropped_frames_total", "Frames dropped as stale.", lambda s: s.dropped_frames),
    _Metric("pisight_viewers", "Connected stream viewers.", lambda s: s.viewers),
    _Metric("pisight_uptime_seconds", "Seconds since start.", lambda s: s.uptime_s),
    _Metric("pisight_tracks", "Confirmed tracks alive now.", lambda s: s.tracks),
    _Metric("pisight_events_total", "Events started.", lambda s: s.events),
    _Metric(
        "pisight_events_spooled",
        "Event messages waiting on disk for the broker.",
        lambda s: s.events_spooled,
    ),
    _Metric(
        "pisight_events_dropped_total",
        "Event messages dropped: the spool was full.",
        lambda s: s.events_dropped,
    ),
    _Metric(
        "pisight_events_published_total",
        "Event messages the broker acknowledged.",
        lambda s: s.events_published,
    ),
    _Metric(
        "pisight_mqtt_connected",
        "1 while the MQTT broker is connected.",
        lambda s: s.mqtt_connected,
    ),
)


def _prometheus_value(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def render_metrics(status: RunStatus) -> str:
    """Prometheus text exposition (version 0.0.4); unknown (None) values are left out."""
    lines: list[str] = []
    described: set[str] = set()
    for metric in _METRICS:
        reading = metric.read(status)
        if reading is None:
            continue  # unknown on this platform
        try:
            value = float(reading) * metric.scale
        except (TypeError, ValueError):
            continue  # not a number at all: a broken sensor must not break the scrape
        name = metric.name.partition("{")[0]
        if name not in described:
            described.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {metric.help_text}", f"# TYPE {name} {kind}"]
        lines.append(f"{metric.name} {_prometheus_value(value)}")
    lines += _count_lines(status)
    lines += ["# HELP pisight_up 1 while frames flow.", "# TYPE pisight_up gauge"]
    lines.append(f"pisight_up {int(status.frames_flow)}")
    return "\n".join(lines) + "\n"


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _count_lines(status: RunStatus) -> list[str]:
    """Zone and line counts, one sample per zone or line, class (and direction)."""
    families: dict[str, tuple[str, str, list[str]]] = {
        "pisight_zone_occupancy": ("gauge", "Tracks inside the zone now.", []),
        "pisight_zone_entries_total": ("counter", "Tracks that came into the zone.", []),
        "pisight_zone_exits_total": ("counter", "Tracks that left the zone or ended in it.", []),
        "pisight_line_crossings_total": ("counter", "Tracks that crossed the line.", []),
    }
    for zone in status.zones:
        name = _label_value(zone.name)
        for family, counts in (
            ("pisight_zone_occupancy", zone.occupancy),
            ("pisight_zone_entries_total", zone.entries),
            ("pisight_zone_exits_total", zone.exits),
        ):
            # Every class ever entered stays listed (at 0), so a counter never vanishes.
            for label in sorted({*zone.entries, *counts}):
                sample = f'{family}{{zone="{name}",class="{_label_value(label)}"}}'
                families[family][2].append(f"{sample} {counts.get(label, 0)}")
    for line in status.lines:
        name = _label_value(line.name)
        for direction, counts in (("in", line.crossed_in), ("out", line.crossed_out)):
            for label, value in sorted(counts.items()):
                sample = (
                    f'pisight_line_crossings_total{{line="{name}",direction="{direction}",'
                    f'class="{_label_value(label)}"}}'
                )
                families["pisight_line_crossings_total"][2].append(f"{sample} {value}")
    lines: list[str] = []
    for family, (kind, help_text, samples) in families.items():
        if samples:
            lines += [f"# HELP {family} {help_text}", f"# TYPE {family} {kind}", *samples]
    return lines


def render_health(status: RunStatus) -> tuple[bool, str]:
    """(frames flow, JSON document): the status plus "status": "ok" or "offline"."""
    ok = status.frames_flow
    return ok, json.dumps({"status": "ok" if ok else "offline", **status.to_json()})
