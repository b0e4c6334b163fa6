"""Live view over HTTP: the annotated stream, a snapshot, metrics and a health check.

In the style of picamera2's ``examples/mjpeg_server.py``: a ``ThreadingHTTPServer`` and
one shared frame buffer (``FrameBroadcast``, in broadcast.py). The pipeline encodes each
frame to JPEG once, and only while someone watches; every viewer is sent those same bytes.

    broadcast = FrameBroadcast()
    server = LiveServer(ServerOptions(port=8080), broadcast, status=lambda: RunStatus(fps=30.0))
    server.start()
    while running:
        if broadcast.wanted():
            broadcast.publish(cv2.imencode(".jpg", annotated)[1].tobytes())
    server.stop()

Endpoints: ``/`` (page), ``/stream.mjpg``, ``/snapshot.jpg``, ``/metrics`` (Prometheus
text), ``/healthz`` (JSON, 200 while frames flow), and with event media ``/events`` and
each event's snapshot and clip (event_pages.py).
"""

from __future__ import annotations

import html
import logging
import os
import shutil
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit

from pisight.device.events.archive import EventArchive
from pisight.device.live.broadcast import BOUNDARY, FrameBroadcast, send_mjpeg
from pisight.device.live.event_pages import event_answer, is_event_path
from pisight.device.live.options import (
    ServerOptions,
    authorized,
    bind_error,
)
from pisight.device.live.prometheus import render_health, render_metrics
from pisight.device.pipeline.status import RunStatus

log = logging.getLogger(__name__)

SNAPSHOT_WAIT_S = 5.0
# A viewer whose socket accepts nothing for this long is dropped, so it cannot pin a thread.
SEND_TIMEOUT_S = 10.0


class _Server(ThreadingHTTPServer):
    """Holds what every handler shares, and the connections it has admitted."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        options: ServerOptions,
        broadcast: FrameBroadcast,
        status: Callable[[], RunStatus],
        page: bytes,
        events: EventArchive | None = None,
    ) -> None:
        self.options, self.broadcast, self.status, self.page = options, broadcast, status, page
        self.events = events
        self.lock = threading.Lock()
        self.connections: set[socket.socket] = set()
        if ":" in options.host:
            self.address_family = socket.AF_INET6
        super().__init__((options.host, options.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup that stalls offline Pis.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)

    def admit(self, conn: socket.socket) -> bool:
        with self.lock:
            if len(self.connections) >= self.options.max_clients:
                return False
            self.connections.add(conn)
            return True

    def release(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections.discard(conn)

    def abort_all(self) -> None:
        """Unblock handlers stuck sending to viewers that stopped reading."""
        with self.lock:
            for conn in self.connections:
                with suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)


# path -> _Handler method
_ROUTES = {
    "/": "_page",
    "/index.html": "_page",
    "/stream.mjpg": "_stream",
    "/snapshot.jpg": "_snapshot",
    "/metrics": "_metrics",
    "/healthz": "_healthz",
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "pisight"
    sys_version = ""
    timeout = SEND_TIMEOUT_S

    def handle(self) -> None:
        self.admitted = self.server.admit(self.connection)
        try:
            super().handle()
        finally:
            if self.admitted:
                self.server.release(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would flood a Pi's journal at 1 request/s per viewer

    def do_GET(self) -> None:
        self._dispatch(allowed=True)

    def do_HEAD(self) -> None:
        self._dispatch(allowed=True)

    def __getattr__(self, name: str) -> Any:
        # Every other method (POST, PUT, ...) gets 405 rather than http.server's 501.
        if name.startswith("do_"):
            return lambda: self._dispatch(allowed=False)
        raise AttributeError(name)

    def _dispatch(self, allowed: bool) -> None:
        self.close_connection = True
        try:
            self._drain_body()
            path = urlsplit(self.path).path
            route = "_events" if is_event_path(path) else _ROUTES.get(path)
            if not self.admitted:
                self._reply(503, b"too many connections\n", {"Retry-After": "5"})
            elif not authorized(self.headers.get("Authorization", ""), self.server.options.auth):
                self._reply(
                    401, b"authentication required\n", {"WWW-Authenticate": 'Basic realm="pisight"'}
                )
            elif not allowed:
                self._reply(405, b"method not allowed\n", {"Allow": "GET, HEAD"})
            elif route is None:
                self._reply(404, b"not found\n")
            else:
                getattr(self, route)()
        except OSError:
            pass  # the client went away or stopped reading; nothing to tell anyone
        except Exception as exc:
            log.warning("%s %s failed: %s", self.command, self.path, exc)
            with suppress(OSError):
                self._reply(500, b"internal error\n")

    def _drain_body(self) -> None:
        # Closing with unread request bytes makes the kernel send RST, which can
        # destroy our error response before the client reads it.
        length = self.headers.get("Content-Length", "0")
        if length.isdigit() and 0 < int(length) <= 1 << 20:
            self.rfile.read(int(length))

    def _reply(
        self,
        code: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _page(self) -> None:
        self._reply(200, self.server.page, content_type="text/html; charset=utf-8")

    def _metrics(self) -> None:
        body = render_metrics(self._status()).encode()
        self._reply(200, body, content_type="text/plain; version=0.0.4; charset=utf-8")

    def _healthz(self) -> None:
        ok, body = render_health(self._status())
        self._reply(200 if ok else 503, body.encode(), content_type="application/json")

    def _status(self) -> RunStatus:
        status = self.server.status()
        if status.viewers is None:  # the server is who counts its viewers
            status = replace(status, viewers=self.server.broadcast.viewers)
        return status

    def _events(self) -> None:
        url = urlsplit(self.path)
        answer = event_answer(self.server.events, url.path, url.query)
        if answer.file is None:
            self._reply(answer.code, answer.body, content_type=answer.content_type)
            return
        with answer.file.open("rb") as file:
            self.send_response(answer.code)
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(os.fstat(file.fileno()).st_size))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                shutil.copyfileobj(file, self.wfile, 64 * 1024)

    def _snapshot(self) -> None:
        broadcast = self.server.broadcast
        current = broadcast.latest()
        with broadcast.watching("snapshot"):
            frame = broadcast.next_frame(current[0] if current else 0, SNAPSHOT_WAIT_S)
        frame = frame or broadcast.latest()
        if frame is None:
            self._reply(503, b"no frame yet\n", {"Retry-After": "1"})
        else:
            self._reply(200, frame[1], content_type="image/jpeg")

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.end_headers()
        if self.command == "HEAD":
            return
        send_mjpeg(self.server.broadcast, self.wfile, self.server.options.stream_fps)


def _load_page(title: str) -> bytes:
    template = (Path(__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    return template.replace("{{title}}", html.escape(title)).encode("utf-8")


class LiveServer:
    """Serves the broadcast and status over HTTP from a daemon thread."""

    def __init__(
        self, options: ServerOptions, broadcast: FrameBroadcast, status: Callable[[], RunStatus],
        events: EventArchive | None = None,
    ) -> None:  # fmt: skip
        self._options, self._broadcast, self._status = options, broadcast, status
        self._events = events
        self._page = _load_page(options.title)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._server = _Server(
                self._options, self._broadcast, self._status, self._page, self._events
            )
        except OSError as exc:
            raise bind_error(self._options.host, self._options.port, exc) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},  # short, so that stop() returns quickly
            name="pisight-http",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        self._broadcast.close()
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.abort_all()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1.0)

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("the server is not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)
