"""scripts/install-pi.sh: syntax, shellcheck, --check on an empty root changes nothing, and
the settings file: installed once, never overwritten, checked like the service checks it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import assert_shell_script_clean

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "install-pi.sh"
EXAMPLE = SCRIPT.with_name("pisight.toml")


def test_script_parses_and_passes_shellcheck() -> None:
    assert_shell_script_clean(SCRIPT)


def test_check_on_fresh_root_reports_everything_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--check", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    for item in ("system user pisight", "group video", "--system-site-packages",
                 "pisight[device]", "models/current", "pisight.service enabled",
                 "pisight.env", "settings /etc/pisight/pisight.toml"):  # fmt: skip
        assert item in result.stdout, result.stdout
    assert list(tmp_path.iterdir()) == []  # --check changed nothing


def complete_root(root: Path, settings: bool = True) -> Path:
    """Lay out what an install leaves behind; its pisight runs this checkout's CLI."""
    etc = root / "etc"
    (etc / "systemd/system/multi-user.target.wants").mkdir(parents=True)
    (etc / "passwd").write_text("pisight:x:999:999::/opt/pisight:/usr/sbin/nologin\n")
    (etc / "group").write_text("video:x:44:pi,pisight\n")
    (etc / "systemd/system/pisight.service").write_text("[Service]\n")
    (etc / "systemd/system/multi-user.target.wants/pisight.service").symlink_to(
        "/etc/systemd/system/pisight.service"
    )
    (etc / "pisight").mkdir()
    (etc / "pisight/pisight.env").write_text("PISIGHT_AUTH=pisight:x\n")
    (etc / "pisight/pisight.env").chmod(0o600)
    if settings:
        shutil.copy(EXAMPLE, etc / "pisight/pisight.toml")
    venv = root / "opt/pisight/venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("include-system-site-packages = true\n")
    (venv / "bin/pisight").write_text(
        f'#!/bin/sh\nexec {sys.executable} -m pisight.device.cli "$@"\n'
    )
    (venv / "bin/pisight").chmod(0o755)
    (venv / "bin/pip").write_text("#!/bin/sh\nexit 0\n")  # the install step, not under test
    (venv / "bin/pip").chmod(0o755)
    (root / "opt/pisight/models/releases/initial").mkdir(parents=True)
    (root / "opt/pisight/models/current").symlink_to("releases/initial")
    return root


def check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), "--check", "--root", str(root)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_check_passes_on_a_complete_root(tmp_path: Path) -> None:
    result = check(complete_root(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "missing:" not in result.stdout and "pisight is installed" in result.stdout


def test_check_runs_check_config_on_the_settings(tmp_path: Path) -> None:
    settings = complete_root(tmp_path) / "etc/pisight/pisight.toml"
    text = settings.read_text()
    settings.write_text(text.replace("#threshold = 0.5", "threshold = 5"))
    number = text.splitlines().index("#threshold = 0.5") + 1
    result = check(tmp_path)
    assert result.returncode != 0
    line = next(line for line in result.stdout.splitlines() if line.startswith("missing:"))
    assert "a valid /etc/pisight/pisight.toml" in line
    assert f"pisight.toml:{number}: [model] threshold = 5: must be between 0 and 1" in line
    # The password file is what makes the public listen address acceptable.
    settings.write_text(EXAMPLE.read_text())
    (tmp_path / "etc/pisight/pisight.env").write_text("OTHER=1\n")
    assert "[live] listen" in check(tmp_path).stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the install itself runs as root only")
def test_install_adds_the_settings_once_and_keeps_edits(tmp_path: Path) -> None:
    root = complete_root(tmp_path, settings=False)
    (root / "etc/pisight").chmod(0o750)  # as older installs left it
    install = ["bash", str(SCRIPT), "--root", str(root)]
    first = subprocess.run(install, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    settings = root / "etc/pisight/pisight.toml"
    assert settings.read_text() == EXAMPLE.read_text()
    assert oct(settings.stat().st_mode)[-3:] == "644"
    assert oct((root / "etc/pisight").stat().st_mode)[-3:] == "755"  # the service reads it
    edited = EXAMPLE.read_text().replace("#threshold = 0.5", "threshold = 0.7")
    settings.write_text(edited)
    again = subprocess.run(install, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert settings.read_text() == edited
