"""The runtime's native INFO lines stay off the console unless -v; its errors still show."""

from __future__ import annotations

import logging
import os

import pytest

from pisight.device.model.runtime import quiet_native_info


def test_native_info_lines_are_dropped_and_the_rest_written_back(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with quiet_native_info():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"ERROR: Didn't find op for builtin opcode 'FOO'\n")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "ERROR: Didn't find op for builtin opcode 'FOO'\nafter\n"


def test_verbose_shows_them(capfd: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("pisight")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with quiet_native_info():
            os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
    finally:
        logger.setLevel(level)
    assert "INFO: Created" in capfd.readouterr().err
