"""SSDLite heads on a Keras MobileNetV2, built with tf-keras.

    config = SSDConfig(num_classes=3, input_size=300, alpha=1.0)
    model = build_ssd(config)   # outputs box_encodings (1, N, 4), class_logits (1, N, C+1)
    anchors = model_anchors(model, config)   # (N, 4) yxhw, in the order of the outputs

The model takes float pixels 0..255 (RGB) and normalises them itself, so a quantized
model's input is the camera pixel, shifted by 128 when the input is int8. Class column 0
is background, as TFLite_Detection_PostProcess expects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pisight.convert.ssd.anchors import AnchorConfig, boxes_per_cell, generate_anchors
from pisight.convert.tf import keras

# Backbone taps by stride. SSD-MobileNetV2 starts at 16; block 6's 8x map (before its
# stride-2 depthwise) gives objects under ~10% of the side cells their own size.
FEATURE_LAYERS = {8: "block_6_expand_relu", 16: "block_13_expand_relu", 32: "out_relu"}
FINEST_STRIDES = (8, 16)
EXTRA_CHANNELS = (512, 256, 256, 128)  # SSDLite's extra feature maps at alpha 1.0


@dataclass(frozen=True)
class SSDConfig:
    num_classes: int
    """Object classes, background excluded."""
    input_size: int = 300
    alpha: float = 1.0
    """MobileNetV2 width multiplier (0.35-1.0)."""
    anchors: AnchorConfig = field(default_factory=AnchorConfig)
    finest_stride: int = 16
    """Stride of the finest feature map: 16 (SSD-MobileNetV2) or 8 (for small objects)."""
    max_detections: int = 20
    nms_iou_threshold: float = 0.5
    nms_score_threshold: float = 0.05
    labels: tuple[str, ...] = ()
    training: dict = field(default_factory=dict, compare=False)
    """How `pisight train` made the model (command, seed, data, time); bundles repeat it."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SSDConfig:
        data = json.loads(text)
        data["anchors"] = AnchorConfig(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in data["anchors"].items()}
        )
        data["labels"] = tuple(data.get("labels", ()))
        return cls(**data)


def build_ssd(config: SSDConfig, backbone_weights: str | None = None) -> keras.Model:
    """backbone_weights: None, "imagenet" or a path to MobileNetV2 weights."""
    size = config.input_size
    if not 32 <= size <= 640:
        raise ValueError(f"input size {size} is outside 32-640; 160-320 suits MobileNetV2")
    if config.finest_stride not in FINEST_STRIDES:
        allowed = " or ".join(str(stride) for stride in FINEST_STRIDES)
        raise ValueError(f"finest stride {config.finest_stride} is not one of {allowed}")
    image = keras.Input((size, size, 3), name="image")
    normalised = keras.layers.Rescaling(1 / 127.5, offset=-1.0, name="normalise")(image)
    backbone = keras.applications.MobileNetV2(
        input_tensor=normalised,
        alpha=config.alpha,
        include_top=False,
        weights=backbone_weights if backbone_weights == "imagenet" else None,
    )
    if backbone_weights not in (None, "imagenet"):
        backbone.load_weights(backbone_weights)
    features = [
        backbone.get_layer(name).output
        for stride, name in FEATURE_LAYERS.items()
        if stride >= config.finest_stride
    ]
    features += _extra_feature_maps(features[-1], config.alpha)
    boxes, classes = [], []
    for layer, feature in enumerate(features):
        per_cell = boxes_per_cell(config.anchors, layer)
        boxes.append(_head(feature, per_cell * 4, 4, f"box_{layer}"))
        classes.append(
            _head(
                feature,
                per_cell * (config.num_classes + 1),
                config.num_classes + 1,
                f"class_{layer}",
            )
        )
    box_encodings = keras.layers.Concatenate(axis=1, name="box_encodings")(boxes)
    class_logits = keras.layers.Concatenate(axis=1, name="class_logits")(classes)
    return keras.Model(image, [box_encodings, class_logits], name="ssd_mobilenet_v2")


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, depthwise: bool = False):
    if depthwise:
        x = keras.layers.DepthwiseConv2D(
            kernel, stride, padding="same", use_bias=False, name=f"{name}_dw"
        )(x)
    else:
        x = keras.layers.Conv2D(
            filters, kernel, stride, padding="same", use_bias=False, name=f"{name}_conv"
        )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x)


def _extra_feature_maps(x, alpha: float) -> list:
    maps = []
    for i, channels in enumerate(EXTRA_CHANNELS):
        if x.shape[1] == 1:  # small inputs run out of resolution early
            break
        channels = max(16, int(channels * alpha))
        x = _conv_bn(x, channels // 2, 1, 1, f"extra_{i}_reduce")
        x = _conv_bn(x, 0, 3, 2, f"extra_{i}_down", depthwise=True)
        x = _conv_bn(x, channels, 1, 1, f"extra_{i}_expand")
        maps.append(x)
    return maps


def _head(feature, filters: int, width: int, name: str):
    """SSDLite head: depthwise 3x3 then a 1x1 projection, flattened to (N, width)."""
    x = _conv_bn(feature, 0, 3, 1, f"{name}_head", depthwise=True)
    x = keras.layers.Conv2D(filters, 1, name=f"{name}_predict")(x)
    return keras.layers.Reshape((-1, width), name=f"{name}_flat")(x)


def feature_map_sizes(model: keras.Model) -> list[tuple[int, int]]:
    sizes = []
    for layer in model.layers:
        if layer.name.startswith("box_") and layer.name.endswith("_predict"):
            sizes.append((int(layer.output.shape[1]), int(layer.output.shape[2])))
    return sizes


def model_anchors(model: keras.Model, config: SSDConfig) -> np.ndarray:
    anchors = generate_anchors(config.anchors, feature_map_sizes(model))
    if anchors.shape[0] != model.outputs[0].shape[1]:
        raise ValueError(
            "anchor count does not match the box head; the config does not fit this model"
        )
    return anchors


def save_detector(model: keras.Model, config: SSDConfig, path: str | Path) -> None:
    """The model file plus its SSD config beside it (MODEL.keras -> MODEL.keras.json)."""
    path = Path(path)
    model.save(path)
    Path(f"{path}.json").write_text(config.to_json(), encoding="utf-8")


def load_detector(path: str | Path) -> tuple[keras.Model, SSDConfig]:
    path = Path(path)
    sidecar = Path(f"{path}.json")
    if not sidecar.is_file():
        raise FileNotFoundError(
            f"{sidecar} is missing: it holds the SSD config saved beside {path.name}"
        )
    model = keras.models.load_model(path, compile=False)
    return model, SSDConfig.from_json(sidecar.read_text(encoding="utf-8"))
