"""KeepBest: fine-tuning ends with the weights of the epoch that scored best held out."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from pisight.convert.ssd.finetune import KeepBest
from pisight.convert.tf import keras


class _Scores:
    """Stands in for ssd.validation.Validation: a fixed score per call."""

    def __init__(self, scores: list[float]) -> None:
        self.values = iter(scores)
        self.dataset = SimpleNamespace(samples=(1, 2, 3))

    def scores(self, model: keras.Model) -> SimpleNamespace:
        return SimpleNamespace(map50=next(self.values))


def test_the_best_epoch_weights_come_back() -> None:
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    keeper = KeepBest(_Scores([0.5, 0.8, 0.6]))
    kept = None
    for epoch in (4, 5, 6):
        model.set_weights([np.full((2, 1), epoch, np.float32), np.zeros(1, np.float32)])
        keeper.after_epoch(model, epoch)
        kept = model.get_weights()[0].copy() if epoch == 5 else kept
    keeper.restore(model)
    np.testing.assert_array_equal(model.get_weights()[0], kept)
    assert keeper.summary() == {
        "held_out_images": 3, "best_epoch": 5, "map50": 0.8,
        "scores": {"4": 0.5, "5": 0.8, "6": 0.6},
    }  # fmt: skip
