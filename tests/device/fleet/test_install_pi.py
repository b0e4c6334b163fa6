"""scripts/install-pi.sh: syntax, shellcheck, and --check on an empty root changes nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "install-pi.sh"


def test_script_parses_and_passes_shellcheck() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_check_on_fresh_root_reports_everything_missing(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(SCRIPT), "--check", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    for item in ("system user pisight", "group video", "--system-site-packages",
                 "pisight[device]", "models/current", "pisight.service enabled",
                 "pisight.env"):  # fmt: skip
        assert item in result.stdout, result.stdout
    assert list(tmp_path.iterdir()) == []  # --check changed nothing


def test_check_passes_on_a_complete_root(tmp_path: Path) -> None:
    """Lay out what an install leaves behind; --check then reports nothing missing."""
    etc = tmp_path / "etc"
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
    venv = tmp_path / "opt/pisight/venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text("include-system-site-packages = true\n")
    (venv / "bin/pisight").write_text("#!/bin/sh\n")
    (venv / "bin/pisight").chmod(0o755)
    (tmp_path / "opt/pisight/models/releases/initial").mkdir(parents=True)
    (tmp_path / "opt/pisight/models/current").symlink_to("releases/initial")
    result = subprocess.run(
        ["bash", str(SCRIPT), "--check", "--root", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert "missing:" not in result.stdout and "pisight is installed" in result.stdout
