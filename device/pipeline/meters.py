"""Small metric objects: frame rate, latency percentiles, process and SoC readings.

    fps = FPSMonitor(); fps.tick(); fps.fps
    latency = LatencyWindow(); latency.add(11.8); latency.percentile(50)
    reading = SystemSampler().sample()     # SystemReading(cpu_percent=..., rss_mb=..., ...)

Temperature and throttling come from the Raspberry Pi's sysfs (vcgencmd as fallback);
elsewhere they are None and the CSV cell stays empty.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")
THROTTLED_SYSFS = Path("/sys/devices/platform/soc/soc:firmware/get_throttled")


class FPSMonitor:
    """Frames per second over the last `window_s` seconds of monotonic timestamps."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._ticks: deque[float] = deque()
        self._lock = threading.Lock()

    def tick(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._ticks.append(now)
            self._trim(now)

    def _trim(self, now: float) -> None:
        while self._ticks and now - self._ticks[0] > self.window_s:
            self._ticks.popleft()

    @property
    def fps(self) -> float:
        with self._lock:
            self._trim(time.monotonic())
            if len(self._ticks) < 2:
                return 0.0
            span = self._ticks[-1] - self._ticks[0]
            return (len(self._ticks) - 1) / span if span > 0 else 0.0


class LatencyWindow:
    """Percentiles over the most recent `size` latencies (ms)."""

    def __init__(self, size: int = 512) -> None:
        self._recent: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, milliseconds: float) -> None:
        with self._lock:
            self._recent.append(milliseconds)

    def percentile(self, q: float) -> float | None:
        with self._lock:
            if not self._recent:
                return None
            return float(np.percentile(np.fromiter(self._recent, float), q))


@dataclass(frozen=True)
class SystemReading:
    cpu_percent: float
    """This process, 100 = one core busy."""
    system_cpu_percent: float
    """All cores, 100 = every core busy."""
    rss_mb: float
    """Resident memory, file-backed pages (shared libraries, the model file) included."""
    private_mb: float | None
    """Resident memory less its file-backed pages (RssAnon): what pisight itself holds.
    RSS counts library pages only while the page cache keeps them, so the same run reads
    93 MB in one venv and 135 MB in a freshly installed one; this figure does not move."""
    temperature_c: float | None
    throttled: int | None
    """The firmware's get_throttled bit field; 0 means never throttled."""


class SystemSampler:
    def __init__(self) -> None:
        self._process = psutil.Process()
        self._process.cpu_percent(None)  # the first call only starts the measurement
        psutil.cpu_percent(None)
        self._vcgencmd = shutil.which("vcgencmd")

    def sample(self) -> SystemReading:
        memory = self._process.memory_info()
        return SystemReading(
            cpu_percent=self._process.cpu_percent(None),
            system_cpu_percent=psutil.cpu_percent(None),
            rss_mb=memory.rss / 2**20,
            private_mb=_private_mb(memory),
            temperature_c=read_temperature(),
            throttled=self._read_throttled(),
        )

    def _read_throttled(self) -> int | None:
        try:
            return int(THROTTLED_SYSFS.read_text().strip(), 16)
        except (OSError, ValueError):
            pass
        if self._vcgencmd is None:
            return None
        try:
            out = subprocess.run(
                [self._vcgencmd, "get_throttled"], capture_output=True, text=True, timeout=2
            ).stdout  # "throttled=0x50000"
            return int(out.strip().split("=", 1)[1], 16)
        except (OSError, subprocess.SubprocessError, IndexError, ValueError):
            return None


def read_temperature(path: Path = THERMAL_ZONE) -> float | None:
    try:
        return int(path.read_text().strip()) / 1000.0
    except (OSError, ValueError):
        return None


def _private_mb(memory: object) -> float | None:
    """RSS less the shared, file-backed part (psutil's `shared`: RssFile + RssShmem on
    Linux); None where psutil does not split it."""
    shared = getattr(memory, "shared", None)
    if shared is None:
        return None
    return max(0.0, (memory.rss - shared) / 2**20)  # type: ignore[attr-defined]
