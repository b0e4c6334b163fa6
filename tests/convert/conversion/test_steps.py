"""StepLog: a Ctrl-C or SIGTERM that a library swallowed still stops the conversion."""

from __future__ import annotations

import contextlib

import pytest

from pisight.convert.conversion.steps import StepLog
from pisight.device import cli


def test_an_interrupt_a_step_swallowed_stops_before_the_next_step() -> None:
    steps = StepLog()
    assert steps.run("first", lambda: 1, str) == 1

    def swallowing() -> int:
        # As TensorFlow did mid-load in CI: the handler ran, the exception vanished.
        with contextlib.suppress(KeyboardInterrupt):
            cli._raise_interrupt(15, None)
        return 2

    try:
        with pytest.raises(KeyboardInterrupt):
            steps.run("load", swallowing, str)
    finally:
        cli._interrupted.clear()
    assert [step["step"] for step in steps.steps] == ["first"]
