"""The SSD training input: device preprocessing, augmentation and anchor targets, in tf.data.

    anchors = model_anchors(model, config)
    batches = training_batches(train_set, anchors, input_size=192, batch_size=32, seed=0)
    for pixels, (box_targets, class_targets) in batches: ...
    pixels = model_pixels(val_set, input_size=192)      # (n, 192, 192, 3) uint8, no augmentation

Every image becomes model input through device.preprocess.frame_to_model_pixels (stretch
resize, RGB), the function the Pi runs, called inside tf.numpy_function so training
cannot drift from deployment. Augmentation (random crop, horizontal flip, colour
jitter) is numpy, driven by a per-example seed that tf.data draws from the run's seed,
so a run is repeatable however many threads load it.

Anchor targets: an anchor is positive for the ground-truth box it overlaps most when
that IoU >= 0.5, and every box also claims its best anchor; anchors below 0.4 are
background (class 0), the rest ignored (class -1). Class k of the dataset is k + 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pisight.convert.data.datasets import Dataset, Sample
from pisight.convert.ssd.anchors import encode_boxes
from pisight.convert.tf import tf
from pisight.device.model.detections import box_iou
from pisight.device.model.preprocess import frame_to_model_pixels

POSITIVE_IOU = 0.5
NEGATIVE_IOU = 0.4
IGNORED = -1


@dataclass(frozen=True)
class Augmentation:
    flip: float = 0.5
    """Probability of a horizontal flip."""
    crop: float = 0.6
    """Probability of a random crop."""
    min_crop: float = 0.5
    """Smallest crop side, as a fraction of the image side."""
    brightness: float = 32.0
    """Largest pixel offset added to all channels."""
    contrast: tuple[float, float] = (0.7, 1.3)
    saturation: tuple[float, float] = (0.6, 1.4)


def anchor_corners(anchors_yxhw: np.ndarray) -> np.ndarray:
    y, x, h, w = anchors_yxhw.T
    return np.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=1)


def match_anchors(
    boxes_yxyx: np.ndarray, classes: np.ndarray, anchors_yxhw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised GT boxes (m, 4) + classes (m,) -> box targets (n, 4), class targets (n,)."""
    count = len(anchors_yxhw)
    box_targets = np.zeros((count, 4), np.float32)
    class_targets = np.zeros(count, np.int32)
    if len(boxes_yxyx) == 0:
        return box_targets, class_targets
    # box_iou is written for xyxy; IoU does not change when x and y swap roles.
    iou = box_iou(anchor_corners(anchors_yxhw), boxes_yxyx)
    matched = iou.argmax(axis=1)
    best_iou = iou.max(axis=1)
    # Without this a small or oddly shaped box that no anchor covers by 0.5 is never learnt.
    best_anchor = iou.argmax(axis=0)
    matched[best_anchor] = np.arange(len(boxes_yxyx))
    best_iou[best_anchor] = 1.0
    positive = best_iou >= POSITIVE_IOU
    class_targets[(best_iou >= NEGATIVE_IOU) & ~positive] = IGNORED
    class_targets[positive] = classes[matched[positive]] + 1
    box_targets[positive] = encode_boxes(boxes_yxyx[matched[positive]], anchors_yxhw[positive])
    return box_targets, class_targets


def sample_boxes(sample: Sample, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A sample's boxes as (m, 4) xyxy pixels and (m,) class indices."""
    index = {label: i for i, label in enumerate(labels)}
    kept = [box for box in sample.boxes if box.label in index]
    boxes = np.array([[b.x1, b.y1, b.x2, b.y2] for b in kept], np.float32).reshape(-1, 4)
    return boxes, np.array([index[b.label] for b in kept], np.int32)


def random_crop(
    image: np.ndarray, boxes: np.ndarray, classes: np.ndarray, rng: np.random.Generator,
    min_crop: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """A random window; boxes whose centre stays inside are kept and clipped to it."""
    height, width = image.shape[:2]
    for _ in range(10):  # a window that loses every object teaches little: try again
        w = int(width * rng.uniform(min_crop, 1.0))
        h = int(height * rng.uniform(min_crop, 1.0))
        x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        centres = (boxes[:, :2] + boxes[:, 2:]) / 2
        inside = (
            (centres[:, 0] > x0) & (centres[:, 0] < x0 + w)
            & (centres[:, 1] > y0) & (centres[:, 1] < y0 + h)
        )  # fmt: skip
        if inside.any() or len(boxes) == 0:
            kept = boxes[inside] - np.array([x0, y0, x0, y0], np.float32)
            kept = np.clip(kept, 0, [w, h, w, h]).astype(np.float32)
            return image[y0 : y0 + h, x0 : x0 + w], kept, classes[inside]
    return image, boxes, classes


def jitter_colours(
    pixels_rgb: np.ndarray, rng: np.random.Generator, augmentation: Augmentation
) -> np.ndarray:
    """Brightness, contrast and saturation, rounded back to what a camera could give."""
    pixels = pixels_rgb.astype(np.float32)
    grey = pixels @ np.array([0.299, 0.587, 0.114], np.float32)
    pixels = grey[..., None] + (pixels - grey[..., None]) * rng.uniform(*augmentation.saturation)
    pixels = pixels.mean() + (pixels - pixels.mean()) * rng.uniform(*augmentation.contrast)
    pixels += rng.uniform(-augmentation.brightness, augmentation.brightness)
    return np.clip(np.round(pixels), 0, 255).astype(np.uint8)


def load_example(
    sample: Sample, labels: tuple[str, ...], input_size: int, anchors: np.ndarray,
    rng: np.random.Generator | None, augmentation: Augmentation = Augmentation(),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """One sample -> float32 pixels (s, s, 3), box targets (n, 4), class targets (n,)."""
    image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read image {sample.image}")
    boxes, classes = sample_boxes(sample, labels)
    if rng is not None and rng.uniform() < augmentation.crop:
        image, boxes, classes = random_crop(image, boxes, classes, rng, augmentation.min_crop)
    if rng is not None and rng.uniform() < augmentation.flip:
        image = image[:, ::-1]
        boxes = np.stack([image.shape[1] - boxes[:, 2], boxes[:, 1],
                          image.shape[1] - boxes[:, 0], boxes[:, 3]], axis=1)  # fmt: skip
    pixels = frame_to_model_pixels(np.ascontiguousarray(image), input_size, input_size)
    if rng is not None:
        pixels = jitter_colours(pixels, rng, augmentation)
    height, width = image.shape[:2]
    normalised = boxes[:, [1, 0, 3, 2]] / np.array([height, width, height, width], np.float32)
    box_targets, class_targets = match_anchors(normalised.reshape(-1, 4), classes, anchors)
    return pixels.astype(np.float32), box_targets, class_targets


def training_batches(
    dataset: Dataset, anchors: np.ndarray, input_size: int, batch_size: int, seed: int,
    augmentation: Augmentation | None = Augmentation(),
) -> tf.data.Dataset:  # fmt: skip
    """Shuffled, augmented batches of (pixels, (box_targets, class_targets)), every epoch anew."""
    samples, labels = dataset.samples, dataset.labels
    count = len(anchors)

    def load(index: np.int64, example_seed: np.int64):
        rng = None if augmentation is None else np.random.default_rng([seed, int(example_seed)])
        return load_example(samples[int(index)], labels, input_size, anchors, rng,
                            augmentation or Augmentation())  # fmt: skip

    def load_in_graph(index: tf.Tensor, example_seed: tf.Tensor):
        pixels, boxes, classes = tf.numpy_function(
            load, [index, example_seed], [tf.float32, tf.float32, tf.int32], stateful=False
        )
        pixels.set_shape((input_size, input_size, 3))
        boxes.set_shape((count, 4))
        classes.set_shape((count,))
        return pixels, (boxes, classes)

    indices = tf.data.Dataset.range(len(samples)).shuffle(
        len(samples), seed=seed, reshuffle_each_iteration=True
    )
    # One random number per example, different every epoch but fixed by the seed.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return (
        tf.data.Dataset.zip((indices, seeds))
        .map(load_in_graph, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size, drop_remainder=len(samples) >= batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def model_pixels(dataset: Dataset, input_size: int) -> np.ndarray:
    """Every image as the device would feed it: (n, s, s, 3) uint8 RGB."""
    pixels = np.zeros((len(dataset.samples), input_size, input_size, 3), np.uint8)
    for i, sample in enumerate(dataset.samples):
        image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {sample.image}")
        pixels[i] = frame_to_model_pixels(image, input_size, input_size)
    return pixels
