"""SavedModel -> TFLite flatbuffer in one of the converter's modes.

    data = convert_saved_model("sm/", QuantizeOptions(mode="int8"), calibration_batches)

Modes: fp32, fp16 (float16 weights), dynamic (int8 weights, float activations),
int8 (full integer, calibrated; int8 input by default) and int16x8 (16-bit
activations, 8-bit weights: more accurate, slower, fewer runtime kernels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pisight.convert.conversion.compact import share_repeated_vectors
from pisight.convert.conversion.saved_model_converter import saved_model_converter, single_load
from pisight.convert.tf import tf

MODES = ("fp32", "fp16", "dynamic", "int8", "int16x8")
IO_TYPES = {"uint8": tf.uint8, "int8": tf.int8, "float32": tf.float32}
# A uint8 input puts a QUANTIZE (uint8 -> int8) op in front of the graph that runs outside
# XNNPACK's thread pool: ~0.18 ms, a tenth of the demo detector's frame at 2 threads. With
# int8 the device does that shift itself while preparing the frame (device/model/preprocess.py,
# 0.008 ms).
DEFAULT_IO = "int8"


@dataclass(frozen=True)
class QuantizeOptions:
    mode: str = "int8"
    io_dtype: str = DEFAULT_IO
    """Input tensor type of an int8 model (uint8 for accelerators that want it)."""
    per_tensor: bool = False
    """Per-tensor weight scales instead of per-channel (for old accelerators)."""


def convert_saved_model(
    saved_model: str | Path,
    options: QuantizeOptions,
    calibration: Callable[[], Iterable[np.ndarray]] | None = None,
) -> bytes:
    """calibration: yields float32 (1, h, w, 3) pixel batches, needed for int8/int16x8."""
    if options.mode not in MODES:
        raise ValueError(f"unknown mode {options.mode!r}; choose one of: {', '.join(MODES)}")
    converter = saved_model_converter(Path(saved_model))
    converter.allow_custom_ops = True  # TFLite_Detection_PostProcess
    if options.mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif options.mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif options.mode in ("int8", "int16x8"):
        _configure_integer(converter, options, calibration)
    with single_load(converter):
        return share_repeated_vectors(converter.convert())


def _configure_integer(converter, options: QuantizeOptions, calibration) -> None:
    if calibration is None:
        raise ValueError(f"mode {options.mode} needs calibration data (--calib)")
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([batch] for batch in calibration())
    if options.mode == "int8":
        ops = tf.lite.OpsSet.TFLITE_BUILTINS_INT8
        io_type = IO_TYPES[options.io_dtype]
    else:
        ops = tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        io_type = tf.float32
    converter.target_spec.supported_ops = [ops]
    if options.mode == "int16x8":
        # The 16x8 kernels have no TFLite_Detection_PostProcess: it stays float.
        converter.target_spec.supported_ops = [ops, tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.inference_input_type = io_type
    if options.per_tensor:
        # Per-tensor scales suit old accelerators; per-channel is more accurate.
        converter._experimental_disable_per_channel = True
