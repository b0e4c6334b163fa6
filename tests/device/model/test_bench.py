from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.device.model.bench import BenchResult, benchmark
from pisight.device.model.cpu import this_cpu


def test_benchmark_times_each_run(ssd_int8: Path) -> None:
    result = benchmark(ssd_int8, runtime=None, threads=1, runs=5, warmup=1)
    assert result.runs == 5 and result.threads == 1
    assert result.latencies_ms.shape == (5,)
    assert np.all(result.latencies_ms > 0)
    summary = result.to_json()
    assert set(summary) == {"runtime", "threads", "runs", "latency_ms", "fps", "cpu"}
    assert summary["runtime"] == result.runtime and summary["runs"] == 5
    latency = summary["latency_ms"]
    assert set(latency) == {"p50", "p90", "p99"}
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"]
    assert summary["fps"] > 0


def test_benchmark_accepts_a_bundle(ssd_bundle: Path) -> None:
    assert (
        len(benchmark(ssd_bundle, runtime=None, threads=None, runs=2, warmup=0).latencies_ms) == 2
    )


def test_to_json_from_known_latencies() -> None:
    latencies = np.array([10.0, 20.0, 30.0, 40.0])
    summary = BenchResult("litert", 2, 4, latencies).to_json()
    assert summary["latency_ms"] == {
        "p50": pytest.approx(np.percentile(latencies, 50)),
        "p90": pytest.approx(np.percentile(latencies, 90)),
        "p99": pytest.approx(np.percentile(latencies, 99)),
    }
    assert summary["fps"] == pytest.approx(1000 / 25)
    assert (summary["runtime"], summary["threads"], summary["runs"]) == ("litert", 2, 4)
    assert summary["cpu"] == this_cpu().to_json()  # every figure names where it was taken
