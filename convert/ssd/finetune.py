"""Fine-tuning an existing detector: the training loop of `pisight train`, shorter and gentler.

    tuned = fine_tune(model, anchors, input_size, dataset, FinetuneOptions(epochs=4))

Pruning and quantization-aware training both change a trained model and then need a
few epochs on data to win back what the change cost. They reuse the training loss,
augmentation and warm-up-into-cosine schedule, at a lower peak learning rate so the
trained weights are adjusted, not relearned.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.ssd.optimization import train_step, warmup_cosine_adam
from pisight.convert.ssd.train import TrainOptions
from pisight.convert.ssd.train_data import training_batches
from pisight.convert.tf import keras

log = logging.getLogger("pisight.finetune")


@dataclass(frozen=True)
class FinetuneOptions:
    epochs: int = 6
    learning_rate: float = 5e-4
    """Peak Adam learning rate; a sixth of training's, so the weights move, not restart."""
    batch_size: int = 16
    seed: int = 0


def fine_tune(
    model: keras.Model,
    anchors: np.ndarray,
    input_size: int,
    dataset: Dataset,
    options: FinetuneOptions,
    before_step: Callable[[], None] | None = None,
    after_epoch: Callable[[], None] | None = None,
    teacher: keras.Model | None = None,
) -> float:
    """Train `model` in place; returns the last epoch's mean loss.

    before_step / after_epoch let pruning advance its schedule around every step, as
    tensorflow-model-optimization's UpdatePruningStep callback does inside model.fit.
    teacher: a model with the same anchors whose class scores are distilled (train_step).
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
    step = train_step(model, optimizer, teacher, total_steps=options.epochs * steps)
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
        log.info("fine-tune epoch %d/%d loss %.3f %.0fs", epoch, options.epochs, loss,
                 time.monotonic() - started)  # fmt: skip
    return loss
