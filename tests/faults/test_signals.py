"""SIGTERM mid-stream: exit 0 within 5 s, files flushed, the port free at once."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from pisight.device.sources.testpattern import write_video
from tests.helpers import free_port


def test_sigterm_mid_stream(ssd_bundle: Path, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", frames=30)
    port, log = free_port(), tmp_path / "d.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", "run", "--model", str(ssd_bundle),
         "--source", str(video), "--loop", "--realtime", "--listen", f"127.0.0.1:{port}",
         "--detections", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not log.exists() or log.stat().st_size < 500):
        time.sleep(0.1)
    stream = urllib.request.urlopen(f"http://127.0.0.1:{port}/stream.mjpg", timeout=10)
    assert stream.readline().startswith(b"--FRAME")  # a viewer is mid-stream
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert time.monotonic() - sent < 5.0
    assert "Traceback" not in stderr
    lines = log.read_text().splitlines()
    assert len(lines) == int(stdout.split("frames=")[1].split()[0])
    json.loads(lines[-1])  # the last record is whole
    with socket.socket() as sock:  # what a restarted service does at once
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    stream.close()
