"""How SSD weights are updated: Adam on a warm-up cosine schedule, and the compiled train step.

    step = train_step(model, warmup_cosine_adam(3e-3, warmup_steps, total_steps, clip_norm=10))
    total, class_loss, box_loss = step(pixels, box_targets, class_targets)

Training and fine-tuning (pruning, clustering, QAT) share both, so a fine-tune moves
weights exactly the way training did.
"""

from __future__ import annotations

import math

from pisight.convert.ssd.distill import Teacher
from pisight.convert.ssd.losses import detection_loss
from pisight.convert.tf import keras, tf


class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak`, then cosine decay to 1% of it at `total` steps."""

    def __init__(self, peak: float, warmup: int, total: int) -> None:
        self.peak, self.warmup, self.total = peak, max(warmup, 1), max(total, warmup + 1)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        warm = self.peak * (step + 1) / self.warmup
        progress = tf.clip_by_value((step - self.warmup) / (self.total - self.warmup), 0.0, 1.0)
        cosine = self.peak * (0.01 + 0.99 * 0.5 * (1 + tf.cos(math.pi * progress)))
        return tf.where(step < self.warmup, warm, cosine)

    def get_config(self) -> dict:
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


def warmup_cosine_adam(
    peak: float, warmup_steps: int, total_steps: int, clip_norm: float
) -> keras.optimizers.Optimizer:
    """Adam on the WarmupCosine schedule with global-norm clipping (training, fine-tuning)."""
    schedule = WarmupCosine(peak, warmup_steps, total_steps)
    return keras.optimizers.Adam(schedule, global_clipnorm=clip_norm)


# Tracing and optimising the train step's graph costs 10-25 s whatever the batch (seen
# on a 2-core Xeon: 13 s for the tiny test SSD, then 0.1 s a step against 1 s eagerly).
# A run of a few steps is over before that pays back, so it runs eagerly; same losses.
GRAPH_MIN_STEPS = 10


def train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    teacher: Teacher | None = None,
    total_steps: int = GRAPH_MIN_STEPS,
):
    """One compiled optimisation step on a batch; returns (total, class, box) loss.

    With a teacher (`pisight train --teacher`, the model before pruning, or the float
    model QAT starts from), its outputs are a second target (ssd/distill.py), added to
    the total; the class and box losses returned are the labels' alone.
    total_steps: how many steps the run takes; fewer than GRAPH_MIN_STEPS run eagerly.
    """

    def step(pixels, box_targets, class_targets):
        targets = None if teacher is None else teacher.targets(pixels)
        with tf.GradientTape() as tape:
            box_encodings, class_logits = model(pixels, training=True)
            total, class_loss, box_loss = detection_loss(
                box_targets, class_targets, box_encodings, class_logits
            )
            if teacher is not None:
                total += teacher.loss(class_targets, box_encodings, class_logits, targets)
        gradients = tape.gradient(total, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return total, class_loss, box_loss

    if total_steps < GRAPH_MIN_STEPS:
        return step
    return tf.function(step, reduce_retracing=True)
