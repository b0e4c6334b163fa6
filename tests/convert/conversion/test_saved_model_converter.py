"""The one-load SavedModel converter gives the official converter's bytes, faster."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisight.convert.conversion.saved_model_converter import saved_model_converter, single_load
from pisight.convert.tf import tf
from tests.models import calibration_batches


def _int8(converter):
    converter.allow_custom_ops = True
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    batches = calibration_batches(96)
    converter.representative_dataset = lambda: ([batch] for batch in batches())
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    return converter


def test_one_load_gives_the_official_flatbuffer(tiny_saved_model: Path) -> None:
    fast = saved_model_converter(tiny_saved_model)
    assert getattr(fast, "pisight_debug_info", None) is not None  # the shortcut was taken
    official = tf.lite.TFLiteConverter.from_saved_model(str(tiny_saved_model))
    with single_load(fast):
        flatbuffer = _int8(fast).convert()
    assert flatbuffer == _int8(official).convert()


def test_the_load_it_answers_is_put_back(
    tiny_saved_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pisight.convert.tf import tflite_converter

    load = tflite_converter._load
    converter = saved_model_converter(tiny_saved_model)
    monkeypatch.setattr(converter, "_convert_from_saved_model", lambda _graph: 1 / 0)
    with pytest.raises(ZeroDivisionError), single_load(converter):
        converter.convert()
    assert tflite_converter._load is load
