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
    _Metric("pisight_temperature_celsius", "SoC temperature.", lambda s: s.temperature_c),
    _Metric(
        "pisight_throttled",
        "Firmware throttling flags (0 = never throttled).",
        lambda s: s.throttled,
    ),
    _Metric("pisight_dropped_frames_total", "Frames dropped as stale.", lambda s: s.dropped_frames),
    _Metric("pisight_viewers", "Connected stream viewers.", lambda s: s.viewers),
    _Metric("pisight_uptime_seconds", "Seconds since start.", lambda s: s.uptime_s),
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
    lines += ["# HELP pisight_up 1 while frames flow.", "# TYPE pisight_up gauge"]
    lines.append(f"pisight_up {int(status.frames_flow)}")
    return "\n".join(lines) + "\n"


def render_health(status: RunStatus) -> tuple[bool, str]:
    """(frames flow, JSON document): the status plus "status": "ok" or "offline"."""
    ok = status.frames_flow
    return ok, json.dumps({"status": "ok" if ok else "offline", **status.to_json()})
