"""Headless-Chromium screenshots for tests that must see what a browser renders.

    from tests.browser import chromium_path, screenshot
    if chromium_path():
        screenshot("http://127.0.0.1:8080/", Path("page.png"))

``--virtual-time-budget`` lets the page's timers (the 1 s metrics refresh) run before the
shot. It waits for the page to finish loading first, which an <img> of an MJPEG stream
does only once its first frame arrives: with no frame it would wait forever, so
``--timeout`` also caps the wait in real time (measured with Chromium 156).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PROCESS_TIMEOUT_S = 60.0


def chromium_path() -> str | None:
    """The first Chromium-family browser on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _command(exe: str, url: str, output: str, profile: str, size: str, wait_ms: int) -> list:
    """output: --screenshot=PNG or --dump-dom (the DOM after the page's scripts ran)."""
    return [
        exe,
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={size}",
        f"--virtual-time-budget={wait_ms}",
        f"--timeout={wait_ms}",
        output,
        url,
    ]


def screenshot(
    url: str, out_png: Path, width: int = 1280, height: int = 800, wait_ms: int = 4000
) -> Path:
    """Render url for wait_ms of real time and write a PNG of the viewport to out_png."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH: install Debian's chromium")
    out_png = Path(out_png).resolve()
    out_png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="pisight-chromium-") as profile:
        size = f"{width},{height}"
        returncode, _, stderr = _run(
            _command(exe, url, f"--screenshot={out_png}", profile, size, wait_ms)
        )
    if returncode != 0 or not out_png.is_file():
        raise RuntimeError(f"chromium exited with {returncode}: {_tail(stderr)}")
    return out_png


def dump_dom(url: str, wait_ms: int = 4000) -> str:
    """The page's DOM as HTML after wait_ms of its scripts (fetches, timers) running."""
    exe = chromium_path()
    if exe is None:
        raise RuntimeError("no chromium on PATH: install Debian's chromium")
    with tempfile.TemporaryDirectory(prefix="pisight-chromium-") as profile:
        returncode, stdout, stderr = _run(
            _command(exe, url, "--dump-dom", profile, "1280,800", wait_ms)
        )
    if returncode != 0:
        raise RuntimeError(f"chromium exited with {returncode}: {_tail(stderr)}")
    return stdout.decode(errors="replace")


def _run(cmd: list) -> tuple[int, bytes, bytes]:
    # A session of its own lets a timeout kill the renderer and GPU helpers too.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate()
        raise RuntimeError(f"chromium timed out: {_tail(stderr)}") from None
    return proc.returncode, stdout, stderr


def _tail(stderr: bytes, lines: int = 15) -> str:
    return "\n".join(stderr.decode(errors="replace").strip().splitlines()[-lines:])
