"""Export an SSD as a SavedModel whose tail becomes TFLite_Detection_PostProcess.

    export_saved_model(model, config, "out/saved_model")

TensorFlow has no kernel for the TFLite post-processing op. The TF Object Detection
API's trick: an empty tf.function marked `experimental_implements` with the op's
attributes, which the TFLite converter replaces by the real custom op (convert with
`allow_custom_ops=True`). The signature names its outputs, so the runtime finds the
roles by name whatever order the converter leaves the tensors in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pisight.convert.ssd.anchors import BoxCoderScales
from pisight.convert.ssd.model import SSDConfig, model_anchors
from pisight.convert.tf import keras, tf

SIGNATURE_OUTPUTS = ("detection_boxes", "detection_classes", "detection_scores", "num_detections")


def postprocess_signature(config: SSDConfig, scales: BoxCoderScales | None = None) -> str:
    """The op's attributes in the NameAttrList text format the converter parses."""
    scales = scales or BoxCoderScales()
    attributes = [
        ("max_detections", "i", config.max_detections),
        ("max_classes_per_detection", "i", 1),
        ("detections_per_class", "i", 100),
        ("use_regular_nms", "b", "false"),
        ("nms_score_threshold", "f", config.nms_score_threshold),
        ("nms_iou_threshold", "f", config.nms_iou_threshold),
        ("y_scale", "f", scales.y),
        ("x_scale", "f", scales.x),
        ("h_scale", "f", scales.h),
        ("w_scale", "f", scales.w),
        ("num_classes", "i", config.num_classes),
    ]
    parts = ['name: "TFLite_Detection_PostProcess"']
    parts += [
        f'attr {{ key: "{key}" value {{ {kind}: {value} }} }}' for key, kind, value in attributes
    ]
    return " ".join(parts)


class _DetectorModule(tf.Module):
    """What the SavedModel holds: the serving function and the variables it reads.

    The Keras model itself is kept out of the object graph: tracked, it makes
    tf.saved_model.save trace and store every layer's own call functions, which nothing
    here reads (the converter reads the signature). Saving took 19 s with the model
    tracked, 3.5 s without, for the same converted flatbuffer (tiny SSD, 2-core Xeon).
    """

    def __init__(self, model: keras.Model, config: SSDConfig, anchors: np.ndarray) -> None:
        super().__init__()
        object.__setattr__(self, "_keras_model", model)  # bypasses tf.Module's tracking
        self.model_variables = list(model.variables)
        self.anchors = tf.constant(anchors, tf.float32)
        size = config.input_size
        self._postprocess = tf.function(
            _postprocess_placeholder, experimental_implements=postprocess_signature(config)
        )
        self.serve = tf.function(
            self._serve,
            input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")],
        )

    def _serve(self, image: tf.Tensor) -> dict[str, tf.Tensor]:
        box_encodings, class_logits = self._keras_model(image, training=False)
        # The op compares raw values against nms_score_threshold: give it probabilities.
        outputs = self._postprocess(box_encodings, tf.sigmoid(class_logits), self.anchors)
        return dict(zip(SIGNATURE_OUTPUTS, outputs, strict=True))


def _postprocess_placeholder(box_encodings: tf.Tensor, class_scores: tf.Tensor, anchors: tf.Tensor):
    """Never executed after conversion; the converter swaps in the TFLite op."""
    return (
        tf.constant(0.0, name="boxes"),
        tf.constant(0.0, name="classes"),
        tf.constant(0.0, name="scores"),
        tf.constant(0.0, name="num_detections"),
    )


def export_saved_model(
    model: keras.Model,
    config: SSDConfig,
    directory: str | Path,
    anchors: np.ndarray | None = None,
) -> Path:
    """anchors: needed when layer names no longer say the feature map sizes (QAT wrappers)."""
    if anchors is None:
        anchors = model_anchors(model, config)
    module = _DetectorModule(model, config, anchors)
    tf.saved_model.save(module, str(directory), signatures={"serving_default": module.serve})
    return Path(directory)
