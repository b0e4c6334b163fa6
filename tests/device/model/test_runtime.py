from __future__ import annotations

import gc
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from pisight.device.model.runtime import (
    EDGETPU_MARKER,
    INSTALL_HINTS,
    RUNTIMES,
    ModelLoadError,
    RuntimeUnavailableError,
    available_runtimes,
    make_interpreter,
    resolve_runtime,
)


def _importable(name: str) -> bool:
    return importlib.util.find_spec(RUNTIMES[name].split(".")[0]) is not None


def test_unknown_runtime_lists_valid_ones() -> None:
    with pytest.raises(RuntimeUnavailableError, match="unknown runtime 'coral'") as info:
        resolve_runtime("coral")
    for name in RUNTIMES:
        assert name in str(info.value)


@pytest.mark.parametrize("name", list(RUNTIMES))
def test_forced_missing_runtime_names_install_command(ssd_int8: Path, name: str) -> None:
    if _importable(name):
        pytest.skip(f"{name} is importable here")
    with pytest.raises(RuntimeUnavailableError) as info:
        make_interpreter(ssd_int8, runtime=name)
    assert INSTALL_HINTS[name] in str(info.value)
    assert name not in available_runtimes()


@pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated:UserWarning")
@pytest.mark.parametrize("runtime", [None, *RUNTIMES])
def test_make_interpreter_runs_the_model(ssd_int8: Path, runtime: str | None) -> None:
    if runtime is not None and not _importable(runtime):
        pytest.skip(f"{runtime} is not installed here")
    interpreter, name = make_interpreter(ssd_int8, runtime=runtime, threads=1)
    assert name == (runtime or available_runtimes()[0])
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    assert len(interpreter.get_output_details()) == 4


# LiteRT's Delegate.__del__ trips over its own failed load; that noise is not ours.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_edgetpu_model_without_delegate(ssd_int8: Path, tmp_path: Path) -> None:
    if any(Path(d, "libedgetpu.so.1").exists() for d in ("/usr/lib", "/usr/lib/x86_64-linux-gnu")):
        pytest.skip("libedgetpu is installed here")
    model = tmp_path / "model_edgetpu.tflite"
    shutil.copy(ssd_int8, model)
    with model.open("ab") as file:
        file.write(EDGETPU_MARKER)
    with pytest.raises(ModelLoadError, match="Edge TPU") as info:
        make_interpreter(model, threads=1)
    assert "libedgetpu" in str(info.value)
    del info
    gc.collect()  # let the failed Delegate go now, inside this test's warning filter


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer\n" * 40], ids=["empty", "garbage"])
def test_garbage_model_is_a_one_line_error(tmp_path: Path, content: bytes) -> None:
    model = tmp_path / "broken.tflite"
    model.write_bytes(content)
    with pytest.raises(ModelLoadError) as info:
        make_interpreter(model)
    message = str(info.value)
    assert "\n" not in message
    assert str(model) in message
