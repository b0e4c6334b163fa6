"""Knowledge distillation: a student detector learns from a trained teacher on every anchor.

    teacher = Teacher.load("models/demo/demo.keras", student_config, student_anchors)
    step = train_step(student, optimizer, teacher)       # labels + the teacher's targets
    teacher.record()            # {"model": ..., "alpha": 0.5, "temperature": 2.0, ...}

The labels name a handful of positive anchors per image; the teacher gives every anchor
a class probability and a box, near-misses and the confidence of hard cases included,
which a smaller student cannot find on its own from a few hundred images. Two terms are
added to the detection loss (losses.py): the teacher's class probabilities softened by a
temperature (distillation_loss), and its box encodings, weighted by how sure the teacher
is that the anchor holds an object (box_distillation_loss).

The student may have another width, input size or finest stride. Its input is resized
to the teacher's size for the teacher's forward pass, and each student anchor reads the
teacher anchor nearest to it (centre and shape); the teacher's box is decoded against
its own anchor and encoded again against the student's, so both speak of the same box.
With the same anchors (width changes only) both mappings are the identity and are
skipped. Pruning and QAT fine-tuning distill a model into its own smaller or quantized
self with `Teacher.same_anchors(model)`: class scores only, temperature 1, as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pisight.convert.ssd.anchors import BoxCoderScales
from pisight.convert.ssd.losses import box_distillation_loss, distillation_loss
from pisight.convert.ssd.model import SSDConfig, load_detector, model_anchors
from pisight.convert.tf import keras, tf


@dataclass(frozen=True)
class DistillOptions:
    temperature: float = 2.0
    """Softens both sides' class logits (Hinton et al.); 1 keeps them as they are."""
    class_weight: float = 1.0
    """Weight of the class-score term against the label loss."""
    box_weight: float = 1.0
    """Weight of the box term; 0 distills class scores only (pruning, QAT)."""

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"--temperature must be above 0, got {self.temperature}")
        if self.class_weight < 0 or self.box_weight < 0:
            raise ValueError("distillation weights must be 0 or more")


SCALES = BoxCoderScales()  # the post-processing op's, as training's targets use

# Fine-tuning a model against its own earlier self: what pruning and QAT always did.
SELF_DISTILLATION = DistillOptions(temperature=1.0, box_weight=0.0)


class Teacher:
    """A trained detector whose outputs, mapped onto a student's anchors, are targets."""

    def __init__(
        self,
        model: keras.Model,
        student_anchors: np.ndarray,
        teacher_anchors: np.ndarray,
        input_size: int | None = None,
        options: DistillOptions = DistillOptions(),
        source: str = "",
        config: SSDConfig | None = None,
    ) -> None:
        self.model, self.options, self.source, self.config = model, options, source, config
        self.input_size = input_size
        same = student_anchors.shape == teacher_anchors.shape and np.allclose(
            student_anchors, teacher_anchors
        )
        self.index = None if same else nearest_anchors(student_anchors, teacher_anchors)
        self.student_anchors = tf.constant(student_anchors, tf.float32)
        self.teacher_anchors = tf.constant(teacher_anchors, tf.float32)

    @classmethod
    def same_anchors(
        cls, model: keras.Model, options: DistillOptions = SELF_DISTILLATION
    ) -> Teacher:
        """The model a fine-tune starts from, teaching its pruned or quantized copy."""
        anchors = np.zeros((int(model.outputs[0].shape[1]), 4), np.float32)
        return cls(model, anchors, anchors, None, options, "the model before fine-tuning")

    @classmethod
    def load(
        cls,
        path: str | Path,
        student: SSDConfig,
        student_anchors: np.ndarray,
        options: DistillOptions = DistillOptions(),
    ) -> Teacher:
        if not Path(path).is_file():
            raise FileNotFoundError(f"no teacher model at {path}: give a .keras from pisight train")
        model, config = load_detector(path)
        if config.labels and student.labels and tuple(config.labels) != tuple(student.labels):
            raise ValueError(
                f"the teacher {path} knows {', '.join(config.labels)} but the data has "
                f"{', '.join(student.labels)}: train the student on the teacher's classes"
            )
        size = config.input_size if config.input_size != student.input_size else None
        teacher_anchors = model_anchors(model, config)
        return cls(model, student_anchors, teacher_anchors, size, options, str(path), config)

    def targets(self, pixels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The teacher's (box encodings, class logits) on the student's anchors."""
        if self.input_size is not None:
            # The device stretches the camera frame to each model's size; resizing the
            # student's input again costs a little sharpness, not alignment.
            pixels = tf.image.resize(pixels, (self.input_size, self.input_size))
        boxes, logits = self.model(pixels, training=False)
        if self.index is None:
            return boxes, logits
        boxes, logits = tf.gather(boxes, self.index, axis=1), tf.gather(logits, self.index, axis=1)
        decoded = decode_tf(boxes, tf.gather(self.teacher_anchors, self.index))
        return encode_tf(decoded, self.student_anchors), logits

    def loss(
        self, class_targets: tf.Tensor, box_encodings: tf.Tensor, class_logits: tf.Tensor,
        targets: tuple[tf.Tensor, tf.Tensor],
    ) -> tf.Tensor:  # fmt: skip
        teacher_boxes, teacher_logits = targets
        options = self.options
        total = options.class_weight * distillation_loss(
            class_targets, class_logits, teacher_logits, temperature=options.temperature
        )
        if options.box_weight > 0:
            total += options.box_weight * box_distillation_loss(
                class_targets, box_encodings, teacher_boxes, teacher_logits
            )
        return total

    def record(self) -> dict[str, Any]:
        """For the model's sidecar and the bundle's report: what taught this model."""
        config = self.config
        return {
            "model": self.source,
            "alpha": None if config is None else config.alpha,
            "input_size": None if config is None else config.input_size,
            "best_val_map50": None if config is None else config.training.get("best_val_map50"),
            "temperature": self.options.temperature,
            "class_weight": self.options.class_weight,
            "box_weight": self.options.box_weight,
        }


def nearest_anchors(student: np.ndarray, teacher: np.ndarray) -> np.ndarray:
    """For each student anchor (yxhw), the index of the closest teacher anchor.

    Distance: centre offset in units of the student anchor's size plus the log ratio of
    the sizes, so an anchor finds the teacher's of the same shape in the nearest cell.
    """
    found = np.empty(len(student), np.int32)
    log_teacher = np.log(teacher[:, 2:])
    for start in range(0, len(student), 512):  # bounded memory: 512 x N distances a time
        part = student[start : start + 512]
        offset = (part[:, None, :2] - teacher[None, :, :2]) / part[:, None, 2:]
        shape = np.log(part[:, None, 2:]) - log_teacher[None]
        distance = np.square(offset).sum(-1) + np.square(shape).sum(-1)
        found[start : start + 512] = distance.argmin(axis=1)
    return found


def decode_tf(encoded: tf.Tensor, anchors: tf.Tensor, scales: BoxCoderScales = SCALES) -> tf.Tensor:
    """anchors.decode_boxes in TensorFlow, batched: (b, n, 4) encodings -> yxyx."""
    ya, xa, ha, wa = tf.unstack(anchors, axis=-1)
    y = encoded[..., 0] / scales.y * ha + ya
    x = encoded[..., 1] / scales.x * wa + xa
    h = tf.exp(encoded[..., 2] / scales.h) * ha
    w = tf.exp(encoded[..., 3] / scales.w) * wa
    return tf.stack([y - h / 2, x - w / 2, y + h / 2, x + w / 2], axis=-1)


def encode_tf(boxes: tf.Tensor, anchors: tf.Tensor, scales: BoxCoderScales = SCALES) -> tf.Tensor:
    """anchors.encode_boxes in TensorFlow, batched: (b, n, 4) yxyx -> encodings."""
    ya, xa, ha, wa = tf.unstack(anchors, axis=-1)
    h = tf.maximum(boxes[..., 2] - boxes[..., 0], 1e-6)
    w = tf.maximum(boxes[..., 3] - boxes[..., 1], 1e-6)
    y, x = boxes[..., 0] + h / 2, boxes[..., 1] + w / 2
    return tf.stack(
        [(y - ya) / ha * scales.y, (x - xa) / wa * scales.x,
         tf.math.log(h / ha) * scales.h, tf.math.log(w / wa) * scales.w],
        axis=-1,
    )  # fmt: skip
