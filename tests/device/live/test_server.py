"""The live-view HTTP server, exercised over real sockets on 127.0.0.1 (ephemeral ports)."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.message import Message

import cv2
import numpy as np
import pytest

import pisight.device.live.server as server_module
from pisight.device.live.broadcast import FrameBroadcast
from pisight.device.live.options import ServerOptions, check_exposure, parse_auth, parse_listen
from pisight.device.live.prometheus import render_metrics
from pisight.device.live.server import LiveServer
from pisight.device.pipeline.status import RunStatus
from tests.helpers import wait_until

FLOWING = RunStatus(
    frames=120,
    fps=29.7,
    inference_ms_p50=11.8,
    inference_ms_p90=13.0,
    cpu_percent=85.0,
    system_cpu_percent=60.0,
    rss_mb=80.0,
    temperature_c=None,
    throttled=None,
    dropped_frames=3,
    last_frame_age_s=0.03,
    source="video:/x.mp4",
    model="demo",
    runtime="litert",
    uptime_s=12.0,
)


def make_jpeg(index: int, size: tuple[int, int] = (120, 160), noise: bool = False) -> bytes:
    """A real JPEG; noise makes it big (about 1 MB at 720p), as a camera frame can be."""
    if noise:
        image = np.random.default_rng(index).integers(0, 256, (*size, 3), np.uint8)
    else:
        image = np.zeros((*size, 3), np.uint8)
        cv2.putText(image, str(index), (10, size[0] - 20), cv2.FONT_HERSHEY_SIMPLEX, 2, (255,) * 3)
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok
    return encoded.tobytes()


class Publisher:
    """Publishes JPEGs at a steady rate, like the pipeline's output stage."""

    def __init__(self, broadcast: FrameBroadcast, frames: list[bytes], fps: float = 30.0):
        self._broadcast, self._frames, self._interval = broadcast, frames, 1.0 / fps
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while not self._stop.wait(self._interval):
            self._broadcast.publish(self._frames[index % len(self._frames)])
            index += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


Serve = Callable[..., tuple[LiveServer, FrameBroadcast]]


@dataclass
class CurrentStatus:
    """What status() returns; tests replace `value`."""

    value: RunStatus


@pytest.fixture
def status() -> CurrentStatus:
    return CurrentStatus(FLOWING)


@pytest.fixture
def serve(status: CurrentStatus) -> Iterator[Serve]:
    """Start a server (and, unless publish=False, a 30 fps publisher); stopped afterwards."""
    running: list[tuple[LiveServer, Publisher | None]] = []

    def start(publish: bool = True, frames: list[bytes] | None = None, **options: object):
        broadcast = FrameBroadcast()
        server = LiveServer(ServerOptions(port=0, **options), broadcast, lambda: status.value)
        server.start()
        frames = frames or [make_jpeg(i) for i in range(5)]
        running.append((server, Publisher(broadcast, frames) if publish else None))
        return server, broadcast

    yield start
    for server, publisher in running:
        if publisher:
            publisher.stop()
        server.stop()


def request(
    server: LiveServer, method: str = "GET", path: str = "/", headers: dict | None = None
) -> tuple[int, Message, bytes]:
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class StreamClient:
    """A viewer of /stream.mjpg on a plain socket, parsing the multipart body by hand."""

    def __init__(self, address: tuple[str, int], headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(address, timeout=10)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.sock.sendall(f"GET /stream.mjpg HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.status = int(self.file.readline().split()[1])
        self.headers = self._read_headers()

    def _read_headers(self) -> dict[str, str]:
        headers = {}
        while (line := self.file.readline().strip()) != b"":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        return headers

    def read_part(self) -> bytes:
        """One JPEG part, checked against its headers."""
        line = self.file.readline()
        assert line == b"--FRAME\r\n", line
        headers = self._read_headers()
        assert headers["content-type"] == "image/jpeg"
        jpeg = self.file.read(int(headers["content-length"]))
        assert len(jpeg) == int(headers["content-length"])
        assert self.file.read(2) == b"\r\n"
        assert jpeg[:2] == b"\xff\xd8" and jpeg[-2:] == b"\xff\xd9"
        return jpeg

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def test_five_concurrent_viewers_each_receive_valid_jpeg_parts(serve: Serve) -> None:
    server, _ = serve()

    def watch(_: int) -> list[bytes]:
        client = StreamClient(server.address)
        try:
            assert client.status == 200
            assert client.headers["content-type"] == "multipart/x-mixed-replace; boundary=FRAME"
            return [client.read_part() for _ in range(3)]
        finally:
            client.close()

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(watch, range(5)))
    for parts in results:
        assert len(parts) == 3
        assert cv2.imdecode(np.frombuffer(parts[-1], np.uint8), cv2.IMREAD_COLOR) is not None


def test_stream_is_rate_limited_per_viewer(serve: Serve) -> None:
    server, _ = serve(stream_fps=5.0)
    client = StreamClient(server.address)
    client.read_part()
    started = time.monotonic()
    for _ in range(3):
        client.read_part()
    client.close()
    assert time.monotonic() - started >= 0.5  # 3 intervals of 0.2 s, less scheduling slack


def test_snapshot_returns_the_next_jpeg(serve: Serve) -> None:
    server, _ = serve()
    code, headers, body = request(server, path="/snapshot.jpg")
    assert code == 200
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "no-store"
    assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"


def test_snapshot_marks_wanted_while_it_waits(serve: Serve) -> None:
    server, broadcast = serve(publish=False)
    result: list[tuple[int, Message, bytes]] = []
    waiter = threading.Thread(target=lambda: result.append(request(server, path="/snapshot.jpg")))
    waiter.start()
    assert wait_until(broadcast.wanted)
    jpeg = make_jpeg(7)
    broadcast.publish(jpeg)
    waiter.join(timeout=5)
    assert result and result[0][0] == 200 and result[0][2] == jpeg
    assert not broadcast.wanted()


def test_snapshot_without_any_frame_is_503(serve: Serve, monkeypatch) -> None:
    monkeypatch.setattr(server_module, "SNAPSHOT_WAIT_S", 0.2)
    server, _ = serve(publish=False)
    assert request(server, path="/snapshot.jpg")[0] == 503


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_]+=\"[^\"]*\"\})? (\S+)$")


def test_metrics_is_prometheus_text(serve: Serve) -> None:
    server, _ = serve()
    code, headers, body = request(server, path="/metrics")
    assert code == 200
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in body.decode().splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        if line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        assert match, line
        assert match.group(1) in typed, f"{match.group(1)} has no # TYPE line"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    assert samples["pisight_fps"] == pytest.approx(29.7)
    assert samples['pisight_inference_ms{quantile="0.9"}'] == pytest.approx(13.0)
    assert samples["pisight_rss_bytes"] == 80 * 1024 * 1024
    assert samples["pisight_frames_total"] == 120
    assert samples["pisight_up"] == 1
    assert "pisight_viewers" in samples
    assert "pisight_temperature_celsius" not in samples  # None: unknown on this machine


@pytest.mark.parametrize(
    ("age", "code", "state"), [(0.03, 200, "ok"), (None, 503, "offline"), (12.0, 503, "offline")]
)
def test_healthz_says_whether_frames_flow(
    serve: Serve, status: CurrentStatus, age: float | None, code: int, state: str
) -> None:
    # temperature NaN: must still come out as valid JSON
    status.value = replace(status.value, last_frame_age_s=age, temperature_c=float("nan"))
    server, _ = serve()
    got, headers, body = request(server, path="/healthz")
    assert got == code
    assert headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["status"] == state
    assert document["model"] == "demo" and document["temperature_c"] is None


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/", 200),
        ("HEAD", "/", 200),
        ("HEAD", "/stream.mjpg", 200),
        ("GET", "/nope", 404),
        ("POST", "/", 405),
        ("DELETE", "/metrics", 405),
        ("BREW", "/", 405),
    ],
)
def test_methods_and_paths(serve: Serve, method: str, path: str, code: int) -> None:
    server, _ = serve()
    got, headers, body = request(server, method, path)
    assert got == code
    if method == "HEAD":
        assert body == b""
    if code == 405:
        assert headers["Allow"] == "GET, HEAD"


def test_page_is_self_contained_html(serve: Serve) -> None:
    server, _ = serve(title="<cam 1>")
    code, headers, body = request(server)
    page = body.decode()
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert '<img id="stream"' in page and "/healthz" in page and "&lt;cam 1&gt;" in page
    assert not re.search(r"(src|href)=\"https?://", page)


def test_auth_is_required_on_every_endpoint(serve: Serve) -> None:
    server, _ = serve(auth=("pi", "s3cret"))
    for path in ("/", "/metrics", "/healthz", "/snapshot.jpg", "/nope"):
        code, headers, _ = request(server, path=path)
        assert code == 401
        assert headers["WWW-Authenticate"] == 'Basic realm="pisight"'
    assert request(server, path="/metrics", headers=basic("pi", "wrong"))[0] == 401
    assert request(server, path="/metrics", headers={"Authorization": "Basic !!"})[0] == 401
    assert request(server, path="/metrics", headers=basic("pi", "s3cret"))[0] == 200
    assert StreamClient(server.address).status == 401
    viewer = StreamClient(server.address, basic("pi", "s3cret"))
    assert viewer.status == 200 and viewer.read_part()
    viewer.close()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0.0.0:8080", ("0.0.0.0", 8080)),
        ("raspberrypi.local:80", ("raspberrypi.local", 80)),
        (":9000", ("127.0.0.1", 9000)),
        ("8081", ("127.0.0.1", 8081)),
        ("[::1]:8080", ("::1", 8080)),
        ("[::]:0", ("::", 0)),
    ],
)
def test_parse_listen(value: str, expected: tuple[str, int]) -> None:
    assert parse_listen(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "HOST:PORT"),
        ("host:", "HOST:PORT"),
        ("host:http", "HOST:PORT"),
        ("host:70000", "0-65535"),
        ("host:-1", "HOST:PORT"),
        ("::1:8080", "brackets"),
        ("[]:8080", "empty IPv6"),
        ("my host:80", "HOST:PORT"),
    ],
)
def test_parse_listen_rejects(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_listen(value)


@pytest.mark.parametrize(
    ("host", "auth", "insecure"),
    [
        ("127.0.0.1", None, False),
        ("127.1.2.3", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", ("pi", "pw"), False),
        ("0.0.0.0", None, True),
    ],
)
def test_check_exposure_allows(host: str, auth: tuple[str, str] | None, insecure: bool) -> None:
    check_exposure(host, auth, insecure)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "raspberrypi.local"])
def test_check_exposure_refuses_open_servers(host: str) -> None:
    with pytest.raises(ValueError, match=f"refusing to serve on {re.escape(host)} without --auth"):
        check_exposure(host, None, False)


@pytest.mark.parametrize(
    ("value", "expected"), [("pi:secret", ("pi", "secret")), ("pi:a:b", ("pi", "a:b"))]
)
def test_parse_auth(value: str, expected: tuple[str, str]) -> None:
    assert parse_auth(value) == expected


@pytest.mark.parametrize("value", ["", "pi", "pi:", ":secret", ":"])
def test_parse_auth_rejects(value: str) -> None:
    with pytest.raises(ValueError, match="USER:PASS"):
        parse_auth(value)


def test_wanted_only_while_someone_watches(serve: Serve) -> None:
    server, broadcast = serve()
    assert not broadcast.wanted() and broadcast.viewers == 0
    client = StreamClient(server.address)
    client.read_part()
    assert broadcast.wanted() and broadcast.viewers == 1
    client.close()
    assert wait_until(lambda: not broadcast.wanted())
    assert broadcast.viewers == 0


def test_connections_beyond_max_clients_get_503(serve: Serve) -> None:
    server, _ = serve(max_clients=2)
    viewers = [StreamClient(server.address) for _ in range(2)]
    assert all(v.status == 200 for v in viewers)
    code, headers, _ = request(server, path="/healthz")
    assert code == 503 and headers["Retry-After"]
    viewers[0].close()
    assert wait_until(lambda: request(server, path="/healthz")[0] == 200)
    viewers[1].close()


def test_stop_is_quick_with_viewers_and_frees_the_port(serve: Serve) -> None:
    big = [make_jpeg(i, size=(720, 1280), noise=True) for i in range(3)]  # ~1 MB each
    server, _ = serve(frames=big)
    stalled = StreamClient(server.address)  # never reads: its socket buffers fill up
    viewer = StreamClient(server.address)
    for _ in range(3):
        viewer.read_part()  # a stalled viewer does not hold the others up
    port = server.address[1]
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    viewer.sock.settimeout(2)
    with pytest.raises((OSError, AssertionError, ValueError)):
        while True:
            viewer.read_part()  # the stream ends rather than hanging
    again = LiveServer(ServerOptions(port=port), FrameBroadcast(), lambda: RunStatus())
    again.start()
    assert again.address[1] == port
    again.stop()
    stalled.close()
    viewer.close()


def test_a_busy_port_gives_a_clear_error(serve: Serve) -> None:
    server, _ = serve()
    other = LiveServer(ServerOptions(port=server.address[1]), FrameBroadcast(), lambda: RunStatus())
    with pytest.raises(OSError, match=f"port {server.address[1]} is in use"):
        other.start()


def test_failures_never_reach_the_client_or_stderr(serve: Serve, capfd) -> None:
    def broken() -> RunStatus:
        raise RuntimeError("sensor exploded")

    broadcast = FrameBroadcast()
    server = LiveServer(ServerOptions(port=0), broadcast, broken)
    server.start()
    try:
        code, _, body = request(server, path="/metrics")
        assert code == 500 and b"Traceback" not in body and b"exploded" not in body
        with socket.create_connection(server.address, timeout=5) as raw:
            raw.sendall(b"\x00garbage\r\n\r\n")
            assert b"400" in raw.recv(1000)
        client = StreamClient(server.address)
        broadcast.publish(make_jpeg(1))
        client.read_part()
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" * 2)
        client.close()  # an abrupt reset mid-stream
        for i in range(5):
            broadcast.publish(make_jpeg(i))
            time.sleep(0.03)
    finally:
        server.stop()
    assert capfd.readouterr().err == ""


def test_next_frame_times_out_and_close_wakes_waiters() -> None:
    broadcast = FrameBroadcast()
    assert broadcast.next_frame(0, timeout=0.05) is None and broadcast.latest() is None
    broadcast.publish(b"a")
    broadcast.publish(b"b")
    assert broadcast.next_frame(0, timeout=0.05) == (2, b"b") == broadcast.latest()
    woke: list[object] = []
    waiter = threading.Thread(target=lambda: woke.append(broadcast.next_frame(2, timeout=10)))
    waiter.start()
    time.sleep(0.05)
    broadcast.close()
    waiter.join(timeout=1)
    assert woke == [None]


def test_render_metrics_skips_unknown_and_non_numeric_values() -> None:
    # throttled "n/a": a reading of the wrong type must not break the scrape
    status = RunStatus(fps=float("nan"), throttled="n/a", last_frame_age_s=None)  # type: ignore[arg-type]
    text = render_metrics(status)
    assert "pisight_fps NaN" in text
    assert "pisight_throttled" not in text
    assert "pisight_up 0" in text


def test_serves_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    server = LiveServer(ServerOptions(host="::1", port=0), FrameBroadcast(), lambda: RunStatus())
    try:
        server.start()
    except OSError as exc:
        pytest.skip(f"cannot bind ::1 here: {exc}")
    try:
        assert server.address[0] == "::1"
        assert request(server, path="/metrics")[0] == 200
    finally:
        server.stop()
