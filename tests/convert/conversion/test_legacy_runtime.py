"""tflite-runtime 2.14 compatibility check, against the real frozen runtime.

The real environment is built once per test session under a pytest tmp dir (a clean
machine needs ~10 s: a Python 3.11 venv plus two wheels), never in the user's
~/.cache, so the suite is hermetic and exercises the first-creation path every run.
Tests that only need a failure or a skip use their own empty PISIGHT_CACHE.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from pisight.convert.conversion import legacy_runtime
from pisight.convert.conversion.legacy_runtime import (
    LegacyCheck,
    check_with_tflite_runtime,
    ensure_legacy_env,
    legacy_env_dir,
)

INPUT_SHAPE = (16, 16, 3)


@pytest.fixture(autouse=True)
def _check_not_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PISIGHT_SKIP_LEGACY_RUNTIME", raising=False)


@pytest.fixture(scope="session")
def legacy_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache dir holding the real env, built once (or found impossible) per session."""
    cache = tmp_path_factory.mktemp("pisight-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PISIGHT_CACHE", str(cache))
        ensure_legacy_env()  # a failure shows as skips in the tests that need the env
    yield cache


@pytest.fixture
def shared_env(legacy_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PISIGHT_CACHE", str(legacy_cache))
    return legacy_cache


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PISIGHT_CACHE", str(tmp_path))
    return tmp_path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny float Conv2D classifier, its full-INT8 version, and one too new for 2.14."""
    tf = pytest.importorskip("tensorflow")
    from tensorflow.lite.python.schema_py_generated import BuiltinOperator
    from tensorflow.lite.tools import flatbuffer_utils

    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input(INPUT_SHAPE),
            tf.keras.layers.Conv2D(4, 3, activation="relu"),
            tf.keras.layers.GlobalAveragePooling2D(),
            tf.keras.layers.Dense(2),
        ]
    )
    directory = tmp_path_factory.mktemp("legacy-models")
    paths = {"float": directory / "float.tflite", "int8": directory / "int8.tflite"}
    paths["float"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())

    rng = np.random.default_rng(0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (
        [rng.uniform(0, 1, (1, *INPUT_SHAPE)).astype(np.float32)] for _ in range(8)
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    paths["int8"].write_bytes(converter.convert())

    # A version number from the future: exactly what a newer converter emits for an op
    # that gained features after 2.14.
    flatbuffer = flatbuffer_utils.read_model(str(paths["int8"]))
    conv_code = next(
        code
        for code in flatbuffer.operatorCodes
        if BuiltinOperator.CONV_2D in (code.builtinCode, code.deprecatedBuiltinCode)
    )
    conv_code.version = 99
    paths["future_conv"] = directory / "future_conv.tflite"
    flatbuffer_utils.write_model(flatbuffer, str(paths["future_conv"]))
    return paths


def _ok_or_skip(check: LegacyCheck) -> LegacyCheck:
    if check.status == "skipped":
        pytest.skip(check.detail)
    return check


@pytest.mark.slow
@pytest.mark.parametrize("name", ["int8", "float"])
def test_model_loads_and_invokes(models: dict[str, Path], shared_env: Path, name: str) -> None:
    check = _ok_or_skip(check_with_tflite_runtime(models[name]))

    assert check.status == "ok", check.detail
    assert check.detail.startswith("loaded and invoked in tflite-runtime 2.14.0 (")
    assert check.invoke_ms is not None and check.invoke_ms >= 0
    assert list(check.outputs.values()) == [[1, 2]]


@pytest.mark.slow
def test_model_given_as_bytes(models: dict[str, Path], shared_env: Path) -> None:
    check = _ok_or_skip(check_with_tflite_runtime(models["int8"].read_bytes()))

    assert check.status == "ok", check.detail


@pytest.mark.slow
def test_op_version_newer_than_runtime_fails_naming_the_op(
    models: dict[str, Path], shared_env: Path
) -> None:
    check = _ok_or_skip(check_with_tflite_runtime(models["future_conv"]))

    assert check.status == "failed"
    assert check.detail.startswith("Didn't find op for builtin opcode 'CONV_2D' version '99'")
    assert "\n" not in check.detail


@pytest.mark.slow
@pytest.mark.parametrize(
    "garbage",
    [b"this is not a tflite model" * 8, bytes(range(256)) * 4, b"", b"TFL3" * 30],
    ids=["text", "binary", "empty", "bad-header"],  # bad-header segfaults 2.14 on x86
)
def test_garbage_fails_without_raising(shared_env: Path, garbage: bytes) -> None:
    check = _ok_or_skip(check_with_tflite_runtime(garbage))

    assert check.status == "failed"
    assert check.detail and "\n" not in check.detail and check.detail.isprintable()


def _fake_env(monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.setattr(legacy_runtime, "ensure_legacy_env", lambda **_: Path("python"))
    monkeypatch.setattr(legacy_runtime, "probe_command", lambda python, model: command)


def test_timeout_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_env(monkeypatch, ["sleep", "5"])

    start = time.monotonic()
    check = check_with_tflite_runtime(b"model", timeout_s=0.5)

    assert check == LegacyCheck("failed", "tflite-runtime 2.14.0 timed out after 0.5 s")
    assert time.monotonic() - start < 3


def test_crash_is_reported_with_signal_and_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    crash = (
        "import os, signal, sys\n"
        "print('pisight-stage:loading the model', file=sys.stderr, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGSEGV)"
    )
    _fake_env(monkeypatch, [sys.executable, "-c", crash])

    check = check_with_tflite_runtime(b"model")

    assert check == LegacyCheck(
        "failed", "tflite-runtime 2.14.0 crashed (SIGSEGV) loading the model"
    )


def test_skipped_when_env_cannot_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(legacy_runtime, "ensure_legacy_env", lambda **_: None)

    check = check_with_tflite_runtime(b"model")

    assert check.status == "skipped" and check.detail


def test_skipped_without_python311_names_the_fix(
    empty_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy_runtime, "_find_python311", lambda: None)

    check = check_with_tflite_runtime(b"model")

    assert check.status == "skipped"
    assert "no Python 3.11 interpreter found; install python3.11" in check.detail


def test_skipped_by_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PISIGHT_SKIP_LEGACY_RUNTIME", "1")
    monkeypatch.setattr(legacy_runtime, "ensure_legacy_env", pytest.fail)

    check = check_with_tflite_runtime(b"model")

    assert check == LegacyCheck("skipped", "skipped: PISIGHT_SKIP_LEGACY_RUNTIME is set")


@pytest.mark.slow
def test_env_is_cached(shared_env: Path) -> None:
    start = time.monotonic()
    python = ensure_legacy_env()
    elapsed = time.monotonic() - start

    if python is None:
        pytest.skip("tflite-runtime 2.14.0 environment could not be created here")
    assert python.is_relative_to(legacy_env_dir()) and python.exists()
    assert elapsed < 1.0
    assert (legacy_env_dir() / legacy_runtime.MARKER_NAME).exists()
    assert [p.name for p in shared_env.iterdir()] == [legacy_env_dir().name]  # no build dirs


def test_failed_build_leaves_nothing_and_is_retried(
    empty_cache: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands in for pip failing offline: it writes half an env, then fails.
    half_python = tmp_path_factory.mktemp("fake-python") / "python3.11"
    half_python.write_text('#!/bin/sh\nmkdir -p "$3/bin" && touch "$3/bin/python"\nexit 1\n')
    half_python.chmod(0o755)
    monkeypatch.setattr(legacy_runtime, "_find_python311", lambda: str(half_python))
    reasons: list[str] = []

    assert ensure_legacy_env(on_unavailable=reasons.append) is None
    assert ensure_legacy_env(on_unavailable=reasons.append) is None

    assert len(reasons) == 2 and "creating the Python 3.11 venv failed" in reasons[0]
    assert list(empty_cache.iterdir()) == []
