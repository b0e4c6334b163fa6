"""Prove a converted model still loads and runs in the frozen tflite-runtime 2.14.

Many Pi users still run `tflite-runtime`, frozen at 2.14 with wheels only up to Python 3.11
and unimportable beside numpy 2 (docs/ARCHITECTURE.md, "Known ground truth"). It can
therefore never share this process: the check builds an isolated Python 3.11 venv once,
caches it, and runs a small probe there as a subprocess, so a model the old runtime
rejects, or crashes on, becomes a `LegacyCheck` value instead of taking the converter
down with it.

Usage::

    from pisight.convert.conversion.legacy_runtime import check_with_tflite_runtime

    check = check_with_tflite_runtime(Path("bundle/model.tflite"))
    print(check.status, check.detail)  # ok loaded and invoked in tflite-runtime 2.14.0 (3.1 ms)

Set `PISIGHT_SKIP_LEGACY_RUNTIME=1` to skip the check, `PISIGHT_PYTHON311` to name the
Python 3.11 interpreter, and `PISIGHT_CACHE` to move the cached environment.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TFLITE_RUNTIME_VERSION = "2.14.0"
REQUIREMENTS = (f"tflite-runtime=={TFLITE_RUNTIME_VERSION}", "numpy<2")
MARKER_NAME = "pisight-legacy-env.json"
_BUILD_PREFIX = ".tflite-runtime-build-"
_STALE_BUILD_S = 24 * 3600
_RUNTIME = f"tflite-runtime {TFLITE_RUNTIME_VERSION}"

log = logging.getLogger(__name__)

# Runs inside the 3.11 env. Stages go to stderr as they start so that a crash (a signal
# leaves no traceback) can still be blamed on a step; the result is one JSON line.
PROBE_SCRIPT = r"""
import json, sys, time
def stage(name):
    print("pisight-stage:" + name, file=sys.stderr, flush=True)
try:
    stage("importing tflite-runtime")
    import numpy as np
    from tflite_runtime.interpreter import Interpreter
    stage("loading the model")
    interpreter = Interpreter(model_path=sys.argv[1])
    stage("allocating tensors")
    interpreter.allocate_tensors()
    for d in interpreter.get_input_details():
        interpreter.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    stage("invoking the model")
    start = time.perf_counter()
    interpreter.invoke()
    invoke_ms = (time.perf_counter() - start) * 1e3
    outputs = {d["name"]: d["shape"].tolist() for d in interpreter.get_output_details()}
    print(json.dumps({"invoke_ms": invoke_ms, "outputs": outputs}))
except Exception as exc:
    # The runtime's messages quote raw model bytes (e.g. a bad file identifier), which
    # surface as UnicodeDecodeError; recover the message, escaping the bytes onto one line.
    raw = getattr(exc, "object", None)
    text = str(exc)
    if isinstance(raw, bytes):
        text = raw.decode("utf-8", "backslashreplace").strip()
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    print(json.dumps({"error": text.strip() or type(exc).__name__}))
    sys.exit(1)
"""

_VERSIONS_SCRIPT = """
import json, sys, numpy, tflite_runtime
print(json.dumps({"tflite_runtime": tflite_runtime.__version__, "numpy": numpy.__version__,
                  "python": sys.version.split()[0]}))
"""


@dataclass(frozen=True)
class LegacyCheck:
    """What tflite-runtime 2.14 made of one model."""

    status: str  # "ok" | "failed" | "skipped"
    detail: str  # one line, fit to print after the status
    invoke_ms: float | None = None
    outputs: dict[str, list[int]] | None = None  # output tensor name -> shape, when ok


class _EnvUnavailableError(Exception):
    """Why the legacy environment cannot be built here (a reason, not a bug)."""


def legacy_env_dir() -> Path:
    """Where the cached tflite-runtime environment lives (it may not exist yet)."""
    if root := os.environ.get("PISIGHT_CACHE"):
        cache = Path(root)
    elif xdg := os.environ.get("XDG_CACHE_HOME"):
        cache = Path(xdg) / "pisight"
    else:
        cache = Path.home() / ".cache" / "pisight"
    return cache / "tflite-runtime-2.14-py311"


def _env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(command: list[str], deadline: float, what: str) -> str:
    """Run one build step before the deadline; any failure becomes _EnvUnavailableError."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=max(deadline - time.monotonic(), 1)
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _EnvUnavailableError(f"{what} failed: {_first_line(str(exc))}") from exc
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        raise _EnvUnavailableError(f"{what} failed: {_first_line(reason)}")
    return done.stdout


def _python_version(executable: str) -> str | None:
    command = [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        return _run(command, time.monotonic() + 15, "version probe").strip()
    except _EnvUnavailableError:
        return None  # e.g. a pyenv shim whose version is not installed


def _find_python311() -> str | None:
    """An explicit $PISIGHT_PYTHON311 wins; otherwise the first 3.11 on offer."""
    if explicit := os.environ.get("PISIGHT_PYTHON311"):
        return explicit if _python_version(explicit) == "3.11" else None
    candidates = [shutil.which("python3.11"), shutil.which("python3")]
    if sys.version_info[:2] == (3, 11):
        candidates.insert(1, sys.executable)
    return next((c for c in candidates if c and _python_version(c) == "3.11"), None)


def _read_marker(env: Path) -> dict[str, str] | None:
    try:
        marker = json.loads((env / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return None
    if marker.get("tflite_runtime") != TFLITE_RUNTIME_VERSION or not _env_python(env).exists():
        return None
    return marker


def _build_env(build: Path, python311: str, deadline: float) -> None:
    _run([python311, "-m", "venv", str(build)], deadline, "creating the Python 3.11 venv")
    python = str(_env_python(build))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q"]
    _run([*pip, *REQUIREMENTS], deadline, f"pip install {' '.join(REQUIREMENTS)}")
    # Importing both proves the pair works together before the env is published.
    report = _run([python, "-I", "-c", _VERSIONS_SCRIPT], deadline, "importing tflite-runtime")
    versions = json.loads(report)
    (build / MARKER_NAME).write_text(json.dumps(versions, indent=2) + "\n")


def _publish(build: Path, final: Path) -> None:
    """Swap the finished build in; a concurrent builder that got there first wins."""
    if final.exists() and _read_marker(final) is None:
        shutil.rmtree(final, ignore_errors=True)  # an older or broken env
    try:
        build.rename(final)  # venvs survive a rename: we only ever run bin/python
    except OSError:
        if _read_marker(final) is None:
            raise


def _sweep_stale_builds(parent: Path) -> None:
    # A build killed outright (SIGKILL, power loss) cannot clean up after itself.
    for stale in parent.glob(f"{_BUILD_PREFIX}*"):
        try:
            if time.time() - stale.stat().st_mtime > _STALE_BUILD_S:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:
            pass  # another process finished or swept it first


def ensure_legacy_env(
    timeout_s: float = 600, on_unavailable: Callable[[str], object] = log.warning
) -> Path | None:
    """The cached env's python, built on first use; None (reason to on_unavailable) if impossible.

    Nothing about a failure is remembered, so a later call (e.g. once online) retries.
    """
    final = legacy_env_dir()
    if _read_marker(final) is not None:
        return _env_python(final)
    deadline = time.monotonic() + timeout_s
    build: Path | None = None
    try:
        if (python311 := _find_python311()) is None:
            raise _EnvUnavailableError(
                "no Python 3.11 interpreter found; install python3.11 (or set PISIGHT_PYTHON311)"
                " to check tflite-runtime compatibility"
            )
        final.parent.mkdir(parents=True, exist_ok=True)
        _sweep_stale_builds(final.parent)
        build = Path(tempfile.mkdtemp(prefix=_BUILD_PREFIX, dir=final.parent))
        build.chmod(0o755)  # mkdtemp's 0700 would hide a shared cache from other users
        _build_env(build, python311, deadline)
        _publish(build, final)
    except (_EnvUnavailableError, OSError) as exc:
        on_unavailable(f"{_RUNTIME} environment unavailable: {_first_line(str(exc))}")
        return None
    finally:
        if build is not None and build.exists():
            shutil.rmtree(build, ignore_errors=True)
    return _env_python(final)


def probe_command(python: Path, model_path: Path) -> list[str]:
    """The probe subprocess; -I keeps this process's PYTHONPATH (numpy 2) out of it."""
    return [str(python), "-I", "-c", PROBE_SCRIPT, str(model_path)]


def check_with_tflite_runtime(model: Path | bytes, timeout_s: float = 60) -> LegacyCheck:
    """Load, allocate and invoke `model` (a path or flatbuffer bytes) in tflite-runtime 2.14."""
    if os.environ.get("PISIGHT_SKIP_LEGACY_RUNTIME", "") not in ("", "0"):
        return LegacyCheck("skipped", "skipped: PISIGHT_SKIP_LEGACY_RUNTIME is set")
    reasons: list[str] = []
    python = ensure_legacy_env(on_unavailable=reasons.append)
    if python is None:
        return LegacyCheck("skipped", reasons[0] if reasons else f"{_RUNTIME} is unavailable")
    if isinstance(model, Path):
        return _probe(python, model, timeout_s)
    with tempfile.TemporaryDirectory(prefix="pisight-legacy-") as tmp:
        path = Path(tmp) / "model.tflite"
        path.write_bytes(model)
        return _probe(python, path, timeout_s)


def _probe(python: Path, model_path: Path, timeout_s: float) -> LegacyCheck:
    try:
        done = subprocess.run(
            probe_command(python, model_path), capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired:
        return LegacyCheck("failed", f"{_RUNTIME} timed out after {timeout_s:g} s")
    except OSError as exc:
        return LegacyCheck("failed", f"{_RUNTIME} probe could not start: {_first_line(str(exc))}")
    result = _last_json_line(done.stdout)
    if done.returncode < 0:
        stages = [ln for ln in done.stderr.splitlines() if ln.startswith("pisight-stage:")]
        stage = stages[-1].partition(":")[2] if stages else "starting"
        name = _signal_name(-done.returncode)
        return LegacyCheck("failed", f"{_RUNTIME} crashed ({name}) {stage}")
    if done.returncode == 0 and result and "outputs" in result:
        ms = float(result["invoke_ms"])
        detail = f"loaded and invoked in {_RUNTIME} ({ms:.1f} ms)"
        return LegacyCheck("ok", detail, invoke_ms=ms, outputs=result["outputs"])
    if result and "error" in result:
        return LegacyCheck("failed", _first_line(str(result["error"])))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    tail = _first_line(lines[-1]) if lines else "no output"
    return LegacyCheck("failed", f"{_RUNTIME} probe exited with status {done.returncode}: {tail}")


def _last_json_line(stdout: str) -> dict | None:
    # The runtime may print its own chatter; the probe's verdict is the last JSON line.
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _first_line(text: str) -> str:
    """One printable line: details are shown after a status, never as a block."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return "".join(ch if ch.isprintable() else "?" for ch in line)
