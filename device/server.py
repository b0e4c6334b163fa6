"""Live view over HTTP: the annotated stream, a snapshot, metrics and a health check.

In the style of picamera2's ``examples/mjpeg_server.py``: a ``ThreadingHTTPServer`` and
one shared frame buffer guarded by a ``Condition``. The pipeline encodes each frame to
JPEG once, and only while someone watches; every viewer is sent those same bytes.

    broadcast = FrameBroadcast()
    server = LiveServer(ServerOptions(port=8080), broadcast, status=lambda: {"fps": 30.0})
    server.start()
    while running:
        if broadcast.wanted():
            broadcast.publish(cv2.imencode(".jpg", annotated)[1].tobytes())
    server.stop()

Endpoints: ``/`` (page), ``/stream.mjpg``, ``/snapshot.jpg``, ``/metrics`` (Prometheus
text), ``/healthz`` (JSON, 200 while frames flow).
"""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import html
import ipaddress
import json
import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import TCPServer
from typing import Any, Literal
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

BOUNDARY = "FRAME"
# A frame older than this means the pipeline has stalled or the source has ended.
FRESH_FRAME_S = 5.0
SNAPSHOT_WAIT_S = 5.0
# A viewer whose socket accepts nothing for this long is dropped, so it cannot pin a thread.
SEND_TIMEOUT_S = 10.0


class FrameBroadcast:
    """The latest encoded JPEG, shared by every viewer."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._seq = 0
        self._jpeg: bytes | None = None
        self._watchers = {"stream": 0, "snapshot": 0}
        self._closed = False

    def wanted(self) -> bool:
        """True while someone would see a new frame; the pipeline skips encoding otherwise."""
        with self._cond:
            return not self._closed and sum(self._watchers.values()) > 0

    def publish(self, jpeg: bytes) -> None:
        with self._cond:
            self._seq += 1
            self._jpeg = jpeg
            self._cond.notify_all()

    def next_frame(self, after_seq: int, timeout: float) -> tuple[int, bytes] | None:
        """Wait for a frame newer than after_seq; None on timeout or once closed."""
        with self._cond:
            ready = self._cond.wait_for(lambda: self._closed or self._seq > after_seq, timeout)
            if not ready or self._closed or self._jpeg is None:
                return None
            return self._seq, self._jpeg

    def latest(self) -> tuple[int, bytes] | None:
        with self._cond:
            return None if self._jpeg is None else (self._seq, self._jpeg)

    @property
    def viewers(self) -> int:
        return self._watchers["stream"]

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def wait_closed(self, timeout: float) -> bool:
        """Sleep up to timeout, waking early (True) when the broadcast closes."""
        with self._cond:
            return self._cond.wait_for(lambda: self._closed, max(0.0, timeout))

    @contextmanager
    def watching(self, kind: Literal["stream", "snapshot"] = "stream") -> Iterator[None]:
        """Count a stream viewer or a waiting snapshot for the duration of the block."""
        with self._cond:
            self._watchers[kind] += 1
        try:
            yield
        finally:
            with self._cond:
                self._watchers[kind] -= 1


@dataclass(frozen=True)
class ServerOptions:
    host: str = "127.0.0.1"
    """Interface to listen on; anything but loopback should come with auth."""
    port: int = 8080
    """TCP port; 0 picks a free one (see LiveServer.address)."""
    auth: tuple[str, str] | None = None
    """HTTP Basic (user, password) required on every endpoint when set."""
    max_clients: int = 32
    """Concurrent connections beyond this are answered 503, so viewers cannot starve the Pi."""
    stream_fps: float = 30.0
    """Most frames per second sent to each viewer (a browser needs no more)."""
    title: str = "pisight"
    """Shown in the page header and the browser tab."""

    def __post_init__(self) -> None:
        if self.max_clients < 1 or self.stream_fps <= 0:
            raise ValueError("max_clients must be >= 1 and stream_fps > 0")


def parse_listen(value: str) -> tuple[str, int]:
    """Split --listen: HOST:PORT, [IPV6]:PORT, :PORT or PORT; no host means loopback."""
    text = value.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep:
        host, port_text = "", text
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        if not host:
            raise ValueError(f"--listen {value!r}: empty IPv6 address in brackets")
    elif ":" in host:
        raise ValueError(f"--listen {value!r}: put an IPv6 address in brackets, e.g. [::1]:8080")
    if any(c.isspace() for c in host) or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"--listen {value!r}: expected HOST:PORT with a port 0-65535")
    # Defaulting to loopback keeps a bare port from exposing the camera to the network.
    return host or "127.0.0.1", int(port_text)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a hostname may resolve to anything; treat it as exposed


def check_exposure(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    """Refuse to show the camera beyond this machine without a password, unless told to."""
    if not _is_loopback(host) and auth is None and not insecure:
        raise ValueError(
            f"refusing to serve on {host} without --auth USER:PASS; add --auth or --insecure"
        )


def parse_auth(value: str) -> tuple[str, str]:
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth must be USER:PASS with a non-empty user and password")
    return user, password


def _prometheus_value(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else repr(number)


# status key -> (metric, help); a name ending in _total is a counter, the rest are gauges.
_METRICS = {
    "frames": ("pisight_frames_total", "Frames processed."),
    "fps": ("pisight_fps", "Frames processed per second."),
    "inference_ms_p50": ('pisight_inference_ms{quantile="0.5"}', "Inference latency, ms."),
    "inference_ms_p90": ('pisight_inference_ms{quantile="0.9"}', "Inference latency, ms."),
    "cpu_percent": ("pisight_cpu_percent", "CPU used by pisight (100 = one core)."),
    "system_cpu_percent": ("pisight_system_cpu_percent", "CPU used by the whole system."),
    "rss_mb": ("pisight_rss_bytes", "Resident memory of pisight."),
    "temperature_c": ("pisight_temperature_celsius", "SoC temperature."),
    "throttled": ("pisight_throttled", "Firmware throttling flags (0 = never throttled)."),
    "dropped_frames": ("pisight_dropped_frames_total", "Frames dropped as stale."),
    "viewers": ("pisight_viewers", "Connected stream viewers."),
    "uptime_s": ("pisight_uptime_seconds", "Seconds since start."),
}
_SCALE = {"rss_mb": 1024.0 * 1024.0}


def _frames_flow(status: dict[str, Any]) -> bool:
    age = status.get("last_frame_age_s")
    return age is not None and age < FRESH_FRAME_S


def render_metrics(status: dict[str, Any]) -> str:
    """Prometheus text exposition (version 0.0.4); unknown (None) values are left out."""
    lines: list[str] = []
    described: set[str] = set()
    for key, (metric, help_text) in _METRICS.items():
        try:
            value = float(status[key]) * _SCALE.get(key, 1.0)
        except (KeyError, TypeError, ValueError):
            continue  # unknown on this platform (None), or not a number at all
        name = metric.partition("{")[0]
        if name not in described:
            described.add(name)
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines.append(f"{metric} {_prometheus_value(value)}")
    lines += ["# HELP pisight_up 1 while frames flow.", "# TYPE pisight_up gauge"]
    lines.append(f"pisight_up {int(_frames_flow(status))}")
    return "\n".join(lines) + "\n"


def _json_safe(value: Any) -> Any:
    # Browsers reject NaN in JSON, and numpy scalars are not serialisable at all.
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


class _Server(ThreadingHTTPServer):
    """Holds what every handler shares, and the connections it has admitted."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        options: ServerOptions,
        broadcast: FrameBroadcast,
        status: Callable[[], dict],
        page: bytes,
    ) -> None:
        self.options, self.broadcast, self.status, self.page = options, broadcast, status, page
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
            route = _ROUTES.get(urlsplit(self.path).path)
            if not self.admitted:
                self._reply(503, b"too many connections\n", {"Retry-After": "5"})
            elif not self._authorized():
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

    def _authorized(self) -> bool:
        auth = self.server.options.auth
        if auth is None:
            return True
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        try:
            given = base64.b64decode(token.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        expected = f"{auth[0]}:{auth[1]}".encode()
        return scheme.lower() == "basic" and hmac.compare_digest(given, expected)

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
        status = self._status()
        ok = _frames_flow(status)
        document = {"status": "ok" if ok else "offline", **status}
        body = json.dumps({str(k): _json_safe(v) for k, v in document.items()})
        self._reply(200 if ok else 503, body.encode(), content_type="application/json")

    def _status(self) -> dict[str, Any]:
        status = dict(self.server.status())
        status.setdefault("viewers", self.server.broadcast.viewers)
        return status

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
        broadcast = self.server.broadcast
        interval = 1.0 / self.server.options.stream_fps
        seq = 0  # the latest frame first: the page shows a picture at once
        with broadcast.watching():
            while not broadcast.closed:
                frame = broadcast.next_frame(seq, timeout=1.0)
                if frame is None:
                    continue
                seq, jpeg = frame
                sent_at = time.monotonic()
                head = f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                head += f"Content-Length: {len(jpeg)}\r\n\r\n"
                self.wfile.write(head.encode() + jpeg + b"\r\n")
                if broadcast.wait_closed(sent_at + interval - time.monotonic()):
                    break


def _load_page(title: str) -> bytes:
    template = (Path(__file__).parent / "static" / "index.html").read_text(encoding="utf-8")
    return template.replace("{{title}}", html.escape(title)).encode("utf-8")


def _bind_error(host: str, port: int, exc: OSError) -> OSError:
    if exc.errno == errno.EADDRINUSE:
        message = f"port {port} is in use; pick another with --listen"
    elif exc.errno == errno.EACCES:
        message = f"no permission to listen on port {port} (below 1024 needs root); use --listen"
    elif exc.errno in (errno.EADDRNOTAVAIL, socket.EAI_NONAME):
        message = f"cannot listen on {host}: no such address on this machine"
    else:
        message = f"cannot listen on {host}:{port}: {exc.strerror or exc}"
    error = OSError(message)
    error.errno = exc.errno
    return error


class LiveServer:
    """Serves the broadcast and status over HTTP from a daemon thread."""

    def __init__(
        self, options: ServerOptions, broadcast: FrameBroadcast, status: Callable[[], dict]
    ) -> None:
        self._options, self._broadcast, self._status = options, broadcast, status
        self._page = _load_page(options.title)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        try:
            self._server = _Server(self._options, self._broadcast, self._status, self._page)
        except OSError as exc:
            raise _bind_error(self._options.host, self._options.port, exc) from exc
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
