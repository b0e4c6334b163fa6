"""Which interpreter runtime can run a model, said the way a person fixes it.

A runtime refuses a model it is too old for with a message like "Didn't find op for
builtin opcode 'FULLY_CONNECTED' version '12'"; the converter records that as data in
the bundle (`pisight convert`), and `pisight deploy` refuses a bundle the device's own
runtime cannot run with it (docs/ARCHITECTURE.md, "Runtime compatibility").

    missing_op("Didn't find op for builtin opcode 'CONV_2D' version '8'. ...")
    # MissingOp(op='CONV_2D', version=8)
    cannot_run("tflite-runtime", "2.14.0", detail)
    # 'tflite-runtime 2.14.0 cannot run it: it has no CONV_2D version 8'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

# Runtime name (model/runtime.py RUNTIMES) -> the distributions that may provide it.
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "litert": ("ai-edge-litert",),
    "tflite-runtime": ("tflite-runtime",),
    "tensorflow": ("tensorflow", "tensorflow-cpu"),
}
BUILTIN = re.compile(r"Didn't find op for builtin opcode '(\w+)' version '(\d+)'")
CUSTOM = re.compile(r"(?:unresolved custom op:|Didn't find custom operator for name) '?(\w+)'?")


@dataclass(frozen=True)
class MissingOp:
    """An op (and version, for builtins) the runtime does not have."""

    op: str
    version: int | None

    def __str__(self) -> str:
        if self.version is None:
            return f"custom op {self.op}"
        return f"{self.op} version {self.version}"

    def to_json(self) -> dict[str, str | int | None]:
        return {"op": self.op, "version": self.version}


def missing_op(detail: str) -> MissingOp | None:
    """The op a runtime's refusal names, or None when it names none."""
    if found := BUILTIN.search(detail):
        return MissingOp(found.group(1), int(found.group(2)))
    if found := CUSTOM.search(detail):
        return MissingOp(found.group(1), None)
    return None


def runtime_version(name: str) -> str | None:
    """The installed version of a runtime by its pisight name, or None if not installed."""
    for distribution in DISTRIBUTIONS.get(name, ()):
        try:
            return version(distribution)
        except PackageNotFoundError:
            continue
    return None


def installed_runtime() -> str | None:
    """The runtime `make_interpreter` would pick, by package metadata (nothing imported)."""
    return next((name for name in DISTRIBUTIONS if runtime_version(name)), None)


def cannot_run(runtime: str, runtime_version: str | None, detail: str) -> str:
    """One line: which runtime (and version) cannot run the model, and which op it lacks."""
    who = f"{runtime} {runtime_version}" if runtime_version else runtime
    missing = missing_op(detail)
    if missing is not None:
        return f"{who} cannot run it: it has no {missing}"
    # The probe's reason starts with the model's path and the runtime; keep the cause.
    reason = detail.rsplit("cannot load it: ", 1)[-1]
    return f"{who} cannot run it: {' '.join(reason.split())}"
