"""`pisight deploy` probes the staged model with the device's own runtime before the swap.

The loopback host's Python is tflite-runtime 2.14's (deploying.tflite_runtime_python);
the bundle it cannot run is the demo detector with CONV_2D raised to version 8, exactly
what a newer converter writes (LiteRT 2.3 runs it, tflite-runtime 2.14 stops at 7). The
service is a real `pisight run` started by the restart command, as in test_deploy.py.
"""

from __future__ import annotations

import base64
import os
import subprocess
import urllib.request
from pathlib import Path

import psutil

from pisight.device.sources.testpattern import write_video
from tests.device.fleet.deploying import (
    DEMO_BUNDLE,
    deploy,
    make_bundle,
    releases,
    restart_command,
    service_settings,
    settings,
    tflite_runtime_python,
)
from tests.device.fleet.sshd import LoopbackSshd
from tests.helpers import free_port
from tests.tflite_edit import with_op_version


def healthz(port: int, auth: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz")
    request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status


def test_bundle_the_device_runtime_cannot_run_is_refused_before_the_swap(
    sshd: LoopbackSshd, tmp_path: Path, capsys
) -> None:
    pi_python = tflite_runtime_python(tmp_path / "pi")
    dest, port, pidfile = tmp_path / "models", free_port(), tmp_path / "run.pid"
    installed, log = tmp_path / "etc/pisight.toml", tmp_path / "run.log"
    video = write_video(tmp_path / "clip.avi", frames=30, width=320, height=240)
    auth = settings(tmp_path / "live.auth", "viewer:s3cret\n")
    auth.chmod(0o600)
    cam_settings = service_settings(tmp_path / "cam.toml", dest, video, port, auth)
    flags = ["--device-python", str(pi_python),
             "--restart-command", restart_command(installed, pidfile, log),
             "--health-url", f"http://127.0.0.1:{port}/healthz", "--health-timeout", "30",
             "--config-dest", str(installed)]  # fmt: skip
    good = make_bundle(tmp_path / "good", DEMO_BUNDLE)
    newer = with_op_version((DEMO_BUNDLE / "model.tflite").read_bytes(), "CONV_2D", 8)
    too_new = make_bundle(tmp_path / "too-new", DEMO_BUNDLE, model=newer)
    try:
        # A good bundle still goes live, and the device's runtime is named in the result.
        assert deploy(sshd, good, dest, *flags, "--config", str(cam_settings)) == 0, (
            capsys.readouterr(), log.read_text() if log.exists() else "",
        )  # fmt: skip
        out = capsys.readouterr().out
        assert "/healthz ok" in out and "runs in tflite-runtime 2.14.0" in out
        live, service = os.readlink(dest / "current"), int(pidfile.read_text())

        assert deploy(sshd, too_new, dest, *flags) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1, err
        assert "probing the model on the device failed" in err[0]
        assert "tflite-runtime 2.14.0 cannot run it: it has no CONV_2D version 8" in err[0]
        assert "nothing was swapped" in err[0]
        # Untouched: same link, same releases, nothing staged, the same service serving.
        assert os.readlink(dest / "current") == live
        assert releases(dest) == [live.split("/")[1]]
        assert not any((dest / ".staging").iterdir())
        assert int(pidfile.read_text()) == service and psutil.pid_exists(service)
        assert healthz(port, "viewer:s3cret") == 200
    finally:
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


def test_model_that_cannot_load_is_refused_before_the_swap(
    sshd: LoopbackSshd, tmp_path: Path, capsys
) -> None:
    dest = tmp_path / "models"
    good = make_bundle(tmp_path / "good", DEMO_BUNDLE)
    assert deploy(sshd, good, dest, "--no-service") == 0
    live = os.readlink(dest / "current")
    broken = make_bundle(tmp_path / "broken", DEMO_BUNDLE, model=b"not a tflite model" * 4)
    assert deploy(sshd, broken, dest, "--no-service") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "probing the model on the device failed (litert" in err[0], err
    assert "cannot run it" in err[0]
    assert os.readlink(dest / "current") == live and releases(dest) == [live.split("/")[1]]


def test_device_without_pisight_is_refused_before_the_swap(
    sshd: LoopbackSshd, tmp_path: Path, capsys
) -> None:
    dest = tmp_path / "models"
    good = make_bundle(tmp_path / "good", DEMO_BUNDLE)
    missing = tmp_path / "no-venv/bin/python"
    assert deploy(sshd, good, dest, "--no-service", "--device-python", str(missing)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"no {missing} on the device" in err[0], err
    assert not (dest / "current").exists() and releases(dest) == []


def test_the_settings_a_deploy_brings_pick_the_runtime_that_probes(
    sshd: LoopbackSshd, tmp_path: Path, capsys
) -> None:
    """[model] runtime of the settings that will be live is the runtime the probe uses:
    asking for tflite-runtime on a host that only has LiteRT is refused before the swap."""
    dest = tmp_path / "models"
    good = make_bundle(tmp_path / "good", DEMO_BUNDLE)
    forced = settings(tmp_path / "cam.toml", f'[model]\npath = "{dest}/current"\n'
                      'runtime = "tflite-runtime"\n')  # fmt: skip
    where = ["--no-service", "--config-dest", str(tmp_path / "etc/pisight.toml")]
    assert deploy(sshd, good, dest, *where, "--config", str(forced)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "tflite-runtime cannot run it: runtime 'tflite-runtime' is not importable" in err[0]
    assert not (dest / "current").exists() and not (tmp_path / "etc/pisight.toml").exists()
