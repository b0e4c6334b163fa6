"""`pisight deploy` against a real OpenSSH server on loopback, into temporary directories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pisight.device.fleet.deploy import DeployOptions, deploy_host
from pisight.device.fleet.remote import SshOptions, Target
from pisight.device.model.bundle import check_bundle
from pisight.device.model.compatibility import runtime_version
from pisight.device.sources.testpattern import write_video
from tests.device.fleet.deploying import (
    DEMO_BUNDLE,
    deploy,
    make_bundle,
    releases,
    restart_command,
    service_settings,
    settings,
)
from tests.device.fleet.sshd import LoopbackSshd, free_port


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle", DEMO_BUNDLE)


def test_good_bundle_goes_live(sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys) -> None:
    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service") == 0
    current = dest / "current"
    assert current.is_symlink() and os.readlink(current).startswith("releases/")
    for name in ("model.tflite", "labels.txt", "pisight.json"):
        assert (current / name).read_bytes() == (bundle / name).read_bytes()
    assert (current / "SHA256SUMS").is_file()  # what the device verified against
    assert not (dest / ".staging").exists() and not (dest / "previous").exists()
    out = capsys.readouterr().out
    assert "HOST" in out and f"127.0.0.1:{sshd.port}" in out and " ok " in out
    assert f"runs in litert {runtime_version('litert')}" in out  # the device's probe said so


def test_bench_prints_and_keeps_the_devices_latency_with_its_cpu(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    from pisight.device.model.cpu import this_cpu

    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service", "--bench") == 0
    out = capsys.readouterr().out
    kept = json.loads((dest / "bench.json").read_text())  # on the device, beside releases/
    assert kept["runs"] == 50 and kept["latency_ms"]["p50"] > 0 and kept["fps"] > 0
    assert kept["cpu"]["model"] == this_cpu().model  # the loopback "device" is this machine
    line = f"bench on the device: p50 {kept['latency_ms']['p50']:.2f} ms"
    assert line in out and this_cpu().describe() in out and f"{dest}/bench.json" in out
    assert not (dest / ".bench.json.tmp").exists()


def test_bench_runs_in_the_runtime_the_probe_loaded(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    # The device's Python notes how it is called: bench must get the probe's runtime (the
    # one the service's settings choose), not the first importable one.
    calls, python = tmp_path / "calls.txt", tmp_path / "device-python"
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    dest = tmp_path / "models"
    flags = ("--no-service", "--bench", "--device-python", str(python))
    assert deploy(sshd, bundle, dest, *flags) == 0
    bench = [line for line in calls.read_text().splitlines() if " bench " in line]
    assert len(bench) == 1 and "--runtime litert" in bench[0]
    assert "runs in litert" in capsys.readouterr().out


def test_a_failed_bench_leaves_the_deploy_live(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    # The device's Python probes as usual but cannot run `pisight bench`.
    python = tmp_path / "device-python"
    python.write_text(
        f'#!/bin/sh\n[ "$2" = pisight.device.cli ] && exit 3\nexec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    dest = tmp_path / "models"
    assert (
        deploy(sshd, bundle, dest, "--no-service", "--bench", "--device-python", str(python)) == 0
    )
    out = capsys.readouterr().out
    assert " ok " in out and "bench failed (pisight bench failed there)" in out
    assert (dest / "current").is_symlink() and not (dest / "bench.json").exists()


def test_redeploys_keep_exactly_one_previous(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "models"
    links = []
    for _ in range(3):
        assert deploy(sshd, bundle, dest, "--no-service") == 0
        links.append(os.readlink(dest / "current"))
    assert len(set(links)) == 3
    assert os.readlink(dest / "previous") == links[1]
    assert releases(dest) == sorted(link.split("/")[1] for link in links[1:])


def test_bundle_damaged_in_transit_is_refused(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service") == 0
    live = os.readlink(dest / "current")

    def tamper(staging: str) -> None:  # the device and this test share a filesystem
        with open(Path(staging) / "model.tflite", "r+b") as handle:
            handle.write(b"XXXX")

    target = Target.parse(sshd.host, 22)
    ssh = SshOptions(identity=sshd.identity, known_hosts=sshd.known_hosts)
    options = DeployOptions(dest=str(dest), restart_command=None, device_python=sys.executable)
    result = deploy_host(target, bundle, check_bundle(bundle), options, ssh, after_upload=tamper)
    assert not result.ok
    assert "checksum mismatch on the device" in result.detail and "model.tflite" in result.detail
    assert os.readlink(dest / "current") == live
    assert releases(dest) == [live.split("/")[1]]
    assert not any((dest / ".staging").iterdir())


def test_locally_mismatched_bundle_is_refused_before_connecting(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    (bundle / "labels.txt").write_text("tampered\n")
    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "labels.txt does not match its sha256" in err[0]
    assert not dest.exists()


def test_two_hosts_in_parallel_one_fails(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    dead = f"{sshd.user}@127.0.0.1:{free_port()}"
    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service", "--host", dead) == 1
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if "127.0.0.1" in line]
    assert len(rows) == 2
    assert any(" ok " in row and str(sshd.port) in row for row in rows)
    assert any("FAILED" in row and dead.split("@")[1] in row for row in rows)
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and dead.split("@")[1] in errors[0] and "check --host" in errors[0]
    assert (dest / "current").is_symlink()


def test_config_installed_with_the_bundle_and_the_old_one_kept(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    dest, installed = tmp_path / "models", tmp_path / "etc/pisight/pisight.toml"
    first = settings(tmp_path / "first.toml", '[model]\npath = "/opt/m"\n')
    second = settings(tmp_path / "cam1.toml", '[model]\npath = "/opt/m"\nthreshold = 0.6\n')
    where = ["--no-service", "--config-dest", str(installed)]
    assert deploy(sshd, bundle, dest, *where, "--config", str(first)) == 0  # makes etc/pisight
    assert (
        installed.read_text() == first.read_text() and oct(installed.stat().st_mode)[-3:] == "644"
    )
    assert not installed.with_name("pisight.toml.previous").exists()
    assert deploy(sshd, bundle, dest, *where, "--config", str(second)) == 0
    assert f"{installed} installed" in capsys.readouterr().out
    assert installed.read_text() == second.read_text()
    assert installed.with_name("pisight.toml.previous").read_text() == first.read_text()
    assert (dest / "current/pisight.toml").read_text() == second.read_text()  # verified copy
    assert "pisight.toml" in (dest / "current/SHA256SUMS").read_text()
    assert not installed.with_name("pisight.toml.new").exists()
    assert deploy(sshd, bundle, dest, *where) == 0  # no --config: the settings stay
    assert installed.read_text() == second.read_text()


def test_bad_config_is_refused_before_connecting(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    bad = settings(tmp_path / "bad.toml", '[model]\npath = "/opt/m"\nthreshhold = 0.6\n')
    dest = tmp_path / "models"
    assert deploy(sshd, bundle, dest, "--no-service", "--config", str(bad)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}:3: [model] threshhold" in err[0] and "threshold?" in err[0]
    assert not dest.exists()


def test_restart_health_check_and_rollback(
    sshd: LoopbackSshd, bundle: Path, tmp_path: Path, capsys
) -> None:
    """The restart command starts a real `pisight run --config` on the installed settings
    over SSH, as the service does; settings whose source is gone never report frames on
    /healthz and are rolled back with their bundle (a model the device cannot load never
    gets that far: test_deploy_probe.py). The live view asks for the password
    of the settings' auth_file, which the health check finds there too."""
    dest, port, pidfile = tmp_path / "models", free_port(), tmp_path / "run.pid"
    installed = tmp_path / "etc/pisight.toml"
    video = write_video(tmp_path / "clip.avi", frames=30)
    password = settings(tmp_path / "live.auth", "viewer:s3cret\n")
    password.chmod(0o600)
    good_settings = service_settings(tmp_path / "good.toml", dest, video, port, password)
    gone = tmp_path / "unplugged.avi"
    new_settings = settings(tmp_path / "new.toml", good_settings.read_text().replace(
        str(video), str(gone)) + "[tracking]\n")  # fmt: skip
    restart = restart_command(installed, pidfile, tmp_path / "run.log")
    flags = ["--restart-command", restart, "--health-url", f"http://127.0.0.1:{port}/healthz",
             "--health-timeout", "20", "--auth-file", str(tmp_path / "no-such.env"),
             "--config-dest", str(installed)]  # fmt: skip
    try:
        assert deploy(sshd, bundle, dest, *flags, "--config", str(good_settings)) == 0, (
            capsys.readouterr(), (tmp_path / "run.log").read_text(),
        )  # fmt: skip
        assert "/healthz ok" in capsys.readouterr().out
        good = os.readlink(dest / "current")
        assert deploy(sshd, bundle, dest, *flags, "--config", str(new_settings)) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert (
            len(err) == 1 and "health check failed" in err[0] and f"rolled back to {good}" in err[0]
        )
        assert f"{installed} restored" in err[0]
        assert os.readlink(dest / "current") == good
        assert releases(dest) == [good.split("/")[1]]
        assert installed.read_text() == good_settings.read_text()
    finally:
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)
