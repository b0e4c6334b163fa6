"""A trial's latency: `pisight bench` on this machine, or on a Pi over SSH.

    latency = measure_latency(Path("trials/0003/bundle"), host=None, threads=1)
    latency.p50_ms, latency.cpu            # 6.12, "AMD EPYC 7B13 (x86_64, 2 cores; avx2)"
    measure_latency(bundle, BenchHost("pi@pi4.local"), threads=None)   # the Pi's own

Every figure is labelled with the CPU it was measured on (docs/ARCHITECTURE.md,
"Measured facts"): a search on the workstation ranks models by a proxy, a search with
--bench-host by what the Pi really does. On the Pi the bundle goes to a temporary
directory (scp, as `pisight deploy` copies), `pisight bench` runs there with the
device's own Python, the JSON comes back and the directory is removed; the service and
the deployed model are not touched.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from pisight.device.fleet.remote import Ssh, SshOptions, Target
from pisight.device.model.bench import benchmark
from pisight.device.model.cpu import CpuInfo, this_cpu
from pisight.device.model.runtime import default_threads

DEFAULT_DEVICE_PYTHON = "/opt/pisight/venv/bin/python"


@dataclass(frozen=True)
class BenchHost:
    target: str
    """USER@HOST[:PORT] of a Pi with pisight installed (install-pi.sh)."""
    identity: Path | None = None
    known_hosts: Path | None = None
    device_python: str = DEFAULT_DEVICE_PYTHON


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p90_ms: float
    cpu: str
    """Where it was measured: the CPU's description."""
    where: str
    """"this machine" or the --bench-host target."""


def measure_latency(
    bundle: Path, host: BenchHost | None, threads: int | None, runs: int = 50
) -> Latency:
    if host is None:
        threads = default_threads() if threads is None else threads
        result = benchmark(bundle, "litert", threads, runs).to_json()
        return Latency(result["latency_ms"]["p50"], result["latency_ms"]["p90"],
                       this_cpu().describe(), "this machine")  # fmt: skip
    return _remote(bundle, host, threads, runs)


def _remote(bundle: Path, host: BenchHost, threads: int | None, runs: int) -> Latency:
    target = Target.parse(host.target, 22)
    ssh = Ssh(target, SshOptions(host.identity, host.known_hosts))
    made = ssh.run("mktemp -d /tmp/pisight-tune.XXXXXX")
    if made.returncode != 0:
        raise RuntimeError(f"--bench-host {target}: cannot reach it ({_reason(made)}); check ssh")
    remote = made.stdout.strip()
    try:
        files = sorted(path for path in bundle.iterdir() if path.is_file())
        copied = ssh.upload(files, remote)
        if copied.returncode != 0:
            raise RuntimeError(
                f"--bench-host {target}: copying the bundle failed ({_reason(copied)})"
            )
        thread_flag = "" if threads is None else f" --threads {int(threads)}"
        command = (
            f"{shlex.quote(host.device_python)} -m pisight.device.cli bench {remote} "
            f"--runs {int(runs)} --no-probe --json {remote}/bench.json{thread_flag} "
            f">/dev/null && cat {remote}/bench.json"
        )
        done = ssh.run(command, timeout_s=600)
        if done.returncode != 0:
            raise RuntimeError(
                f"--bench-host {target}: pisight bench failed there ({_reason(done)}); "
                "is pisight installed (--device-python)?"
            )
        found = json.loads(done.stdout)
    finally:
        ssh.run(f"rm -rf {shlex.quote(remote)}")
    cpu = CpuInfo.from_json(found["cpu"]).describe()
    return Latency(found["latency_ms"]["p50"], found["latency_ms"]["p90"], cpu, str(target))


def _reason(result) -> str:
    lines = (result.stderr or result.stdout or "").strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"
