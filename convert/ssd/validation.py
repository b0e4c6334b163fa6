"""Validation mAP of a Keras SSD without a TFLite round trip: predict, decode, NMS as bundles do.

    validation = Validation(config, anchors, val_set)     # decodes the images once
    scores = validation.scores(model)                     # CocoScores: map50, map50_95

Training scores its model every few epochs with it, fine-tuning (ssd/finetune.py) every
epoch on the images it held out, with the same coco_map as `pisight eval`.
"""

from __future__ import annotations

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.report.evaluate import CocoScores, coco_map
from pisight.convert.ssd.anchors import decode_boxes
from pisight.convert.ssd.model import SSDConfig
from pisight.convert.ssd.train_data import model_pixels
from pisight.convert.tf import keras, tf
from pisight.device.model.detections import Detections


class Validation:
    """Held-out images, decoded once, scored against any model with these anchors."""

    def __init__(self, config: SSDConfig, anchors: np.ndarray, dataset: Dataset) -> None:
        self.config, self.anchors, self.dataset = config, anchors, dataset
        self.pixels = model_pixels(dataset, config.input_size)  # decoded once, reused

    def scores(self, model: keras.Model, batch_size: int = 32) -> CocoScores:
        predictions = {}
        for start in range(0, len(self.pixels), batch_size):
            batch = tf.constant(self.pixels[start : start + batch_size], tf.float32)
            box_encodings, class_logits = model(batch, training=False)
            for offset, detections in enumerate(self._detect(box_encodings, class_logits, start)):
                predictions[start + offset] = detections
        return coco_map(self.dataset, predictions)

    def _detect(
        self, box_encodings: tf.Tensor, class_logits: tf.Tensor, start: int
    ) -> list[Detections]:
        """As the bundle's TFLite_Detection_PostProcess does (ssd/export.py: fast NMS, one
        class per box, across classes): per-class NMS keeps more boxes and once scored a
        pruned model 1.5 points above its own TFLite conversion, hiding what pruning cost."""
        boxes = np.stack([decode_boxes(e, self.anchors) for e in box_encodings.numpy()])
        probabilities = tf.sigmoid(class_logits[:, :, 1:]).numpy()
        nmsed = []
        for image_boxes, image_scores in zip(boxes, probabilities, strict=True):
            best, classes = image_scores.max(axis=1), image_scores.argmax(axis=1)
            keep = tf.image.non_max_suppression(
                image_boxes, best, max_output_size=self.config.max_detections,
                iou_threshold=self.config.nms_iou_threshold,
                score_threshold=self.config.nms_score_threshold,
            ).numpy()  # fmt: skip
            nmsed.append((image_boxes[keep], best[keep], classes[keep].astype(np.int32)))
        found = []
        for i, (kept_boxes, scores, class_ids) in enumerate(nmsed):
            sample = self.dataset.samples[start + i]
            ymin, xmin, ymax, xmax = kept_boxes.reshape(-1, 4).T
            xyxy = np.stack([xmin * sample.width, ymin * sample.height,
                             xmax * sample.width, ymax * sample.height], axis=1)  # fmt: skip
            found.append(Detections(
                xyxy.astype(np.float32), scores.astype(np.float32), class_ids,
                tuple(self.config.labels[c] for c in class_ids),
            ))  # fmt: skip
        return found
