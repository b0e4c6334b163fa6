"""The SSD training losses: focal class loss, Huber box loss, and distillation towards a teacher.

    total, class_loss, box_loss = detection_loss(box_targets, class_targets, boxes, logits)
    total += distillation_loss(class_targets, logits, teacher_logits, temperature=2.0)
    total += box_distillation_loss(class_targets, boxes, teacher_boxes, teacher_logits)

Sigmoid focal loss (alpha 0.25, gamma 2) on the object columns of every non-ignored
anchor plus Huber (delta 1) on the box encodings of positive anchors, both divided by
the number of positives.
"""

from __future__ import annotations

from pisight.convert.tf import tf


def focal_loss(one_hot: tf.Tensor, logits: tf.Tensor, alpha: float = 0.25, gamma: float = 2.0):
    """Sigmoid focal loss per element: easy negatives, the vast majority, weigh ~nothing."""
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=one_hot, logits=logits)
    probability = tf.sigmoid(logits)
    p_true = one_hot * probability + (1 - one_hot) * (1 - probability)
    alpha_true = one_hot * alpha + (1 - one_hot) * (1 - alpha)
    return alpha_true * (1 - p_true) ** gamma * cross_entropy


def detection_loss(box_targets, class_targets, box_encodings, class_logits):
    """(total, class, box) loss of a batch, each divided by its number of positive anchors."""
    positive = tf.cast(class_targets > 0, tf.float32)
    valid = tf.cast(class_targets >= 0, tf.float32)
    positives = tf.maximum(tf.reduce_sum(positive), 1.0)
    one_hot = tf.one_hot(tf.maximum(class_targets, 0), tf.shape(class_logits)[-1])
    # Column 0 (background) is left out, as in RetinaNet: background is "no class fires",
    # and TFLite_Detection_PostProcess never reads that column.
    focal = focal_loss(one_hot[..., 1:], class_logits[..., 1:])
    per_anchor = tf.reduce_sum(focal, axis=-1)
    class_loss = tf.reduce_sum(per_anchor * valid) / positives
    error = tf.abs(box_targets - box_encodings)
    huber = tf.where(error < 1.0, 0.5 * error**2, error - 0.5)  # delta 1
    box_loss = tf.reduce_sum(tf.reduce_sum(huber, axis=-1) * positive) / positives
    return class_loss + box_loss, class_loss, box_loss


def distillation_loss(
    class_targets, class_logits, teacher_logits, beta: float = 2.0, temperature: float = 1.0
):
    """Quality focal loss towards a teacher's class probabilities, per positive anchor.

    Every anchor learns the teacher's confidence, not only the few matched to a box: a
    pruned network learns which near-misses its unpruned self ranked high (Generalized
    Focal Loss's soft-label form of focal loss, weight |teacher - student|^beta).
    A temperature above 1 divides both sides' logits, so the teacher's "fairly sure"
    stays distinct from "sure"; the loss is multiplied by its square to keep the
    gradient's size independent of it (Hinton et al., 2015).
    """
    soft = tf.sigmoid(teacher_logits[..., 1:] / temperature)
    logits = class_logits[..., 1:] / temperature
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(labels=soft, logits=logits)
    weighted = tf.abs(soft - tf.sigmoid(logits)) ** beta * cross_entropy
    return temperature**2 * tf.reduce_sum(weighted) / _positives(class_targets)


def box_distillation_loss(class_targets, box_encodings, teacher_boxes, teacher_logits):
    """Huber towards the teacher's box encodings, each anchor weighted by the teacher's
    top class probability: a background anchor's box means nothing, and an anchor the
    labels left out but the teacher finds an object in teaches where that object is."""
    weight = tf.stop_gradient(tf.reduce_max(tf.sigmoid(teacher_logits[..., 1:]), axis=-1))
    error = tf.abs(teacher_boxes - box_encodings)
    huber = tf.reduce_sum(tf.where(error < 1.0, 0.5 * error**2, error - 0.5), axis=-1)
    return tf.reduce_sum(huber * weight) / _positives(class_targets)


def _positives(class_targets) -> tf.Tensor:
    return tf.maximum(tf.reduce_sum(tf.cast(class_targets > 0, tf.float32)), 1.0)
