"""Quantization-aware fine-tuning: a real step on synthetic data, batch norms kept as trained."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pisight.convert.data.datasets import load_dataset
from pisight.convert.optimize.qat import quantization_aware
from pisight.convert.ssd.finetune import FinetuneOptions
from pisight.convert.ssd.model import model_anchors
from pisight.convert.tf import keras
from tests.models import live_random_ssd

NORM_STATISTICS = ("/moving_mean:0", "/moving_variance:0")


def _variables(model: keras.Model) -> dict[str, np.ndarray]:
    """Every variable by name; QAT's wrappers keep the names of the layers they wrap."""
    return {variable.name: variable.numpy().copy() for variable in model.weights}


def test_fine_tuning_moves_the_kernels_and_keeps_the_batch_norm_statistics(
    finetune_data: Path,
) -> None:
    model, config = live_random_ssd()
    dataset = load_dataset(finetune_data, labels=config.labels)
    before = _variables(model)

    aware = quantization_aware(
        model, model_anchors(model, config), 96, dataset, FinetuneOptions(epochs=1, batch_size=4)
    )

    after = _variables(aware)
    norms = [name for name in before if name.endswith(NORM_STATISTICS)]
    kernels = [name for name in before if name.endswith("/kernel:0")]
    assert norms and kernels and set(norms + kernels) <= after.keys()
    for name in norms:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)
    still = [name for name in kernels if np.array_equal(before[name], after[name])]
    # Only box heads of scales where these 8 images put no box get no gradient.
    assert len(still) < len(kernels) / 4 and all(name.startswith("box_") for name in still)
    assert all(np.array_equal(before[n], value) for n, value in _variables(model).items())
