"""SSD anchors and the box coder that TFLite_Detection_PostProcess decodes.

    anchors = generate_anchors(AnchorConfig(), feature_sizes=[(19, 19), (10, 10), (5, 5)])
    targets = encode_boxes(gt_boxes_yxyx, anchors)       # training targets, shape (N, 4)

Anchors follow the TF Object Detection API's multiple_grid_anchor_generator, the layout
the post-processing op was built for: layer i of k has scale
s_i = min_scale + (max_scale - min_scale) * i / (k - 1); every cell gets one box per
aspect ratio at s_i plus one square box at sqrt(s_i * s_{i+1}); the first layer uses
the reduced set (0.1, 1), (s_0, 2), (s_0, 1/2) because its cells are small.

Anchors are stored as the op expects them: (N, 4) [y_center, x_center, height, width],
normalised to the image. The coder is the Faster R-CNN one with the op's y/x/h/w scales.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnchorConfig:
    min_scale: float = 0.2
    """Box size of the finest feature map, as a fraction of the image side."""
    max_scale: float = 0.95
    """Box size of the coarsest feature map."""
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)
    """Width/height ratios of the boxes on every layer after the first."""
    reduce_first_layer: bool = True
    """First layer: (0.1, 1), (s0, 2), (s0, 0.5) only, as in SSD-MobileNet."""


@dataclass(frozen=True)
class BoxCoderScales:
    """Must equal the y/x/h/w_scale attributes given to TFLite_Detection_PostProcess."""

    y: float = 10.0
    x: float = 10.0
    h: float = 5.0
    w: float = 5.0


def boxes_per_cell(config: AnchorConfig, layer: int) -> int:
    if layer == 0 and config.reduce_first_layer:
        return 3
    return len(config.aspect_ratios) + 1


def _layer_boxes(
    config: AnchorConfig, layer: int, scales: list[float]
) -> list[tuple[float, float]]:
    """(height, width) of each box a cell of this layer gets."""
    if layer == 0 and config.reduce_first_layer:
        shapes = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
    else:
        shapes = [(scales[layer], ratio) for ratio in config.aspect_ratios]
        shapes.append((math.sqrt(scales[layer] * scales[layer + 1]), 1.0))
    return [(scale / math.sqrt(ratio), scale * math.sqrt(ratio)) for scale, ratio in shapes]


def generate_anchors(config: AnchorConfig, feature_sizes: list[tuple[int, int]]) -> np.ndarray:
    """All anchors, layer by layer, cell by cell (row-major), box by box: (N, 4) yxhw."""
    layers = len(feature_sizes)
    scales = [
        config.min_scale + (config.max_scale - config.min_scale) * i / max(layers - 1, 1)
        for i in range(layers)
    ] + [1.0]
    anchors = []
    for layer, (rows, cols) in enumerate(feature_sizes):
        boxes = np.array(_layer_boxes(config, layer, scales), np.float32)
        y = (np.arange(rows, dtype=np.float32) + 0.5) / rows
        x = (np.arange(cols, dtype=np.float32) + 0.5) / cols
        yy, xx = np.meshgrid(y, x, indexing="ij")
        centers = np.stack([yy.ravel(), xx.ravel()], axis=1)
        per_cell = np.concatenate(
            [np.repeat(centers, len(boxes), axis=0), np.tile(boxes, (len(centers), 1))], axis=1
        )
        anchors.append(per_cell)
    return np.concatenate(anchors).astype(np.float32)


def encode_boxes(
    boxes_yxyx: np.ndarray, anchors: np.ndarray, scales: BoxCoderScales = BoxCoderScales()
) -> np.ndarray:
    """Ground-truth corner boxes (N, 4) matched to anchors (N, 4) -> regression targets."""
    height = np.maximum(boxes_yxyx[:, 2] - boxes_yxyx[:, 0], 1e-6)
    width = np.maximum(boxes_yxyx[:, 3] - boxes_yxyx[:, 1], 1e-6)
    y_center = boxes_yxyx[:, 0] + height / 2
    x_center = boxes_yxyx[:, 1] + width / 2
    ya, xa, ha, wa = anchors.T
    return np.stack(
        [
            (y_center - ya) / ha * scales.y,
            (x_center - xa) / wa * scales.x,
            np.log(height / ha) * scales.h,
            np.log(width / wa) * scales.w,
        ],
        axis=1,
    ).astype(np.float32)


def decode_boxes(
    encoded: np.ndarray, anchors: np.ndarray, scales: BoxCoderScales = BoxCoderScales()
) -> np.ndarray:
    """The inverse of encode_boxes, as the post-processing op computes it: (N, 4) yxyx."""
    ya, xa, ha, wa = anchors.T
    y_center = encoded[:, 0] / scales.y * ha + ya
    x_center = encoded[:, 1] / scales.x * wa + xa
    height = np.exp(encoded[:, 2] / scales.h) * ha
    width = np.exp(encoded[:, 3] / scales.w) * wa
    return np.stack(
        [y_center - height / 2, x_center - width / 2, y_center + height / 2, x_center + width / 2],
        axis=1,
    ).astype(np.float32)
