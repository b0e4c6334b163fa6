"""What the deploy tests share: bundles, the `pisight deploy` call, a service over SSH, and
a device whose only runtime is tflite-runtime 2.14."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from pisight.device.cli import main as cli_main
from tests.device.fleet.sshd import LoopbackSshd
from tests.helpers import REPO

DEMO_BUNDLE = REPO / "models" / "demo" / "bundle"  # a real INT8 SSD, no TensorFlow to build


def make_bundle(directory: Path, source: Path, model: bytes | None = None) -> Path:
    directory.mkdir(parents=True)
    (directory / "model.tflite").write_bytes(model or (source / "model.tflite").read_bytes())
    (directory / "labels.txt").write_bytes((source / "labels.txt").read_bytes())
    files = {
        name: hashlib.sha256((directory / name).read_bytes()).hexdigest()
        for name in ("model.tflite", "labels.txt")
    }
    metadata = json.loads((source / "pisight.json").read_text())
    (directory / "pisight.json").write_text(json.dumps({**metadata, "files": files}))
    return directory


def deploy(sshd: LoopbackSshd, bundle: Path, dest: Path, *extra: str) -> int:
    """`pisight deploy` to the loopback host; its Python (which probes the model) is this
    test's, unless extra names another --device-python."""
    return cli_main(
        ["deploy", str(bundle), "--host", sshd.host, "--dest", str(dest), *sshd.ssh_args(),
         "--device-python", sys.executable, *extra]
    )  # fmt: skip


def releases(dest: Path) -> list[str]:
    return sorted(p.name for p in (dest / "releases").iterdir())


def settings(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def service_settings(path: Path, dest: Path, video: Path, port: int, auth: Path) -> Path:
    """Settings of a service that runs DEST/current on a looped video, its live view on
    PORT behind the password in AUTH."""
    return settings(path, (
        f'[model]\npath = "{dest}/current"\n[source]\nspec = "{video}"\nloop = true\n'
        f'realtime = true\n[live]\nlisten = "127.0.0.1:{port}"\nauth_file = "{auth}"\n'
        "overlay = false\n"
    ))  # fmt: skip


def restart_command(installed: Path, pidfile: Path, log: Path) -> str:
    """What `systemctl restart pisight` does, for a service that is a background process:
    stop the one running, start `pisight run --config INSTALLED`."""
    return (
        f"kill $(cat {pidfile} 2>/dev/null) 2>/dev/null; sleep 1; "
        f"nohup {sys.executable} -m pisight.device.cli run --config {installed} "
        f"</dev/null >>{log} 2>&1 & echo $! >{pidfile}"
    )


def tflite_runtime_python(directory: Path) -> Path:
    """A device Python whose only runtime is tflite-runtime 2.14: the cached Python 3.11 venv
    (legacy_runtime.py) with this checkout's pisight.device (and flatbuffers, which the
    model reader needs) on its path. Skips when that venv cannot be built here."""
    from pisight.convert.conversion.legacy_runtime import ensure_legacy_env

    legacy = ensure_legacy_env()
    if legacy is None:
        pytest.skip("no tflite-runtime 2.14 environment here (needs Python 3.11 and pip)")
    import flatbuffers

    site = directory / "site"
    (site / "pisight").mkdir(parents=True)
    (site / "pisight" / "device").symlink_to(REPO / "device")
    (site / "flatbuffers").symlink_to(Path(flatbuffers.__file__).parent)
    python = directory / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {legacy} "$@"\n')
    python.chmod(0o755)
    return python
