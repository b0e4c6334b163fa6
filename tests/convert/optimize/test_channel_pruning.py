"""Channel pruning finds the channels it may remove and rebuilds an exact, smaller model."""

from __future__ import annotations

import numpy as np
import pytest

from pisight.convert.optimize.channel_pruning import channel_plan, prunable_channels, rebuild_pruned
from pisight.convert.tf import keras
from tests.models import live_random_ssd

DEAD = np.array([1, 5, 6, 17, 30, 31, 40, 47])


def test_plan_takes_expansions_and_extras_never_the_stem_residual_or_head_outputs() -> None:
    model, _ = live_random_ssd()
    plan = channel_plan(model, 0.3)
    assert {"block_1_expand", "block_13_expand", "Conv_1"} <= set(plan)
    assert "Conv1" not in plan  # the stem: every layer sees the image through it
    assert any(name.startswith("extra_") for name in plan)
    # block_2_project feeds a residual Add; *_predict convs are the model's outputs.
    assert "block_2_project" not in plan
    assert not any(name.endswith("_predict") for name in plan)
    for name, kept in plan.items():
        filters = model.get_layer(name).filters
        assert len(kept) % 8 == 0 and abs(len(kept) - 0.7 * filters) <= 4, name
        assert np.all(np.diff(kept) > 0)  # original order kept
    removed = sum(model.get_layer(name).filters - len(kept) for name, kept in plan.items())
    assert 0.25 < removed / prunable_channels(model) < 0.35


def test_removing_dead_channels_leaves_the_outputs_unchanged() -> None:
    """Channels whose activations are zero carry nothing: pruning them must be exact."""
    model, _ = live_random_ssd()
    expand_bn = model.get_layer("block_2_expand_BN")
    depthwise_bn = model.get_layer("block_2_depthwise_BN")
    for norm, zeroed in ((expand_bn, ("gamma", "beta")), (depthwise_bn, ("beta", "moving_mean"))):
        for name in zeroed:
            variable = getattr(norm, name)
            values = variable.numpy()
            values[DEAD] = 0.0
            variable.assign(values)
    plan = {"block_2_expand": channel_plan(model, 8 / 48)["block_2_expand"]}
    assert set(DEAD).isdisjoint(plan["block_2_expand"]) and len(plan["block_2_expand"]) == 40
    smaller = rebuild_pruned(model, plan)
    assert smaller.get_layer("block_2_depthwise").get_weights()[0].shape[2] == 40
    assert smaller.get_layer("block_2_project").get_weights()[0].shape[2] == 40
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 96, 96, 3)).astype(np.float32)
    # Compared right after the pruned block: later ReLU6s of a random model saturate and
    # would hide a difference.
    before, after = (_block_2_output(m, pixels) for m in (model, smaller))
    np.testing.assert_allclose(after, before, atol=1e-5)
    assert np.abs(before).max() > 0.1
    for full, pruned in zip(model(pixels), smaller(pixels), strict=True):
        np.testing.assert_allclose(pruned.numpy(), full.numpy(), atol=1e-4)
    # Control: removing live channels instead does change the block's output.
    live = {"block_2_expand": np.arange(8, 48)}
    changed = _block_2_output(rebuild_pruned(model, live), pixels)
    assert np.abs(changed - before).max() > 1e-2


def _block_2_output(model, pixels: np.ndarray) -> np.ndarray:
    block = keras.Model(model.input, model.get_layer("block_2_project_BN").output)
    return block(pixels).numpy()


def test_pruned_model_is_smaller_and_still_prunable() -> None:
    model, _ = live_random_ssd()
    smaller = rebuild_pruned(model, channel_plan(model, 0.3))
    assert smaller.count_params() < 0.8 * model.count_params()
    assert [o.shape for o in smaller.outputs] == [o.shape for o in model.outputs]
    assert prunable_channels(smaller) < 0.75 * prunable_channels(model)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2])
def test_fraction_outside_zero_one_is_refused(fraction: float) -> None:
    model, _ = live_random_ssd()
    with pytest.raises(ValueError, match="between 0 and 1"):
        channel_plan(model, fraction)
