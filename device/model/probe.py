"""Vet an untrusted .tflite before the main process builds an interpreter from it.

The interpreter is C++: a crafted or corrupted model can segfault, hang or exhaust memory
inside it, and TensorFlow's security policy says to run untrusted models in a sandbox.
So the file is first parsed in pure Python (`read_model_file`), then loaded and invoked
once in a child process under an address-space limit and a deadline. Only a model that
survives both reaches `make_interpreter` in the process that serves the stream.

    result = probe_model("bundle/model.tflite")   # ProbeResult(outcome="loaded", ...)
    check_model("bundle/model.tflite")            # raises ModelRejectedError unless loaded

The child is `python -m pisight.device.model.probe MODEL [--runtime NAME]`: a fresh interpreter
(no fork of a threaded parent), importing only numpy and the runtime, about 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pisight.device.model.tflite_file import ModelFileError, read_model_file

Outcome = Literal["loaded", "rejected", "crashed", "hung"]

PROBE_TIMEOUT_S = 10.0
# The interpreter, numpy and LiteRT's thread pool reserve ~170 MiB of address space for a
# tiny model; weights and arenas add a few times the file size.
BASE_MEMORY_MB = 1024
MEMORY_PER_MODEL_BYTE = 8


class ModelRejectedError(ValueError):
    """The model file is malformed, or crashed, hung or failed in the probe."""


@dataclass(frozen=True)
class ProbeResult:
    outcome: Outcome
    """loaded, rejected (malformed or refused by the runtime), crashed or hung in the probe."""
    detail: str
    """One line: why, or the runtime that loaded it."""


def probe_model(
    path: str | Path,
    runtime: str | None = None,
    timeout_s: float = PROBE_TIMEOUT_S,
    memory_mb: int | None = None,
) -> ProbeResult:
    """Parse the file, then load and invoke it once in a limited child process."""
    path = Path(path)
    try:
        model = read_model_file(path)
    except ModelFileError as exc:
        return ProbeResult("rejected", str(exc))
    limit_mb = memory_mb or BASE_MEMORY_MB + MEMORY_PER_MODEL_BYTE * model.size // 2**20
    command = [sys.executable, "-m", "pisight.device.model.probe", str(path)]
    if runtime:
        command += ["--runtime", runtime]
    # One interpreter thread and one BLAS thread: the probe checks the model, not speed.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    try:
        child = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, env=env,
            preexec_fn=lambda: _limit_memory(limit_mb), stdin=subprocess.DEVNULL,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return ProbeResult("hung", f"{path}: loading it did not finish within {timeout_s:g} s")
    return _classify(path, child)


def _classify(path: Path, child: subprocess.CompletedProcess) -> ProbeResult:
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return ProbeResult("crashed", f"{path}: the interpreter crashed on it ({name})")
    lines = [line for line in child.stdout.splitlines() if line.strip()]
    if child.returncode == 0 and lines and lines[-1].startswith("loaded "):
        return ProbeResult("loaded", lines[-1].removeprefix("loaded "))
    if lines and lines[-1].startswith("rejected "):
        return ProbeResult("rejected", lines[-1].removeprefix("rejected "))
    # Died without saying why: out of memory (MemoryError, std::bad_alloc abort) or similar.
    errors = [line for line in child.stderr.splitlines() if line.strip()]
    reason = errors[-1][:200] if errors else f"exit status {child.returncode}"
    return ProbeResult("crashed", f"{path}: the interpreter failed on it ({reason})")


def _limit_memory(limit_mb: int) -> None:
    limit = limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not leave a core dump


def check_model(
    path: str | Path, runtime: str | None = None, timeout_s: float = PROBE_TIMEOUT_S
) -> None:
    """Raise ModelRejectedError with a one-line reason unless the model loads cleanly."""
    result = probe_model(path, runtime, timeout_s)
    if result.outcome != "loaded":
        raise ModelRejectedError(f"model rejected: {result.detail}")


def _probe_here(path: str, runtime: str | None) -> str:
    """The child's side: load, fill inputs with zeros, invoke once."""
    import numpy as np

    from pisight.device.model.runtime import ModelLoadError, make_interpreter

    try:
        interpreter, name = make_interpreter(path, runtime, threads=1)
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        interpreter.invoke()
    except (ModelLoadError, ValueError, RuntimeError) as exc:
        return f"rejected {' '.join(str(exc).split())[:300] or type(exc).__name__}"
    return f"loaded {name}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pisight.device.model.probe")
    parser.add_argument("model")
    parser.add_argument("--runtime", default=None)
    args = parser.parse_args(argv)
    line = _probe_here(args.model, args.runtime)
    print(line, flush=True)
    return 0 if line.startswith("loaded ") else 1


if __name__ == "__main__":
    sys.exit(main())
