"""Selective quantization on a tiny random-weight SSD (alpha 0.35, 96x96)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pisight.convert.optimize.selective import (
    LayerError,
    convert_with_float_layers,
    layer_errors,
    worst_layers,
)
from tests.cache import built_once
from tests.models import SSD_LABELS, calibration_batches

SIZE = 96
CALIBRATION = calibration_batches(SIZE, count=4)


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.ssd.export import export_saved_model
    from pisight.convert.ssd.model import SSDConfig, build_ssd
    from pisight.convert.tf import tf

    def build(root: Path) -> Path:
        tf.keras.utils.set_random_seed(0)
        config = SSDConfig(num_classes=len(SSD_LABELS), input_size=SIZE, alpha=0.35)
        return export_saved_model(build_ssd(config), config, root / "saved_model")

    return built_once(tmp_path_factory, "selective-saved-model", build)


@pytest.fixture(scope="module")
def errors(saved_model: Path) -> list[LayerError]:
    return layer_errors(saved_model, CALIBRATION)


def test_layer_errors_are_finite_unique_and_sorted_worst_first(errors: list[LayerError]) -> None:
    assert len(errors) > 50  # MobileNetV2 + heads: one per quantized op
    assert len({error.name for error in errors}) == len(errors)
    for error in errors:
        values = (error.rmse_over_scale, error.mean_error, error.max_abs_error)
        assert all(math.isfinite(value) for value in values), error
        assert error.op and error.rmse_over_scale >= 0 and error.max_abs_error >= 0
    ratios = [error.rmse_over_scale for error in errors]
    assert ratios == sorted(ratios, reverse=True)
    assert ratios[0] > 0


def _error(name: str, ratio: float) -> LayerError:
    return LayerError(name, "CONV_2D", ratio, mean_error=0.0, max_abs_error=ratio)


@pytest.mark.parametrize(
    ("limit", "threshold", "expected"),
    [
        (5, 0.7, ["c", "a"]),
        (1, 0.7, ["c"]),
        (5, 0.0, ["c", "a", "d", "b"]),
        (5, 2.0, []),
        (0, 0.0, []),
    ],
)
def test_worst_layers_respects_limit_and_threshold(
    limit: int, threshold: float, expected: list[str]
) -> None:
    errors = [_error("a", 0.9), _error("b", 0.1), _error("c", 1.5), _error("d", 0.7)]
    assert worst_layers(errors, limit=limit, threshold=threshold) == expected


def test_float_layers_stay_float_and_the_rest_int8(
    saved_model: Path, errors: list[LayerError], tmp_path: Path
) -> None:
    from ai_edge_litert.interpreter import Interpreter

    float_layers = worst_layers(errors, limit=2, threshold=0.0)
    assert len(float_layers) == 2
    model = convert_with_float_layers(saved_model, CALIBRATION, float_layers)
    path = tmp_path / "selective.tflite"
    path.write_bytes(model)

    output_types = _op_output_types(path)
    assert {name: output_types[name] for name in float_layers} == dict.fromkeys(
        float_layers, "FLOAT32"
    )
    quantized = {error.name for error in errors} - set(float_layers)
    assert {output_types[name] for name in quantized} == {"INT8"}

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    image = interpreter.get_input_details()[0]
    assert image["dtype"] == np.int8  # the camera pixel - 128, as quantize.py's int8 mode
    interpreter.set_tensor(image["index"], np.zeros(image["shape"], np.int8))
    interpreter.invoke()
    for output in interpreter.get_output_details():
        assert np.isfinite(interpreter.get_tensor(output["index"])).all()


@pytest.fixture(scope="module")
def two_conv_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Name checks need only a calibrated graph: this spares a second SSD conversion."""
    from pisight.convert.tf import keras, tf

    tf.keras.utils.set_random_seed(0)
    net = keras.Sequential(
        [keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 3)]
    )
    directory = tmp_path_factory.mktemp("two_conv") / "saved_model"
    tf.saved_model.save(net, str(directory))
    return directory


def test_unknown_layer_name_lists_valid_ones(two_conv_model: Path) -> None:
    calibration = calibration_batches(16, 2)
    with pytest.raises(ValueError, match="no layer named 'no/such/layer'") as raised:
        convert_with_float_layers(two_conv_model, calibration, ["no/such/layer"])
    listed = [line.strip() for line in str(raised.value).splitlines()[1:]]
    assert len(listed) == 2
    # The names it suggests are ones it accepts.
    assert convert_with_float_layers(two_conv_model, calibration, listed[:1])
    with pytest.raises(ValueError, match="leaves nothing quantized"):
        convert_with_float_layers(two_conv_model, calibration, listed)


def _op_output_types(path: Path) -> dict[str, str]:
    """Output tensor name -> TensorType name, for every op in the flatbuffer."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    type_names = {value: name for name, value in vars(schema.TensorType).items() if name.isupper()}
    graph = flatbuffer_utils.read_model(str(path)).subgraphs[0]
    return {
        graph.tensors[index].name.decode(): type_names[graph.tensors[index].type]
        for op in graph.operators
        for index in op.outputs
    }
