"""What a run measured: frame counts, FPS, inference latency, process readings.

stats = RunStats()
stats.record(inference_ms=11.8)        # once per processed frame (decode thread)
stats.sample()                         # once per second (metrics thread)
stats.snapshot().fps, stats.summary(dropped=3).line()
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace

from pisight.device.pipeline.meters import (
    FPSMonitor,
    LatencyWindow,
    SystemReading,
    SystemSampler,
)
from pisight.device.pipeline.status import RunStatus


@dataclass(frozen=True)
class Summary:
    frames: int
    fps: float
    inference_ms_p50: float | None
    rss_mb_max: float
    dropped: int
    private_mb_max: float | None = None

    def line(self) -> str:
        p50 = "" if self.inference_ms_p50 is None else f"{self.inference_ms_p50:.2f}"
        return (
            f"frames={self.frames} fps={self.fps:.2f} inference_ms_p50={p50} "
            f"rss_mb_max={self.rss_mb_max:.1f} dropped={self.dropped}"
            + ("" if self.private_mb_max is None else f" private_mb_max={self.private_mb_max:.1f}")
        )

    def in_status(self, status: RunStatus) -> RunStatus:
        """status with the whole run's frames, FPS and peak memory: the CSV's summary row."""
        return replace(
            status, frames=self.frames, fps=round(self.fps, 2), rss_mb=round(self.rss_mb_max, 1),
            private_mb=None if self.private_mb_max is None else round(self.private_mb_max, 1),
        )  # fmt: skip


WARMUP_FRAMES = 10  # the first invokes pack weights and warm caches; bench skips them too


class RunStats:
    def __init__(self) -> None:
        self.frames = 0
        self.inference_ms_total = 0.0  # the tuner's latency over a window of frames
        self.rss_mb_max = 0.0
        self.private_mb_max: float | None = None
        self.started = time.monotonic()
        self.first_frame_at: float | None = None
        self.warm_at: float | None = None
        self.last_result_at: float | None = None
        self._fps = FPSMonitor()
        self._latency = LatencyWindow()
        self._sampler = SystemSampler()
        self._reading: SystemReading | None = None  # None until the first sample
        self._lock = threading.Lock()

    def record(self, inference_ms: float) -> bool:
        """Count a processed frame; True for the very first one."""
        self.frames += 1
        self.inference_ms_total += inference_ms
        self._fps.tick()
        self._latency.add(inference_ms)
        self.last_result_at = time.monotonic()
        first = self.first_frame_at is None
        if first:
            self.first_frame_at = self.last_result_at
        if self.frames == WARMUP_FRAMES + 1:
            self.warm_at = self.last_result_at
        return first

    def sample(self) -> None:
        reading = self._sampler.sample()
        self.rss_mb_max = max(self.rss_mb_max, reading.rss_mb)
        if reading.private_mb is not None:
            self.private_mb_max = max(self.private_mb_max or 0.0, reading.private_mb)
        with self._lock:
            self._reading = reading

    @property
    def last_frame_age_s(self) -> float | None:
        if self.last_result_at is None:
            return None
        return time.monotonic() - self.last_result_at

    def snapshot(self) -> RunStatus:
        """What this object knows (counts, FPS, latency, system); the pipeline adds the rest."""
        with self._lock:
            reading = self._reading
        age = self.last_frame_age_s
        return RunStatus(
            time=round(time.time(), 3),
            frames=self.frames,
            fps=round(self._fps.fps, 2),
            inference_ms_p50=_rounded(self._latency.percentile(50)),
            inference_ms_p90=_rounded(self._latency.percentile(90)),
            # `reading and ...`: None, as for a missing sensor, until the first sample
            cpu_percent=reading and reading.cpu_percent,
            system_cpu_percent=reading and reading.system_cpu_percent,
            rss_mb=reading and round(reading.rss_mb, 1),
            private_mb=reading and reading.private_mb and round(reading.private_mb, 1),
            temperature_c=reading and reading.temperature_c,
            throttled=reading and reading.throttled,
            last_frame_age_s=None if age is None else round(age, 3),
            uptime_s=round(time.monotonic() - self.started, 1),
        )

    def summary(self, dropped: int) -> Summary:
        self.sample()
        fps = 0.0
        # Steady state, as `pisight bench` measures it: from the first frame after the
        # warm-up (or the first frame, for short runs) to the last; start-up and shutdown
        # are not inference.
        if self.warm_at and self.last_result_at and self.frames > WARMUP_FRAMES + 1:
            span, counted = self.last_result_at - self.warm_at, self.frames - WARMUP_FRAMES - 1
            fps = counted / max(span, 1e-9)
        elif self.frames > 1 and self.first_frame_at and self.last_result_at:
            fps = (self.frames - 1) / max(self.last_result_at - self.first_frame_at, 1e-9)
        return Summary(
            self.frames,
            fps,
            _rounded(self._latency.percentile(50)),
            self.rss_mb_max,
            dropped,
            self.private_mb_max,
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
