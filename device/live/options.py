"""Where the live view listens and who may see it: ServerOptions and its CLI parsing.

run.py builds the options from the command line::

    host, port = parse_listen("0.0.0.0:8080")   # ("0.0.0.0", 8080); "8080" -> loopback
    auth = parse_auth("pi:s3cret")              # ("pi", "s3cret")
    check_exposure(host, auth, insecure=False)  # ValueError: public and no password
    options = ServerOptions(host=host, port=port, auth=auth)
    authorized(headers.get("Authorization", ""), options.auth)  # the HTTP Basic check
"""

from __future__ import annotations

import base64
import binascii
import errno
import hmac
import ipaddress
import socket
from dataclasses import dataclass

# The one stream rate: the server paces each viewer by ServerOptions.stream_fps, and the
# pipeline's BroadcastSink, built from the same options, encodes no faster. A browser
# needs no more.
STREAM_FPS = 30.0


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
    stream_fps: float = STREAM_FPS
    """Most frames per second encoded for and sent to each viewer."""
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


def authorized(header: str, auth: tuple[str, str] | None) -> bool:
    """Whether an Authorization header value carries the HTTP Basic credentials auth."""
    if auth is None:
        return True
    scheme, _, token = header.partition(" ")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = f"{auth[0]}:{auth[1]}".encode()
    return scheme.lower() == "basic" and hmac.compare_digest(given, expected)


def bind_error(host: str, port: int, exc: OSError) -> OSError:
    """The OSError from binding host:port, reworded to say which --listen to change."""
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
