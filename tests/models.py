"""Small real TFLite models for tests, built with the project's own converter.

Every exporter leaves TFLite_Detection_PostProcess outputs in a different order; the
variants below rewrite one converted SSD's flatbuffer to reproduce each of them:

- "signature": our export, signature keys detection_boxes/... (any tensor order)
- "tf2": TF2 Object Detection API order (scores, boxes, count, classes), tensors named
  StatefulPartitionedCall:N, uninformative signature keys output_0..3
- "tf1": TF1 order (boxes, classes, scores, count), tensors named
  TFLite_Detection_PostProcess[:N], no signature at all
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
from pisight.convert.ssd.export import export_saved_model
from pisight.convert.ssd.model import SSDConfig, build_ssd
from pisight.convert.tf import keras, tf

SSD_LABELS = ("circle", "square", "triangle")
ROLE_ORDER = {
    "tf1": ("boxes", "classes", "scores", "count"),
    "tf2": ("scores", "boxes", "count", "classes"),
}
SIGNATURE_KEY_ROLE = {
    "detection_boxes": "boxes",
    "detection_classes": "classes",
    "detection_scores": "scores",
    "num_detections": "count",
}


def calibration_batches(size: int, count: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    return lambda: (
        rng.uniform(0, 255, (1, size, size, 3)).astype(np.float32) for _ in range(count)
    )


def live_random_ssd(size: int = 96) -> tuple[keras.Model, SSDConfig]:
    """A random-weight SSD-MobileNetV2 (alpha 0.35) whose activations are not dead.

    Freshly initialised batch norms leave whole ReLU6 outputs at zero for some inputs;
    calibration then sees an empty range, which 16x8 kernels reject. A positive beta
    keeps every layer alive, as training would.
    """
    tf.keras.utils.set_random_seed(0)
    config = SSDConfig(num_classes=len(SSD_LABELS), input_size=size, alpha=0.35, labels=SSD_LABELS)
    model = build_ssd(config)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.beta.assign(tf.fill(layer.beta.shape, 0.5))
    return model, config


def build_tiny_ssd(directory: Path, size: int = 96, mode: str = "int8") -> Path:
    """A tiny live random-weight SSD, converted; returns the .tflite path."""
    model, config = live_random_ssd(size)
    saved = export_saved_model(model, config, directory / "saved_model")
    data = convert_saved_model(saved, QuantizeOptions(mode=mode), calibration_batches(size))
    path = directory / f"ssd_{mode}.tflite"
    path.write_bytes(data)
    return path


def reorder_ssd_outputs(source: Path, target: Path, style: str) -> Path:
    """Rewrite outputs, names and signature of a converted SSD to mimic an exporter."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(source))
    subgraph = model.subgraphs[0]
    by_role = {
        SIGNATURE_KEY_ROLE[o.name.decode()]: o.tensorIndex for o in model.signatureDefs[0].outputs
    }
    order = [by_role[role] for role in ROLE_ORDER[style]]
    subgraph.outputs = np.array(order, np.int32)
    for position, index in enumerate(order):
        if style == "tf1":
            suffix = f":{position}" if position else ""
            subgraph.tensors[index].name = f"TFLite_Detection_PostProcess{suffix}".encode()
        else:
            subgraph.tensors[index].name = f"StatefulPartitionedCall:{position}".encode()
    if style == "tf1":
        model.signatureDefs = []
    else:
        for position, output in enumerate(model.signatureDefs[0].outputs):
            output.name = f"output_{position}".encode()
    flatbuffer_utils.write_model(model, str(target))
    return target


def build_classifier(path: Path, classes: int = 5, quantized: bool = False) -> Path:
    tf.keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantized:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: ([batch] for batch in calibration_batches(32)())
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.uint8
        converter.inference_output_type = tf.uint8
    path.write_bytes(converter.convert())
    return path


def build_unsupported(path: Path) -> Path:
    """Two outputs no decoder knows: a feature map and a vector."""
    image = keras.Input((32, 32, 3))
    features = keras.layers.Conv2D(2, 3, strides=4)(image)
    vector = keras.layers.Dense(3)(keras.layers.Flatten()(features))
    converter = tf.lite.TFLiteConverter.from_keras_model(keras.Model(image, [features, vector]))
    path.write_bytes(converter.convert())
    return path
