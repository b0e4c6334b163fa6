"""`pisight flash` from a wheel installed (not editable) in a fresh venv: no checkout needed.

The wheel is built from this checkout with pip; the venv has no system site-packages and
gets pisight only from that wheel (`pip install --no-deps`), its dependencies through a
.pth naming the directories this interpreter imports them from. It flashes a directory
laid out like a Bookworm boot partition, carrying the installed pisight as its wheel.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.device.fleet.deploying import DEMO_BUNDLE
from tests.device.fleet.test_flash import KEY, boot_partition
from tests.helpers import REPO

PI_FILES = ("install-pi.sh", "pisight.service", "pisight.toml")
WHEEL = "pisight-0.1.0-py3-none-any.whl"


def run(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(list(map(str, command)), capture_output=True, text=True, cwd=cwd,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
    return done


def fresh_venv(directory: Path, wheel: Path) -> Path:
    """A venv holding pisight from `wheel` only; its dependencies (and pip) from here."""
    import ai_edge_litert
    import cv2
    import numpy
    import pip
    import psutil

    run(sys.executable, "-m", "venv", "--without-pip", directory, cwd=directory.parent)
    site = next((directory / "lib").glob("python3*/site-packages"))
    found = {str(Path(m.__file__).resolve().parents[1])
             for m in (numpy, cv2, psutil, ai_edge_litert, pip)}  # fmt: skip
    (site / "zz_dependencies.pth").write_text("\n".join(sorted(found)) + "\n")
    python = directory / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel, cwd=directory)
    return python


def contents(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_record_matches(files: dict[str, bytes]) -> None:
    record = next(name for name in files if name.endswith(".dist-info/RECORD"))
    rows = list(csv.reader(io.StringIO(files[record].decode())))
    assert {row[0] for row in rows} == set(files)
    for name, digest, size in rows:
        if name == record:
            continue
        expected = base64.urlsafe_b64encode(hashlib.sha256(files[name]).digest()).rstrip(b"=")
        assert (digest, int(size)) == (f"sha256={expected.decode()}", len(files[name])), name


@pytest.mark.slow
def test_flash_from_an_installed_wheel_carries_it_and_the_pi_files(tmp_path: Path) -> None:
    built = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", REPO, "-w", built, cwd=tmp_path)
    wheel = built / WHEEL
    python = fresh_venv(tmp_path / "venv", wheel)
    where = run(python, "-c", "import pisight.device.fleet.wheel as w; "
                "print(w.__file__, w.is_checkout())", cwd=tmp_path).stdout.split()  # fmt: skip
    assert where[0].startswith(str(tmp_path / "venv")) and where[1] == "False"

    key = tmp_path / "key.pub"
    key.write_text(KEY + "\n")
    boot = boot_partition(tmp_path / "bootfs", cloud_init=False)
    flashed = run(python.with_name("pisight"), "flash", boot, "--bundle", DEMO_BUNDLE,
                  "--hostname", "cam1", "--ssh-key", key, cwd=tmp_path)  # fmt: skip
    assert f"wrote firstrun.sh, cmdline.txt and pisight/ ({WHEEL}, bundle" in flashed.stdout
    card = boot / "pisight"
    for name in PI_FILES:
        assert (card / name).read_bytes() == (REPO / "scripts" / name).read_bytes(), name
    for name in ("model.tflite", "labels.txt", "pisight.json"):
        assert (card / "bundle" / name).read_bytes() == (DEMO_BUNDLE / name).read_bytes()
    assert f"/boot/firmware/pisight/{WHEEL}" in (boot / "firstrun.sh").read_text()

    # The carried wheel is the installed pisight: the built wheel's files, byte for byte.
    carried, original = contents(card / WHEEL), contents(wheel)
    assert_record_matches(carried)
    record = next(name for name in original if name.endswith("RECORD"))
    assert set(carried) == set(original)
    assert all(carried[name] == original[name] for name in original if name != record)
    assert "pisight/device/fleet/payload/install-pi.sh" in carried

    # And it installs and runs on its own, as the Pi's first boot will install it.
    again = fresh_venv(tmp_path / "pi-venv", card / WHEEL)
    assert "flash" in run(again.with_name("pisight"), "--help", cwd=tmp_path).stdout
