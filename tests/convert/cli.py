"""`pisight` as a user runs it: a child process, tflite-runtime's slow env check skipped."""

from __future__ import annotations

import os
import subprocess
import sys


def pisight(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pisight.device.cli", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PISIGHT_SKIP_LEGACY_RUNTIME": "1", **env},
    )  # fmt: skip
