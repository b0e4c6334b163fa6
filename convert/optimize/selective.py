"""Selective quantization: find the layers INT8 hurts most and keep them in float.

    errors = layer_errors(Path("sm/"), calibration_batches)
    for error in errors[:5]:
        print(f"{error.rmse_over_scale:.2f} {error.op} {error.name}")
    suspects = worst_layers(errors, limit=2)
    Path("model.tflite").write_bytes(
        convert_with_float_layers(Path("sm/"), calibration_batches, suspects)
    )

Built on TFLite's quantization debugger. It calibrates the model once, then quantizes
it with a NumericVerify op after every quantized op: that op runs the float kernel on
the same (dequantized) input and reports the difference, so each layer's error is
measured alone rather than accumulated from the layers before it. The same calibrated
model, quantized again with `denylisted_nodes`, gives the mixed int8/float model.

TFLite_Detection_PostProcess is no obstacle: the debugger's calibrate-only conversion
keeps it as the float custom op (allow_custom_ops), the quantizer leaves it float, and
TensorFlow's interpreter, which the debugger runs internally, has a kernel for it.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pisight.convert.conversion.compact import share_repeated_vectors
from pisight.convert.conversion.quantize import DEFAULT_IO, IO_TYPES
from pisight.convert.conversion.saved_model_converter import saved_model_converter, single_load
from pisight.convert.tf import tf

log = logging.getLogger("pisight.selective")

Calibration = Callable[[], Iterable[np.ndarray]]

SUSPICIOUS_RMSE_OVER_SCALE = 0.7
"""Rounding to the nearest step alone gives rmse = scale/sqrt(12) ~ 0.29 scale, so a layer
well above that loses more than rounding: its range is stretched by outliers or its
kernel amplifies the error. The TF tutorial "Inspecting quantization errors with
quantization debugger" flags layers above 0.7 as worth keeping in float."""


@dataclass(frozen=True)
class LayerError:
    name: str
    """Output tensor name of the op, as `denylisted_nodes` and `float_layers` expect it."""
    op: str
    """TFLite op, e.g. CONV_2D."""
    rmse_over_scale: float
    """Root mean squared int8-vs-float error in units of the tensor's quantization step."""
    mean_error: float
    """Mean signed error (bias), in the tensor's float units."""
    max_abs_error: float
    """Largest absolute error, in the tensor's float units."""


def layer_errors(
    saved_model: Path, calibration: Calibration, io_dtype: str = DEFAULT_IO
) -> list[LayerError]:
    """Per-layer INT8 error of a SavedModel's ops, worst first.

    calibration: yields float32 (1, h, w, 3) pixel batches, used both to calibrate and
    to measure. io_dtype only configures the converter as quantize.py does; the
    debugger always feeds float inputs, so it does not change the statistics.
    """
    started = time.monotonic()
    debugger = _debugger(saved_model, calibration, io_dtype)
    debugger.run()
    dump = io.StringIO()
    # The dump, unlike layer_statistics, names each layer by the tensor name that
    # denylisted_nodes matches and carries the scale needed for rmse/scale.
    debugger.layer_statistics_dump(dump)
    dump.seek(0)
    errors = sorted(
        (_layer_error(row) for row in csv.DictReader(dump)),
        key=lambda error: error.rmse_over_scale,
        reverse=True,
    )
    log.info(
        "measured INT8 error of %d layers in %.1f s; worst %s (%.2f steps rms)",
        len(errors),
        time.monotonic() - started,
        errors[0].name if errors else "-",
        errors[0].rmse_over_scale if errors else 0.0,
    )
    return errors


def worst_layers(
    errors: list[LayerError], limit: int = 5, threshold: float = SUSPICIOUS_RMSE_OVER_SCALE
) -> list[str]:
    """Names of layers whose rmse/scale exceeds threshold, worst first, at most limit.

    Every float layer costs a dequantize/quantize pair and a float kernel on the Pi,
    so the limit keeps the model mostly integer even when many layers look bad.
    """
    ranked = sorted(errors, key=lambda error: error.rmse_over_scale, reverse=True)
    return [error.name for error in ranked if error.rmse_over_scale > threshold][:limit]


def convert_with_float_layers(
    saved_model: Path,
    calibration: Calibration,
    float_layers: list[str],
    io_dtype: str = DEFAULT_IO,
) -> bytes:
    """Full-INT8 TFLite model except float_layers, which run float kernels.

    The input takes io_dtype (int8 by default) like quantize.py's int8
    mode; outputs stay float, as TFLite_Detection_PostProcess produces them.
    """
    started = time.monotonic()
    debugger = _debugger(saved_model, calibration, io_dtype)
    # The quantizer silently ignores names it does not know: check them ourselves.
    _check_layer_names(float_layers, _op_output_names(debugger.calibrated_model))
    try:
        # Re-quantizes the already calibrated model; no second calibration.
        with _quiet_tf_interpreter():
            debugger.options = tf.lite.experimental.QuantizationDebugOptions(
                denylisted_nodes=list(float_layers)
            )
    except ValueError as exc:  # the debugger found no quantized op left to verify
        raise ValueError(
            f"keeping {len(float_layers)} layers in float leaves nothing quantized; "
            "convert with mode fp32 instead"
        ) from exc
    model = debugger.get_nondebug_quantized_model()
    # The debugger quantizes a calibrate-only conversion, which skips the converter's
    # I/O retyping step; apply it here so the input matches quantize.py's.
    model = share_repeated_vectors(_modify_model_io_type(model, IO_TYPES[io_dtype], tf.float32))
    log.info(
        "converted with %d float layers in %.1f s (%d bytes)",
        len(float_layers),
        time.monotonic() - started,
        len(model),
    )
    return model


def _debugger(
    saved_model: Path,
    calibration: Calibration,
    io_dtype: str,
) -> tf.lite.experimental.QuantizationDebugger:
    """A debugger over a converter set up like quantize.py's int8 mode."""
    if io_dtype not in IO_TYPES:
        raise ValueError(f"unknown io dtype {io_dtype!r}; choose one of: {', '.join(IO_TYPES)}")
    converter = saved_model_converter(saved_model)
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([batch] for batch in calibration())
    # Float builtins are allowed so denylisted layers keep float kernels; every other
    # op is still quantized, since the quantizer only skips the denylisted ones.
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
        tf.lite.OpsSet.TFLITE_BUILTINS,
    ]
    converter.inference_input_type = IO_TYPES[io_dtype]
    # The debugger converts twice (float, then calibrated) as it is built.
    with _quiet_tf_interpreter(), single_load(converter):
        return tf.lite.experimental.QuantizationDebugger(
            converter=converter,
            debug_dataset=lambda: ([batch] for batch in calibration()),
        )


@contextmanager
def _quiet_tf_interpreter() -> Iterator[None]:
    """The debugger runs TensorFlow's own (deprecated) interpreter internally, which
    warns on every construction: nothing a caller can act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        yield


def _layer_error(row: dict[str, str]) -> LayerError:
    scale = float(row["scale"])
    rmse = math.sqrt(float(row["mean_squared_error"]))
    return LayerError(
        name=row["tensor_name"],
        op=row["op_name"],
        rmse_over_scale=rmse / scale if scale > 0 else math.inf,
        mean_error=float(row["mean_error"]),
        max_abs_error=float(row["max_abs_error"]),
    )


def _op_output_names(model: bytes) -> list[str]:
    from tensorflow.lite.tools import flatbuffer_utils

    graph = flatbuffer_utils.convert_bytearray_to_object(model).subgraphs[0]
    return [graph.tensors[index].name.decode() for op in graph.operators for index in op.outputs]


def _check_layer_names(requested: list[str], valid: list[str]) -> None:
    unknown = [name for name in requested if name not in set(valid)]
    if unknown:
        examples = "\n  ".join(valid[:5])
        raise ValueError(
            f"no layer named {', '.join(map(repr, unknown))} in this model; "
            f"names look like (see layer_errors() for all):\n  {examples}"
        )


def _modify_model_io_type(model: bytes, input_type: tf.DType, output_type: tf.DType) -> bytes:
    from tensorflow.lite.python.util import modify_model_io_type

    return modify_model_io_type(model, input_type, output_type)
