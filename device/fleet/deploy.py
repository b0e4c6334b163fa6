"""`pisight deploy`: push a bundle to one or many Pis over SSH and make it live, or not at all.

    pisight deploy out/bundle --host pi@raspberrypi.local
    pisight deploy out/bundle --inventory pis.txt --identity ~/.ssh/pi_ed25519
    pisight deploy out/bundle --host pi@cam1.local --config cam1.toml   # settings too

Per host: verify the bundle here, copy it to a staging directory, verify every sha256 on
the device, load and invoke the staged model with the device's own runtime (the sandboxed
probe `pisight run` starts with: a bundle it cannot run is refused there, one line naming
runtime, op and version, and the running bundle is never touched), swap DEST/current
atomically, restart the service and wait for /healthz to report frames; if that fails,
DEST/current goes back to the previous bundle. With --config the settings file is checked
here first (nothing is sent if it is bad), travels and is verified with the bundle, becomes
/etc/pisight/pisight.toml right after the swap (the old one kept as pisight.toml.previous)
and is restored with the bundle on rollback. Hosts run in parallel; one failing host never
stops the others, and the exit status is 1 if any failed. Uses the system's ssh and scp,
so keys, agents and ~/.ssh/config work as usual.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from pisight.device.config.load import load_config
from pisight.device.fleet.remote import Ssh, SshOptions, Target
from pisight.device.model.bundle import METADATA_FILE, check_bundle, sha256_file
from pisight.device.model.cpu import CpuInfo
from pisight.device.model.runtime import RUNTIMES, threads_phrase


class DeployError(RuntimeError):
    """One step failed on one host; the message is the one line the user sees."""


@dataclass(frozen=True)
class DeployOptions:
    dest: str = "/opt/pisight/models"
    """Directory on the device holding releases/, current and previous."""
    restart_command: str | None = "sudo systemctl restart pisight"
    """Run on the device after the swap; None (--no-service) skips restart and health check."""
    health_url: str = "http://127.0.0.1:8080/healthz"
    health_timeout_s: float = 60.0
    auth_file: str = "/etc/pisight/pisight.env"
    """Device file with PISIGHT_AUTH=user:pass for the live view's Basic auth."""
    config_path: str = "/etc/pisight/pisight.toml"
    """Where a deploy's --config goes on the device (the service's --config)."""
    device_python: str = "/opt/pisight/venv/bin/python"
    """The service's Python on the device (install-pi.sh's venv): it probes the staged model."""
    bench_runs: int | None = None
    """--bench: invokes of `pisight bench` on the device once the bundle is live."""


@dataclass(frozen=True)
class HostResult:
    target: Target
    ok: bool
    release: str
    detail: str


BENCH_RUNS = 50  # --bench: enough for a steady p50 on a Pi (a few seconds), not a soak
CONFIG_NAME = "pisight.toml"  # the settings' name inside a release, beside the bundle


def release_name(checksums: dict[str, str]) -> str:
    # Time first so `ls releases` sorts by age; the random tail keeps two deploys in one
    # second apart, and the manifest hash says which bundle it is.
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{checksums[METADATA_FILE][:8]}-{secrets.token_hex(2)}"


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    """Why a step failed: the last line it wrote to stderr."""
    return (result.stderr.strip().splitlines() or ["no output"])[-1]


def _step(ssh: Ssh, what: str, fix: str, *args: str, timeout_s: float = 120) -> str:
    result = ssh.script(*args, timeout_s=timeout_s)
    if result.returncode != 0:
        raise DeployError(f"{what} failed ({_reason(result)}); {fix}")
    return result.stdout


def deploy_host(
    target: Target,
    bundle: Path,
    checksums: dict[str, str],
    options: DeployOptions,
    ssh_options: SshOptions,
    after_upload: Callable[[str], None] | None = None,
    config: Path | None = None,
) -> HostResult:
    """Deploy to one host; never raises, the result says what happened. config: a settings
    file (already checked) to install as options.config_path with the bundle."""
    ssh, release = Ssh(target, ssh_options), release_name(checksums)
    try:
        _upload(ssh, bundle, checksums, options.dest, release, config)
        if after_upload:
            after_upload(f"{options.dest}/.staging/{release}")  # tests tamper here
        _step(ssh, "verifying on the device", "the copy was damaged; deploy again",
              "verify", options.dest, release)  # fmt: skip
        probed = _step(ssh, "probing the model on the device", "nothing was swapped, the running "
                       "bundle serves on; convert for that runtime or install LiteRT there",
                       "probe", options.dest, release, options.device_python,
                       options.config_path).strip().removeprefix("ok ")  # fmt: skip
        detail = _activate(ssh, options, release, config is not None)
        detail += f"; runs in {probed}{_bench(ssh, options, probed.split(' ')[0])}"
        return HostResult(target, True, release, detail)
    except DeployError as exc:
        return HostResult(target, False, release, str(exc))
    except Exception as exc:  # a timeout or OS error on one host must not stop the rest
        return HostResult(target, False, release, f"{type(exc).__name__}: {exc}")


def _upload(
    ssh: Ssh, bundle: Path, checksums: dict[str, str], dest: str, release: str,
    config: Path | None,
) -> None:  # fmt: skip
    _step(ssh, "connecting", "check --host, --port, --identity and that sshd runs",
          "prepare", dest, release)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="pisight-deploy-") as scratch:
        files = [bundle / name for name in checksums]
        sums_of = dict(checksums)
        if config is not None:
            # Renamed on the way (scp keeps base names); SHA256SUMS covers it like the bundle.
            copy = Path(scratch) / CONFIG_NAME
            shutil.copyfile(config, copy)
            files.append(copy)
            sums_of[CONFIG_NAME] = sha256_file(copy)
        sums = Path(scratch) / "SHA256SUMS"
        sums.write_text("".join(f"{digest}  {name}\n" for name, digest in sums_of.items()))
        result = ssh.upload([*files, sums], f"{dest}/.staging/{release}")
    if result.returncode != 0:
        raise DeployError(
            f"copying the bundle failed ({_reason(result)}); check free space on the device"
        )


def _activate(ssh: Ssh, options: DeployOptions, release: str, with_config: bool) -> str:
    config = options.config_path if with_config else ""
    out = _step(ssh, "verifying on the device", "the copy was damaged; deploy again",
                "activate", options.dest, release, config)  # fmt: skip
    said = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    old, had_config = said.get("old", ""), said.get("config_old")
    settings = f", {options.config_path} installed" if with_config else ""
    if options.restart_command is None:
        _step(ssh, "cleaning up", "check the device's disk", "commit", options.dest, old)
        return f"live (service not restarted){settings}"
    try:
        _step(ssh, "restarting the service", "see `journalctl -u pisight` on the device",
              "restart", options.dest, options.restart_command)  # fmt: skip
        _step(ssh, "health check", "see `journalctl -u pisight` on the device", "health",
              options.dest, options.health_url, str(options.health_timeout_s),
              options.auth_file, options.config_path,
              timeout_s=options.health_timeout_s + 60)  # fmt: skip
    except DeployError as exc:
        raise DeployError(_roll_back(ssh, options, old, release, str(exc), had_config)) from exc
    _step(ssh, "cleaning up", "check the device's disk", "commit", options.dest, old)
    return f"live, /healthz ok{settings}"


def _bench(ssh: Ssh, options: DeployOptions, runtime: str) -> str:
    """The device's own latency, for the result line; a failed bench leaves the deploy live.
    runtime: the one the probe loaded the model in (the service's, from its settings)."""
    if options.bench_runs is None:
        return ""
    runtime = runtime if runtime in RUNTIMES else ""
    result = ssh.script("bench", options.dest, options.device_python, str(options.bench_runs),
                        runtime, timeout_s=300)  # fmt: skip
    if result.returncode != 0:
        return f"; bench failed ({_reason(result)})"
    found = json.loads(result.stdout)
    latency, cpu = found["latency_ms"], CpuInfo.from_json(found["cpu"])
    return (
        f"; bench on the device: p50 {latency['p50']:.2f} ms, p90 {latency['p90']:.2f} ms, "
        f"{found['fps']:.1f} fps ({found['runtime']}, {threads_phrase(found['threads'])}) on "
        f"{cpu.describe()}, kept in {options.dest}/bench.json"
    )


def _roll_back(
    ssh: Ssh, options: DeployOptions, old: str, release: str, problem: str,
    had_config: str | None = None,
) -> str:  # fmt: skip
    restored = ""
    if had_config is not None:  # this deploy installed settings: put the earlier ones back
        _step(ssh, "restoring the settings", f"copy {options.config_path}.previous back by hand",
              "restore-config", options.dest, options.config_path, had_config)  # fmt: skip
        restored = f", {options.config_path} restored"
    if not old:
        return f"{problem}; first deploy here, nothing to roll back to{restored}"
    _step(ssh, "rolling back", "fix the link by hand: ln -sfn OLD current",
          "rollback", options.dest, old, f"releases/{release}")  # fmt: skip
    if options.restart_command:
        ssh.script("restart", options.dest, options.restart_command)
    return f"{problem}; rolled back to {old}{restored}"


def read_targets(args: argparse.Namespace) -> list[Target]:
    specs = list(args.host or [])
    if args.inventory:
        lines = Path(args.inventory).read_text(encoding="utf-8").splitlines()
        specs += [s for line in lines if (s := line.split("#", 1)[0].strip())]
    if not specs:
        raise ValueError("name at least one device: --host USER@HOST or --inventory FILE")
    return list(dict.fromkeys(Target.parse(spec, args.port) for spec in specs))


def print_table(results: Sequence[HostResult]) -> None:
    rows = [("HOST", "RESULT", "RELEASE", "DETAIL")]
    rows += [(str(r.target), "ok" if r.ok else "FAILED", r.release, r.detail) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[3])  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("bundle", type=Path, help="bundle directory (model.tflite, labels.txt, pisight.json)")
    add("--host", action="append", help="USER@HOST[:PORT]; repeat for several devices")
    add("--inventory", type=Path, help="file with one USER@HOST[:PORT] per line (# comments)")
    add("--port", type=int, default=22, help="SSH port when a host names none (default 22)")
    add("--identity", type=Path, help="SSH private key (default: ssh's own choice)")
    add("--known-hosts", type=Path, help="known_hosts file to use instead of ~/.ssh/known_hosts")
    add("--dest", default=DeployOptions.dest, help="models directory on the device")
    add("--no-service", action="store_true", help="only swap the bundle: no restart, no check")
    add("--restart-command", default=DeployOptions.restart_command,
        help="shell command run on the device after the swap (default: %(default)s)")  # fmt: skip
    add("--health-url", default=DeployOptions.health_url, help="polled on the device")
    add("--health-timeout", type=float, default=DeployOptions.health_timeout_s,
        help="seconds for /healthz to report frames before rolling back (default 60)")  # fmt: skip
    add("--auth-file", default=DeployOptions.auth_file,
        help="device file with PISIGHT_AUTH=user:pass for the health check")  # fmt: skip
    add("--config", type=Path, help="settings file to install with the bundle (checked here "
        "first; the device keeps the one before for rollback)")  # fmt: skip
    add("--config-dest", default=DeployOptions.config_path,
        help="where --config goes on the device (default %(default)s)")  # fmt: skip
    add("--device-python", default=DeployOptions.device_python,
        help="the service's Python on the device, which probes the model before the swap "
        "(default %(default)s)")  # fmt: skip
    add("--bench", action="store_true",
        help="once live, run `pisight bench` on each device and print its latency and CPU "
        "(kept on the device as DEST/bench.json)")  # fmt: skip
    add("--jobs", type=int, default=8, help="devices deployed at the same time (default 8)")


def main(args: argparse.Namespace) -> int:
    checksums = check_bundle(args.bundle)
    if args.config is not None:
        load_config(args.config)  # a bad file is one line and exit 2, before any connection
    targets = read_targets(args)
    options = DeployOptions(
        dest=args.dest, restart_command=None if args.no_service else args.restart_command,
        health_url=args.health_url, health_timeout_s=args.health_timeout,
        auth_file=args.auth_file, config_path=args.config_dest,
        device_python=args.device_python, bench_runs=BENCH_RUNS if args.bench else None,
    )  # fmt: skip
    ssh_options = SshOptions(identity=args.identity, known_hosts=args.known_hosts)
    with ThreadPoolExecutor(max_workers=max(1, min(args.jobs, len(targets)))) as pool:
        results = list(
            pool.map(
                lambda t: deploy_host(
                    t, args.bundle, checksums, options, ssh_options, config=args.config
                ),
                targets,
            )
        )
    print_table(results)
    for failed in (r for r in results if not r.ok):
        print(f"pisight deploy: {failed.target}: {failed.detail}", file=sys.stderr)
    return 0 if all(r.ok for r in results) else 1
