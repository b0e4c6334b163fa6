"""What the live view reports about the pipeline: Prometheus metrics and a health document.

Both render the status dict the pipeline publishes (``fps``, ``frames``, ...)::

    render_metrics({"fps": 29.7, "last_frame_age_s": 0.03})  # "...pisight_fps 29.7\\n..."
    ok, body = render_health({"fps": 29.7, "last_frame_age_s": 0.03})  # True, '{"status": "ok"...'
"""

from __future__ import annotations

import json
import math
from typing import Any

# A frame older than this means the pipeline has stalled or the source has ended.
FRESH_FRAME_S = 5.0

# status key -> (metric, help); a name ending in _total is a counter, the rest are gauges.
_METRICS = {
    "frames": ("pisight_frames_total", "Frames processed."),
    "fps": ("pisight_fps", "Frames processed per second."),
    "inference_ms_p50": ('pisight_inference_ms{quantile="0.5"}', "Inference latency, ms."),
    "inference_ms_p90": ('pisight_inference_ms{quantile="0.9"}', "Inference latency, ms."),
    "cpu_percent": ("pisight_cpu_percent", "CPU used by pisight (100 = one core)."),
    "system_cpu_percent": ("pisight_system_cpu_percent", "CPU used by the whole system."),
    "rss_mb": ("pisight_rss_bytes", "Resident memory of pisight."),
    "temperature_c": ("pisight_temperature_celsius", "SoC temperature."),
    "throttled": ("pisight_throttled", "Firmware throttling flags (0 = never throttled)."),
    "dropped_frames": ("pisight_dropped_frames_total", "Frames dropped as stale."),
    "viewers": ("pisight_viewers", "Connected stream viewers."),
    "uptime_s": ("pisight_uptime_seconds", "Seconds since start."),
}
_SCALE = {"rss_mb": 1024.0 * 1024.0}


def frames_flow(status: dict[str, Any]) -> bool:
    """True while the last frame is fresh and the source online: the pipeline is up."""
    if status.get("source_online") is False:
        return False  # the capture watchdog saw the stall before the last frame aged out
    age = status.get("last_frame_age_s")
    return age is not None and age < FRESH_FRAME_S


def _prometheus_value(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


def render_metrics(status: dict[str, Any]) -> str:
    """Prometheus text exposition (version 0.0.4); unknown (None) values are left out."""
    lines: list[str] = []
    described: set[str] = set()
    for key, (metric, help_text) in _METRICS.items():
        try:
            value = float(status[key]) * _SCALE.get(key, 1.0)
        except (KeyError, TypeError, ValueError):
            continue  # unknown on this platform (None), or not a number at all
        name = metric.partition("{")[0]
        if name not in described:
            described.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines.append(f"{metric} {_prometheus_value(value)}")
    lines += ["# HELP pisight_up 1 while frames flow.", "# TYPE pisight_up gauge"]
    lines.append(f"pisight_up {int(frames_flow(status))}")
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    # Browsers reject NaN in JSON, and numpy scalars are not serialisable at all.
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def render_health(status: dict[str, Any]) -> tuple[bool, str]:
    """(frames flow, JSON document): the status plus "status": "ok" or "offline"."""
    ok = frames_flow(status)
    document = {"status": "ok" if ok else "offline", **status}
    return ok, json.dumps({str(k): _json_safe(v) for k, v in document.items()})
