from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from pisight.device.pipeline import meters as metrics
from pisight.device.pipeline.meters import (
    FPSMonitor,
    LatencyWindow,
    SystemSampler,
    read_temperature,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(metrics.time, "monotonic", fake)
    return fake


@pytest.mark.parametrize(("interval", "ticks", "fps"), [(0.1, 10, 10.0), (0.04, 20, 25.0)])
def test_fps_monitor(clock: FakeClock, interval: float, ticks: int, fps: float) -> None:
    monitor = FPSMonitor(window_s=2.0)
    for _ in range(ticks):
        monitor.tick()
        clock.now += interval
    clock.now -= interval  # read at the last tick
    assert monitor.fps == pytest.approx(fps)


def test_fps_monitor_forgets_old_ticks(clock: FakeClock) -> None:
    monitor = FPSMonitor(window_s=1.0)
    assert monitor.fps == 0.0
    monitor.tick()
    assert monitor.fps == 0.0  # one tick is no rate
    monitor.tick()
    assert monitor.fps == 0.0  # two ticks at the same instant: no span
    clock.now += 0.5
    monitor.tick()
    assert monitor.fps == pytest.approx(4.0)  # 2 intervals over 0.5 s
    clock.now += 5.0
    assert monitor.fps == 0.0


@pytest.mark.parametrize("q", [0, 50, 90, 99, 100])
def test_latency_percentiles_match_numpy(q: float) -> None:
    values = np.random.default_rng(0).gamma(2.0, 5.0, 300)
    window = LatencyWindow(size=512)
    for value in values:
        window.add(float(value))
    assert window.percentile(q) == pytest.approx(np.percentile(values, q))


def test_latency_window_keeps_only_recent() -> None:
    window = LatencyWindow(size=3)
    assert window.percentile(50) is None
    for value in (100.0, 1.0, 2.0, 3.0):
        window.add(value)
    assert window.percentile(100) == 3.0


@pytest.mark.parametrize(("text", "expected"), [("48312\n", 48.312), ("0", 0.0), ("hot", None)])
def test_read_temperature(tmp_path: Path, text: str, expected: float | None) -> None:
    path = tmp_path / "temp"
    path.write_text(text)
    assert read_temperature(path) == expected


def test_read_temperature_missing(tmp_path: Path) -> None:
    assert read_temperature(tmp_path / "absent") is None


def test_system_sampler_is_sane() -> None:
    reading = SystemSampler().sample()
    assert reading.cpu_percent >= 0
    assert 0 <= reading.system_cpu_percent <= 100
    assert 1 < reading.rss_mb < 100_000
    assert reading.temperature_c is None or -40 < reading.temperature_c < 150


def test_throttled_from_sysfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sysfs = tmp_path / "get_throttled"
    sysfs.write_text("50000\n")
    monkeypatch.setattr(metrics, "THROTTLED_SYSFS", sysfs)
    assert SystemSampler().sample().throttled == 0x50000


@pytest.mark.parametrize(("output", "expected"), [("throttled=0x50005", 0x50005), ("junk", None)])
def test_throttled_from_vcgencmd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, output: str, expected: int | None
) -> None:
    script = tmp_path / "vcgencmd"
    script.write_text(f'#!/bin/sh\n[ "$1" = get_throttled ] && echo "{output}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(metrics, "THROTTLED_SYSFS", tmp_path / "absent")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert SystemSampler().sample().throttled == expected


def test_throttled_none_without_sysfs_or_vcgencmd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "THROTTLED_SYSFS", tmp_path / "absent")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert SystemSampler().sample().throttled is None
