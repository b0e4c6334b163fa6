"""Fine-tuning an existing detector: the training loop of `pisight train`, shorter and gentler.

    tuned = fine_tune(model, anchors, input_size, dataset, FinetuneOptions(epochs=4))
    best = KeepBest(Validation(config, anchors, held_out))
    fine_tune(model, anchors, input_size, dataset, options, keep_best=best)
    best.summary()      # {"best_epoch": 9, "map50": 0.91, "scores": {...}}

Pruning, clustering and quantization-aware training all change a trained model and then
need epochs on data to win back what the change cost. They reuse the training loss,
augmentation and warm-up-into-cosine schedule, at a lower peak learning rate so the
trained weights are adjusted, not relearned. With `keep_best` the model is scored on
held-out images after each epoch of the second half (the learning rate has decayed and
pruning has reached its sparsity by then) and ends with the best epoch's weights: on a
few hundred images the last epoch can already be fitting the training set.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.ssd.distill import Teacher
from pisight.convert.ssd.optimization import train_step, warmup_cosine_adam
from pisight.convert.ssd.train import TrainOptions
from pisight.convert.ssd.train_data import training_batches
from pisight.convert.ssd.validation import Validation
from pisight.convert.tf import keras

log = logging.getLogger("pisight.finetune")


@dataclass(frozen=True)
class FinetuneOptions:
    epochs: int = 6
    learning_rate: float = 5e-4
    """Peak Adam learning rate; a sixth of training's, so the weights move, not restart."""
    batch_size: int = 16
    seed: int = 0


class KeepBest:
    """Scores a fine-tune's epochs on held-out images and remembers the best one's weights."""

    def __init__(self, validation: Validation) -> None:
        self.validation = validation
        self.scores: dict[int, float] = {}
        self.best_epoch: int | None = None
        self._weights: list[np.ndarray] | None = None

    def after_epoch(self, model: keras.Model, epoch: int) -> float:
        score = self.validation.scores(model).map50
        self.scores[epoch] = score
        if self.best_epoch is None or score > self.scores[self.best_epoch]:
            # Every variable, pruning masks and quantizer ranges included: restoring them
            # all gives back exactly the model that scored.
            self.best_epoch, self._weights = epoch, model.get_weights()
        return score

    def restore(self, model: keras.Model) -> None:
        if self._weights is not None:
            model.set_weights(self._weights)

    def summary(self) -> dict[str, Any]:
        """For pisight.json and the report: which epoch was kept and what each scored."""
        best = self.best_epoch
        return {
            "held_out_images": len(self.validation.dataset.samples),
            "best_epoch": best,
            "map50": None if best is None else round(self.scores[best], 4),
            "scores": {str(epoch): round(score, 4) for epoch, score in self.scores.items()},
        }


def fine_tune(
    model: keras.Model,
    anchors: np.ndarray,
    input_size: int,
    dataset: Dataset,
    options: FinetuneOptions,
    before_step: Callable[[], None] | None = None,
    after_epoch: Callable[[], None] | None = None,
    teacher: keras.Model | None = None,
    keep_best: KeepBest | None = None,
    score_from: int = 1,
) -> float:
    """Train `model` in place; returns the last epoch's mean loss.

    before_step / after_epoch let pruning advance its schedule around every step, as
    tensorflow-model-optimization's UpdatePruningStep callback does inside model.fit.
    teacher: a model with the same anchors whose class scores are distilled
    (ssd/distill.py, Teacher.same_anchors: class scores only, temperature 1).
    keep_best: score epochs from max(score_from, the second half) on and end with the best.
    """
    if not dataset.samples:
        raise ValueError("the fine-tuning dataset has no samples")
    if options.epochs < 1:
        raise ValueError(f"--finetune-epochs must be at least 1, got {options.epochs}")
    keras.utils.set_random_seed(options.seed)
    batches = training_batches(
        dataset, anchors, input_size, options.batch_size, options.seed
    )  # fmt: skip
    steps = max(1, len(dataset.samples) // options.batch_size)
    optimizer = warmup_cosine_adam(
        options.learning_rate, steps // 2, options.epochs * steps, TrainOptions.clip_norm
    )
    distiller = None if teacher is None else Teacher.same_anchors(teacher)
    step = train_step(model, optimizer, distiller, total_steps=options.epochs * steps)
    first_scored = min(options.epochs, max(score_from, options.epochs // 2 + 1))
    loss = math.nan
    for epoch in range(1, options.epochs + 1):
        started = time.monotonic()
        losses = []
        for pixels, (boxes, classes) in batches:
            if before_step is not None:
                before_step()
            losses.append(float(step(pixels, boxes, classes)[0]))
        if after_epoch is not None:
            after_epoch()
        loss = float(np.mean(losses))
        scored = ""
        if keep_best is not None and epoch >= first_scored:
            scored = f", held-out mAP@0.5 {keep_best.after_epoch(model, epoch):.3f}"
        log.info("fine-tune epoch %d/%d loss %.3f%s %.0fs", epoch, options.epochs, loss, scored,
                 time.monotonic() - started)  # fmt: skip
    if keep_best is not None and keep_best.best_epoch is not None:
        keep_best.restore(model)
        log.info("kept epoch %d of %d (held-out mAP@0.5 %.3f)", keep_best.best_epoch,
                 options.epochs, keep_best.scores[keep_best.best_epoch])  # fmt: skip
    return loss
