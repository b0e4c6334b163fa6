"""Interpreter shim: one `make_interpreter` over LiteRT, tflite-runtime and tf.lite.

    interpreter, runtime = make_interpreter("model.tflite", runtime=None, threads=2)

With runtime=None the first importable one wins, in the order of RUNTIMES: LiteRT is
the maintained runtime (and the only one on Python 3.13); tflite-runtime is frozen at
2.14 and needs numpy<2; TensorFlow is the heavy last resort on a workstation. The
runtimes' native INFO lines stay off the console unless `-v` (quiet_native_info).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Runtime name -> module that provides Interpreter and load_delegate.
RUNTIMES: dict[str, str] = {
    "litert": "ai_edge_litert.interpreter",
    "tflite-runtime": "tflite_runtime.interpreter",
    # Not "tensorflow.lite": importing that path yields TF's source package, which has no
    # Interpreter; the public tf.lite API is only reachable as an attribute of tensorflow.
    "tensorflow": "tensorflow",
}
INSTALL_HINTS: dict[str, str] = {
    "litert": "pip install ai-edge-litert",
    "tflite-runtime": "pip install tflite-runtime 'numpy<2' (Python <= 3.11 only)",
    "tensorflow": "pip install 'pisight[convert]'",
}
EDGETPU_MARKER = b"edgetpu-custom-op"
EDGETPU_LIBRARY = "libedgetpu.so.1"
_STDERR_SWAP = threading.Lock()


def threads_phrase(count: int) -> str:
    """ "1 thread", "4 threads": for the lines people read."""
    return "1 thread" if count == 1 else f"{count} threads"


def default_threads() -> int:
    """All cores but one: the pipeline's capture, decode and stream threads need a core,
    and an interpreter thread competing with them stalls the whole invoke."""
    return max(1, (os.cpu_count() or 1) - 1)


class RuntimeUnavailableError(RuntimeError):
    """No usable interpreter runtime, or the forced one is missing."""


class ModelLoadError(RuntimeError):
    """The model file cannot be loaded by the runtime."""


def _interpreter_module(name: str) -> Any:
    if name not in RUNTIMES:
        raise RuntimeUnavailableError(
            f"unknown runtime {name!r}; choose one of: {', '.join(RUNTIMES)}"
        )
    try:
        module = importlib.import_module(RUNTIMES[name])
    except Exception as exc:  # tflite-runtime beside numpy 2 fails with AttributeError
        raise RuntimeUnavailableError(
            f"runtime {name!r} is not importable ({type(exc).__name__}: {exc}); "
            f"install it with: {INSTALL_HINTS[name]}"
        ) from exc
    if name == "tensorflow":
        return _TensorFlowLite(module.lite)
    return module


class _TensorFlowLite:
    """Adapts tf.lite to the `Interpreter` / `load_delegate` names of the other two."""

    def __init__(self, lite: Any) -> None:
        self.Interpreter = lite.Interpreter
        self.load_delegate = lite.experimental.load_delegate


def available_runtimes() -> list[str]:
    found = []
    for name in RUNTIMES:
        try:
            _interpreter_module(name)
        except RuntimeUnavailableError:
            continue
        found.append(name)
    return found


def resolve_runtime(name: str | None) -> tuple[str, Any]:
    """The runtime forced by name, else the first importable one."""
    if name is not None:
        return name, _interpreter_module(name)
    for candidate in RUNTIMES:
        try:
            return candidate, _interpreter_module(candidate)
        except RuntimeUnavailableError:
            continue
    raise RuntimeUnavailableError(
        "no TFLite runtime is installed; install one with: pip install 'pisight[device]'"
    )


def make_interpreter(
    model_path: str | Path, runtime: str | None = None, threads: int | None = None
) -> tuple[Any, str]:
    """Build and allocate an interpreter; returns (interpreter, runtime name)."""
    path = Path(model_path)
    content = path.read_bytes()
    name, module = resolve_runtime(runtime)
    delegates = []
    if EDGETPU_MARKER in content:
        delegates.append(_load_edgetpu(module))
    try:
        with quiet_native_info():
            interpreter = module.Interpreter(
                model_content=content, num_threads=threads,
                experimental_delegates=delegates or None,
            )  # fmt: skip
            interpreter.allocate_tensors()
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"{path}: the {name} runtime cannot load it: {reason}") from exc
    return interpreter, name


NATIVE_INFO = (b"INFO: ",)
"""LiteRT's native INFO lines ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.")."""


@contextlib.contextmanager
def quiet_native_info(noise: tuple[bytes, ...] = NATIVE_INFO) -> Iterator[None]:
    """Keep the runtime's native INFO lines ("INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU.") off the user's console; `-v` (debug logging) shows them.

    The C++ runtime writes to file descriptor 2, not to sys.stderr, so the descriptor is
    pointed at a temporary file while the interpreter is built, and every other line
    (a warning, an error) is written back to the real stderr afterwards.
    """
    if logging.getLogger("pisight").isEnabledFor(logging.DEBUG):
        yield
        return
    # One at a time: two threads swapping descriptor 2 could leave it on a closed file
    # (the pipeline's watchdog builds a fresh interpreter beside the running one).
    with _STDERR_SWAP, tempfile.TemporaryFile() as captured:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):  # no usable descriptor 2 (a daemon without stderr)
            yield
            return
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().splitlines(keepends=True)
                    if not line.startswith(noise)]  # fmt: skip
            if kept:
                os.write(2, b"".join(kept))


def _load_edgetpu(module: Any) -> Any:
    try:
        return module.load_delegate(EDGETPU_LIBRARY)
    except (ValueError, OSError) as exc:
        raise ModelLoadError(
            "this model is compiled for the Edge TPU but the libedgetpu delegate is not "
            "available: install libedgetpu1-std and plug in the Coral, or use the model "
            "compiled without edgetpu_compiler"
        ) from exc
