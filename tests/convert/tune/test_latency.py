"""A trial's latency here and on a "Pi" over SSH (a loopback sshd standing in for one)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pisight.convert.tune.latency import BenchHost, measure_latency
from pisight.device.model.cpu import this_cpu
from tests.device.fleet.sshd import LoopbackSshd, serve_sshd

DEMO_BUNDLE = Path(__file__).resolve().parents[3] / "models" / "demo" / "bundle"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSshd]:
    yield from serve_sshd(tmp_path_factory, "tune-sshd")


def test_here_the_latency_names_this_cpu() -> None:
    latency = measure_latency(DEMO_BUNDLE, None, threads=1, runs=5)
    assert 0 < latency.p50_ms <= latency.p90_ms
    assert latency.cpu == this_cpu().describe() and latency.where == "this machine"


def host(sshd: LoopbackSshd, python: str = sys.executable) -> BenchHost:
    return BenchHost(sshd.host, sshd.identity, sshd.known_hosts, python)


def test_on_a_bench_host_pisight_bench_runs_there(sshd: LoopbackSshd) -> None:
    latency = measure_latency(DEMO_BUNDLE, host(sshd), threads=1, runs=5)
    assert latency.p50_ms > 0 and latency.where == sshd.host
    assert latency.cpu == this_cpu().describe()  # the loopback "Pi" is this machine


def test_a_bench_host_without_pisight_is_one_clear_error(sshd: LoopbackSshd) -> None:
    with pytest.raises(RuntimeError, match="pisight bench failed there"):
        measure_latency(DEMO_BUNDLE, host(sshd, "/nonexistent/python"), threads=1, runs=5)
