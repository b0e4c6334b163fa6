"""Hostile viewers: one that never reads, and a 200-connection storm, beside a normal one."""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from pisight.device.live.options import ServerOptions
from tests.faults.rig import PacedCamera, Rig, start_rig
from tests.faults.test_sources import wait_until


@pytest.fixture
def rig(ssd_bundle: Path) -> Iterator[Rig]:
    running = start_rig(ssd_bundle, PacedCamera(fps=20.0), server=ServerOptions(port=0))
    yield running
    running.close()


class Viewer:
    """Reads the MJPEG stream in a thread and counts frame boundaries."""

    def __init__(self, url: str) -> None:
        self.frames = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(url,), daemon=True)
        self._thread.start()

    def _read(self, url: str) -> None:
        with urllib.request.urlopen(url, timeout=10) as response:
            while not self._stop.is_set():
                self.frames += response.readline().startswith(b"--FRAME")

    def rate(self, seconds: float) -> float:
        start = self.frames
        time.sleep(seconds)
        return (self.frames - start) / seconds

    def close(self) -> None:
        self._stop.set()


def _stalled_viewer(address: tuple[str, int]) -> socket.socket:
    """Asks for the stream, then never reads: its socket buffers fill and stay full."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(address)
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock


def test_a_viewer_that_never_reads_does_not_slow_the_others(rig: Rig) -> None:
    viewer = Viewer(rig.url("/stream.mjpg"))
    time.sleep(2.0)
    alone = viewer.rate(4.0)
    stalled = _stalled_viewer(rig.server.address)
    together = viewer.rate(4.0)
    stalled.close()
    viewer.close()
    print(f"\nnormal viewer: {alone:.1f} fps alone, {together:.1f} fps beside a stalled one")
    assert alone > 5 and together >= 0.9 * alone


def _code(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _status_line(address: tuple[str, int]) -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(address, timeout=10)
    sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
    return sock, sock.recv(64).split(b"\r\n")[0]


def test_200_connections_are_capped_and_streams_go_on(rig: Rig) -> None:
    viewer = Viewer(rig.url("/stream.mjpg"))
    time.sleep(2.0)
    before = viewer.rate(3.0)
    with ThreadPoolExecutor(max_workers=50) as pool:
        storm = list(pool.map(lambda _: _status_line(rig.server.address), range(200)))
    during = viewer.rate(3.0)
    codes = [line.split(b" ")[1] for _, line in storm]
    for sock, _ in storm:
        sock.close()
    admitted = ServerOptions().max_clients - 1  # the normal viewer holds one place
    assert codes.count(b"200") == admitted and codes.count(b"503") == 200 - admitted
    # The server is alive, and frees the places once it notices the closed sockets.
    assert wait_until(lambda: _code(rig.url("/healthz")) == 200)
    print(f"\nviewer: {before:.1f} fps before, {during:.1f} fps during the storm")
    assert during >= 0.8 * before
    viewer.close()


@pytest.mark.parametrize(
    ("request_bytes", "code"),
    [
        (b"GET /nope HTTP/1.1\r\n\r\n", b"404"),
        (b"GET /stream.mjpg?fps=abc&x=%ZZ HTTP/1.1\r\n\r\n", b"200"),
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"405"),
        (b"DELETE / HTTP/1.1\r\n\r\n", b"405"),
        (b"GET / HTTP/1.1 junk\r\n\r\n", b"400"),
        (b"BREW / HTTP/1.1\r\n\r\n", b"405"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    ],
)
def test_bad_requests_get_4xx_never_a_traceback(
    rig: Rig, request_bytes: bytes, code: bytes
) -> None:
    with socket.create_connection(rig.server.address, timeout=10) as sock:
        sock.sendall(request_bytes)
        reply = sock.recv(4096)
    # http.server answers a malformed request line HTTP/0.9-style: an error page, no status line.
    status = reply.split(b"\r\n")[0].split(b" ")[1:2] == [code]
    assert (status or b"Error code: " + code in reply) and b"Traceback" not in reply
