"""Import TensorFlow the one way this project uses it.

    from pisight.convert.tf import tf, keras

TF 2.21 ships Keras 3, but tensorflow-model-optimization (pruning, QAT) and clean INT8
calibration need the legacy tf-keras (docs/ARCHITECTURE.md, "Known ground truth"),
selected by TF_USE_LEGACY_KERAS=1 before TensorFlow is first imported.
"""

from __future__ import annotations

import os

from pisight.device.model.runtime import quiet_native_info

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# TensorFlow's C++ logs its start-up INFO and WARNING lines (oneDNN, no CUDA drivers)
# before absl reads TF_CPP_MIN_LOG_LEVEL: kept off the console unless -v, as LiteRT's.
TF_START_NOISE = (b"I0000 ", b"W0000 ", b"WARNING: All log messages before absl::InitializeLog()")

try:
    with quiet_native_info(TF_START_NOISE):
        import tensorflow as tf
        import tf_keras as keras

        # The converter's internals, for conversion/saved_model_converter.py (TF pinned 2.21).
        from tensorflow.lite.python import lite as tflite_converter
except ImportError as exc:  # a device-only install
    raise ImportError(
        "this command needs the workstation half: pip install 'pisight[convert]'"
    ) from exc

tf.get_logger().setLevel("ERROR")

__all__ = ["keras", "tf", "tflite_converter"]
