"""Magnitude pruning (unstructured and 2:4) with a real fine-tuning step on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.convert.data.datasets import load_dataset
from pisight.convert.optimize.pruning import layer_sparsity, prune_magnitude, weight_sparsity
from pisight.convert.ssd.finetune import FinetuneOptions
from pisight.convert.ssd.model import model_anchors
from pisight.convert.tf import keras
from tests.models import live_random_ssd

ONE_STEP = FinetuneOptions(epochs=1, batch_size=8)


def _prune(finetune_data: Path, sparsity: float, structure: str):
    model, config = live_random_ssd()
    dataset = load_dataset(finetune_data, labels=config.labels)
    anchors = model_anchors(model, config)
    pruned = prune_magnitude(model, anchors, 96, dataset, sparsity, structure, ONE_STEP)
    return model, pruned


def test_unstructured_pruning_zeroes_half_of_every_conv2d(finetune_data: Path) -> None:
    original, pruned = _prune(finetune_data, 0.5, "unstructured")
    assert weight_sparsity(original) == 0.0  # the caller's model is left alone
    assert [layer.name for layer in pruned.layers] == [layer.name for layer in original.layers]
    for layer in pruned.layers:
        sparsity = layer_sparsity(pruned).get(layer.name)
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            assert sparsity == 0.0
        elif isinstance(layer, keras.layers.Conv2D):
            assert sparsity == pytest.approx(0.5, abs=0.02), layer.name
    assert 0.45 < weight_sparsity(pruned) < 0.5


def test_two_of_four_along_input_channels(finetune_data: Path) -> None:
    _, pruned = _prune(finetune_data, 0.5, "2:4")
    checked = 0
    for layer in pruned.layers:
        if type(layer) is not keras.layers.Conv2D or layer.kernel.shape[2] % 4:
            continue
        kernel = layer.get_weights()[0]  # (h, w, in, out); TFLite groups along `in`
        groups = kernel.transpose(3, 0, 1, 2).reshape(-1, 4)
        assert np.all(np.sum(groups == 0, axis=1) >= 2), layer.name
        checked += 1
    assert checked > 20
    conv1 = pruned.get_layer("Conv1").get_weights()[0]  # 3 input channels: not 2:4-able
    assert np.mean(conv1 == 0) == 0.0


def test_bad_sparsity_is_refused(finetune_data: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        _prune(finetune_data, 1.5, "unstructured")
