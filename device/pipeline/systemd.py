"""systemd glue for `pisight run`: READY=1 after the first frame, WATCHDOG=1 while frames flow.

    hooks = systemd_hooks()          # {} when not started by systemd (no $NOTIFY_SOCKET)
    run.main(args, hooks)

The sd_notify protocol is one datagram per message to the unix socket named by
$NOTIFY_SOCKET (a leading "@" means the abstract namespace), so no libsystemd binding
is needed. The unit (scripts/pisight.service) is Type=notify with WatchdogSec=: READY
waits for a real inference, and the pings come from the pipeline's decode loop, so a
stalled camera or a hung interpreter stops them and systemd restarts the service.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("pisight.service")


def notify_address(environ: Mapping[str, str] | None = None) -> str | bytes | None:
    """The socket address from $NOTIFY_SOCKET, or None when systemd did not set one."""
    path = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not path:
        return None
    if path.startswith("@"):
        return b"\0" + path[1:].encode()  # abstract socket names start with a NUL byte
    return path


def sd_notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one notification; False (never an exception) when there is no listener."""
    address = notify_address(environ)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        # systemd going away must not take the detector down with it.
        log.debug("sd_notify(%s) failed: %s", message, exc)
        return False
    return True


def watchdog_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when systemd expects WATCHDOG=1 pings from this process (WatchdogSec= set)."""
    env = os.environ if environ is None else environ
    if not env.get("WATCHDOG_USEC"):
        return False
    pid = env.get("WATCHDOG_PID")
    # WATCHDOG_PID names the process systemd watches; a child that inherited it is not it.
    return pid is None or pid == str(os.getpid())


def systemd_hooks(environ: Mapping[str, str] | None = None) -> dict[str, Callable[[], None]]:
    """Pipeline hooks for `run.main` when started by systemd; empty otherwise."""
    env = dict(os.environ if environ is None else environ)
    if notify_address(env) is None:
        return {}
    hooks: dict[str, Callable[[], None]] = {
        "on_first_frame": lambda: _ready(env),
    }
    if watchdog_enabled(env):
        # The pipeline calls this about once a second, well inside any sane WatchdogSec.
        hooks["on_heartbeat"] = lambda: sd_notify("WATCHDOG=1", env)
    return hooks


def _ready(env: Mapping[str, str]) -> None:
    sd_notify("READY=1\nSTATUS=first frame processed, streaming", env)
    log.info("told systemd the service is ready")
