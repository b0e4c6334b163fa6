"""Validation mAP of a Keras SSD without a TFLite round trip: predict, decode, per-class NMS.

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
        boxes = np.stack([decode_boxes(e, self.anchors) for e in box_encodings.numpy()])
        nms = tf.image.combined_non_max_suppression(
            boxes[:, :, None, :], tf.sigmoid(class_logits[:, :, 1:]),
            max_output_size_per_class=self.config.max_detections,
            max_total_size=self.config.max_detections,
            iou_threshold=self.config.nms_iou_threshold,
            score_threshold=self.config.nms_score_threshold,
        )  # fmt: skip
        found = []
        for i, count in enumerate(nms.valid_detections.numpy()):
            sample = self.dataset.samples[start + i]
            ymin, xmin, ymax, xmax = nms.nmsed_boxes[i, :count].numpy().T
            xyxy = np.stack([xmin * sample.width, ymin * sample.height,
                             xmax * sample.width, ymax * sample.height], axis=1)  # fmt: skip
            class_ids = nms.nmsed_classes[i, :count].numpy().astype(np.int32)
            found.append(Detections(
                xyxy.astype(np.float32), nms.nmsed_scores[i, :count].numpy(), class_ids,
                tuple(self.config.labels[c] for c in class_ids),
            ))  # fmt: skip
        return found
