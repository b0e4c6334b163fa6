"""What every conversion step shares: the step log and the error that stops a conversion.

    steps = StepLog()
    model = steps.run("quantize (int8)", lambda: quantize(...), lambda data: f"{len(data):,} bytes")

Its own module so that the converter, the verifier and the optimizers can all log and
fail the same way without importing each other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pisight.device.cli import interrupted

log = logging.getLogger("pisight.convert")


class ConversionError(RuntimeError):
    """A check failed; no bundle was written."""


@dataclass
class StepLog:
    """What each step took and changed, for the log and the report."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], Any], describe: Callable[[Any], str]) -> Any:
        log.info("%s ...", name)
        started = time.perf_counter()
        value = action()
        if interrupted():
            # TensorFlow swallowed the KeyboardInterrupt of a Ctrl-C or SIGTERM (seen in CI
            # during a model load: the conversion went on and exited 0): stop here, before
            # the next step and before anything is written.
            raise KeyboardInterrupt
        seconds = time.perf_counter() - started
        summary = describe(value)
        self.steps.append({"step": name, "seconds": round(seconds, 2), "result": summary})
        log.info("%s: %s (%.1f s)", name, summary, seconds)
        return value
