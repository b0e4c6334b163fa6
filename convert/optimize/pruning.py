"""Magnitude pruning with tensorflow-model-optimization: unstructured and 2:4 sparsity.

    pruned = prune_magnitude(model, anchors, config.input_size, data, 0.5, "unstructured", tune)

The smallest weights of every convolution are zeroed on a polynomial-decay schedule
while the detector fine-tunes, then the pruning wrappers are stripped. The result is a
plain tf-keras model with the same layers and the same multiply-accumulates: zeros make
the file compress, they do not make XNNPACK's dense kernels faster (model-optimization
issues 173 and 611). `--prune-structure channel` (channel_pruning.py) is the one that
does.

Which layers: every Conv2D and DepthwiseConv2D for unstructured sparsity; for 2:4 only
the Conv2D layers whose input channels come in fours, because the 2-of-4 groups run
along the input-channel axis of TFLite's weight layout.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from pisight.convert.data.datasets import Dataset
from pisight.convert.ssd.finetune import FinetuneOptions, KeepBest, fine_tune
from pisight.convert.tf import keras

log = logging.getLogger("pisight.prune")

STRUCTURES = ("unstructured", "2:4", "channel")
# The schedule reaches full sparsity after this share of fine-tuning, so the last
# steps recover accuracy at the final sparsity instead of chasing a moving target.
RAMP_SHARE = 0.6


def prune_magnitude(
    model: keras.Model,
    anchors: np.ndarray,
    input_size: int,
    dataset: Dataset,
    sparsity: float,
    structure: str,
    options: FinetuneOptions,
    keep_best: KeepBest | None = None,
    teacher: keras.Model | None = None,
) -> keras.Model:
    """A fine-tuned copy of `model` with `sparsity` of its convolution weights zero.

    keep_best: end with the best held-out epoch among those at the full sparsity.
    teacher: distil its class scores (the unpruned model, so the pruned one keeps its
    answers on every anchor, not only on the labelled boxes).
    """
    import tensorflow_model_optimization as tfmot

    if structure not in ("unstructured", "2:4"):
        raise ValueError(f"magnitude pruning does structure unstructured or 2:4, not {structure}")
    if not 0.0 < sparsity < 1.0:
        raise ValueError(f"--prune takes a sparsity between 0 and 1, got {sparsity}")
    per_epoch = max(1, len(dataset.samples) // options.batch_size)
    steps = options.epochs * per_epoch
    end = max(1, round(steps * RAMP_SHARE))
    frequency = max(1, end // 20)
    sparsity_api = tfmot.sparsity.keras
    if structure == "2:4":
        schedule = sparsity_api.ConstantSparsity(0.5, 0, frequency=frequency)
        extra = {"sparsity_m_by_n": (2, 4)}
    else:
        schedule = sparsity_api.PolynomialDecay(0.0, sparsity, 0, end, frequency=frequency)
        extra = {}

    def wrap(layer: keras.layers.Layer) -> keras.layers.Layer:
        if prunable(layer, structure):
            return sparsity_api.prune_low_magnitude(layer, pruning_schedule=schedule, **extra)
        return layer

    # The wrappers train the layers they wrap: give them a copy, not the caller's model.
    wrapped = keras.models.clone_model(copy_model(model), clone_function=wrap)
    updater = sparsity_api.UpdatePruningStep()
    updater.set_model(wrapped)
    updater.on_train_begin()
    fine_tune(
        wrapped, anchors, input_size, dataset, options,
        before_step=lambda: updater.on_train_batch_begin(batch=-1),
        after_epoch=lambda: updater.on_epoch_end(batch=-1),
        teacher=teacher, keep_best=keep_best,
        score_from=1 if structure == "2:4" else math.ceil(end / per_epoch),
    )  # fmt: skip
    stripped = sparsity_api.strip_pruning(wrapped)
    log.info("pruned to %.1f%% sparsity (%s)", weight_sparsity(stripped) * 100, structure)
    return stripped


def copy_model(model: keras.Model) -> keras.Model:
    """An independent copy: same graph and layer names, its own weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def prunable(layer: keras.layers.Layer, structure: str) -> bool:
    """Conv2D only: model-optimization's registry leaves depthwise kernels unpruned (their
    few weights matter most), so wrapping one would only add overhead."""
    if not isinstance(layer, keras.layers.Conv2D):  # DepthwiseConv2D is not a Conv2D here
        return False
    return structure == "unstructured" or layer.kernel.shape[2] % 4 == 0


def _kernels(model: keras.Model) -> dict[str, np.ndarray]:
    convolutions = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    return {
        layer.name: layer.get_weights()[0]
        for layer in model.layers
        if isinstance(layer, convolutions)
    }


def layer_sparsity(model: keras.Model) -> dict[str, float]:
    """Share of zero kernel weights per convolution of a Keras model."""
    return {name: float(np.mean(kernel == 0)) for name, kernel in _kernels(model).items()}


def weight_sparsity(model: keras.Model) -> float:
    """Share of zero kernel weights over all convolutions, depthwise included."""
    kernels = list(_kernels(model).values())
    total = sum(kernel.size for kernel in kernels)
    return sum(int(np.sum(kernel == 0)) for kernel in kernels) / total if total else 0.0
