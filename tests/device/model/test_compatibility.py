"""device/model/compatibility.py on what a real runtime says about models it cannot run.

The models are the shipped demo detector edited without TensorFlow (tests/tflite_edit.py):
an op version from the future, and the post-processing op under a name nobody registers.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from pisight.device.model.compatibility import (
    MissingOp,
    cannot_run,
    installed_runtime,
    missing_op,
    runtime_version,
)
from pisight.device.model.runtime import ModelLoadError, make_interpreter
from tests.helpers import REPO
from tests.tflite_edit import with_op_version

DEMO_MODEL = REPO / "models" / "demo" / "bundle" / "model.tflite"
POSTPROCESS = b"TFLite_Detection_PostProcess"


def refusal(tmp_path: Path, model: bytes) -> str:
    path = tmp_path / "model.tflite"
    path.write_bytes(model)
    with pytest.raises(ModelLoadError) as failure:
        make_interpreter(path, "litert")
    return str(failure.value)


def test_builtin_op_newer_than_the_runtime_is_named_with_its_version(tmp_path: Path) -> None:
    detail = refusal(tmp_path, with_op_version(DEMO_MODEL.read_bytes(), "CONV_2D", 99))
    assert missing_op(detail) == MissingOp("CONV_2D", 99)
    line = cannot_run("litert", runtime_version("litert"), detail)
    assert line == f"litert {version('ai-edge-litert')} cannot run it: it has no CONV_2D version 99"


def test_unregistered_custom_op_is_named(tmp_path: Path) -> None:
    renamed = DEMO_MODEL.read_bytes().replace(POSTPROCESS, POSTPROCESS[:-1] + b"Z")
    detail = refusal(tmp_path, renamed)
    assert missing_op(detail) == MissingOp("TFLite_Detection_PostProcesZ", None)
    assert cannot_run("litert", None, detail).endswith(
        "it has no custom op TFLite_Detection_PostProcesZ"
    )


def test_other_refusals_keep_the_runtime_s_reason_on_one_line(tmp_path: Path) -> None:
    detail = refusal(tmp_path, b"TFL3" + bytes(200))
    assert missing_op(detail) is None
    line = cannot_run("litert", "2.3.0", detail)
    assert line.startswith("litert 2.3.0 cannot run it: ") and "\n" not in line
    assert str(tmp_path) not in line  # the model's path is the deploy's business, not the cause


def test_installed_runtime_is_the_one_make_interpreter_picks(tmp_path: Path) -> None:
    _, picked = make_interpreter(DEMO_MODEL)
    assert installed_runtime() == picked
    assert runtime_version("no-such-runtime") is None
