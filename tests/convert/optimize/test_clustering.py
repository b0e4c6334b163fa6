"""Sparsity-preserving weight clustering with a real fine-tuning step on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.convert.data.datasets import load_dataset
from pisight.convert.optimize.clustering import cluster_weights, distinct_weights
from pisight.convert.optimize.pruning import copy_model, layer_sparsity
from pisight.convert.ssd.finetune import FinetuneOptions
from pisight.convert.ssd.model import model_anchors
from pisight.convert.tf import keras
from tests.models import live_random_ssd

ONE_STEP = FinetuneOptions(epochs=1, batch_size=8)


def _half_zero(model: keras.Model) -> keras.Model:
    """Magnitude pruning's result without its fine-tuning: the smaller half of each kernel 0."""
    pruned = copy_model(model)
    for layer in pruned.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, *rest = layer.get_weights()
            kernel[np.abs(kernel) < np.median(np.abs(kernel))] = 0
            layer.set_weights([kernel, *rest])
    return pruned


def test_pruned_kernels_keep_their_zeros_and_share_few_values(finetune_data: Path) -> None:
    model, config = live_random_ssd()
    dataset = load_dataset(finetune_data, labels=config.labels)
    anchors = model_anchors(model, config)
    pruned = _half_zero(model)
    clustered = cluster_weights(pruned, anchors, 96, dataset, 8, ONE_STEP)

    assert [layer.name for layer in clustered.layers] == [layer.name for layer in model.layers]
    before, after = distinct_weights(pruned), distinct_weights(clustered)
    wide = [name for name, count in before.items() if count > 64]
    assert len(wide) > 20
    for name in wide:  # every kernel large enough to cluster now holds 8 values and zero
        assert after[name] <= 8, name
        zeros_before = pruned.get_layer(name).get_weights()[0] == 0
        kernel = clustered.get_layer(name).get_weights()[0]
        assert np.all(kernel[zeros_before] == 0), name
    assert layer_sparsity(clustered)["block_1_expand"] >= 0.5
    depthwise = [layer for layer in model.layers if isinstance(layer, keras.layers.DepthwiseConv2D)]
    for layer in depthwise:  # left alone: same weights as before (up to fine-tuning)
        assert np.unique(clustered.get_layer(layer.name).get_weights()[0]).size > 8
    # The caller's model is untouched.
    assert distinct_weights(pruned) == before


def test_bad_cluster_count_is_refused(finetune_data: Path) -> None:
    model, config = live_random_ssd()
    dataset = load_dataset(finetune_data, labels=config.labels)
    with pytest.raises(ValueError, match="--cluster takes 2-256"):
        cluster_weights(model, model_anchors(model, config), 96, dataset, 1, ONE_STEP)
