"""The accuracy gate's pieces: the deterministic hold-out, its size check, the refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisight.convert.conversion.steps import ConversionError
from pisight.convert.data.datasets import Dataset, Sample
from pisight.convert.optimize.gate import check_gate, check_holdout_size, hold_out, images_needed
from pisight.convert.optimize.plan import OptimizePlan
from pisight.convert.ssd.finetune import FinetuneOptions

VARIANTS = [
    {"name": "post-training (no pruning)", "map50": 0.92},
    {"name": "30% of prunable channels removed, post-training (shipped)", "map50": 0.716},
    {"name": "fp32 (no pruning)", "map50": 0.93},
]


def _dataset(count: int) -> Dataset:
    samples = tuple(Sample(Path(f"{i:03d}.jpg"), 320, 240, ()) for i in range(count))
    return Dataset(Path("data"), "voc", ("circle",), samples, ())


def test_the_same_seed_holds_out_the_same_fifth() -> None:
    first, again = hold_out(_dataset(300), "data", seed=0), hold_out(_dataset(300), "data", seed=0)
    assert len(first.held_out.samples) == 60 and len(first.train.samples) == 240
    assert first.held_out.samples == again.held_out.samples
    assert not set(first.held_out.samples) & set(first.train.samples)
    assert hold_out(_dataset(300), "data", seed=1).held_out.samples != first.held_out.samples
    assert first.describe() == (
        "60 of 300 images of data held out for the accuracy gate (seed 0), 240 to fine-tune on"
    )


def test_too_few_images_name_how_many_are_needed() -> None:
    check_holdout_size(images_needed(), "data")
    with pytest.raises(ValueError, match=f"has 120 images.*at least {images_needed()}"):
        check_holdout_size(120, "data")


def test_a_refusal_says_how_much_was_lost_and_what_to_try() -> None:
    plan = OptimizePlan(prune=0.3, structure="channel", finetune=FinetuneOptions(epochs=30))
    with pytest.raises(ConversionError) as refused:
        check_gate(VARIANTS, plan.describe(), 2.0, "60 images held out", plan.advice(240))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("30% of prunable channels removed loses 20.40 points of mAP@0.5")
    assert "(0.7160 vs 0.9200 on 60 images held out), more than the 2 allowed" in message
    assert "more --finetune-data images (240 fine-tuned on)" in message
    assert "more --finetune-epochs (ran 30)" in message and "a lower --prune (was 0.3)" in message


def test_within_the_limit_or_without_one_it_records_the_drop() -> None:
    record = check_gate(VARIANTS, "x", 25.0, "eval (150 images)", "")
    assert record["drop_points"] == pytest.approx(20.4) and record["passed"] is True
    assert check_gate(VARIANTS, "x", None, "eval", "")["max_drop_points"] is None


def test_a_refusal_names_what_each_earlier_step_cost_alone() -> None:
    variants = [
        {"name": "post-training (no pruning)", "map50": 0.9189},
        {"name": "50% unstructured sparsity, post-training", "map50": 0.9079},
        {"name": "50% unstructured sparsity + 10 weight clusters, post-training (shipped)",
         "map50": 0.8901},
        {"name": "fp32 (no pruning)", "map50": 0.92},
    ]  # fmt: skip
    with pytest.raises(ConversionError) as refused:
        check_gate(variants, "pruning + clustering", 2.0, "60 images", "--cluster 0")
    message = str(refused.value)
    assert "loses 2.88 points" in message
    assert "; 50% unstructured sparsity alone loses 1.10, more than the 2 allowed" in message
    record = check_gate(variants, "x", 3.0, "60 images", "", shipped_float=0.905)
    assert record["steps_drop_points"] == {"50% unstructured sparsity": pytest.approx(1.1)}
    assert record["conversion_drop_points"] == pytest.approx(1.49)


def test_a_costly_int8_conversion_of_the_optimized_model_suggests_qat() -> None:
    with pytest.raises(ConversionError) as refused:
        check_gate(VARIANTS, "channels", 2.0, "60 images", "more epochs", 0.878, qat=False)
    message = str(refused.value)
    assert "; of that, its own INT8 conversion loses 16.20" in message
    assert message.endswith("Try more epochs, or add --qat")
    with pytest.raises(ConversionError) as refused:
        check_gate(VARIANTS, "channels", 2.0, "60 images", "more epochs", 0.878, qat=True)
    assert "--qat" not in str(refused.value)
