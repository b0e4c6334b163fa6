"""Helpers every test module shares: polling, free loopback ports, the `pisight` command."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.01
) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; the last answer wins."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def free_port() -> int:
    """A loopback port nobody listens on now (each xdist worker asks for its own)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pisight(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """`pisight` as a user runs it, in a child process.

    tflite-runtime's environment check (an isolated venv with its own pip install) is
    skipped unless a test asks for it: tests/convert/conversion/test_legacy_runtime.py
    covers it on its own.
    """
    return subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PISIGHT_SKIP_LEGACY_RUNTIME": "1", **env},
    )  # fmt: skip


REPO = Path(__file__).resolve().parents[1]


def project_modules(half: str) -> list[str]:
    """Every module of `device` or `convert`, sub-packages walked, as installed names."""
    root = REPO / half
    return sorted(
        "pisight."
        + ".".join((half, *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        for path in root.rglob("*.py")
        if path.stem != "__main__"
    )


def module_path(module: str) -> Path:
    """The file behind an installed name: pisight.device.model.bundle -> device/model/bundle.py."""
    path = REPO.joinpath(*module.split(".")[1:])
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def pisight_in_process(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`pisight ARGS` through the same main(), in this process: no second TensorFlow import.

    For tests about what a command decides (refusals, messages, exit codes); end-to-end
    behaviour (signals, a fresh interpreter, the installed entry point) keeps `pisight()`.
    Log records go to pytest's capture, not to the returned stderr; printed errors do.
    """
    from pisight.device.cli import main

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env = dict(os.environ)
    os.environ.update({"PISIGHT_SKIP_LEGACY_RUNTIME": "1", **env})
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(list(args))
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return subprocess.CompletedProcess(list(args), code, stdout.getvalue(), stderr.getvalue())


def assert_shell_script_clean(script: Path) -> None:
    """bash parses it and, where shellcheck is installed, shellcheck finds nothing."""
    import pytest

    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    result = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
