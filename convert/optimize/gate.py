"""The accuracy gate of an optimized conversion: held-out images, and the refusal.

    held = hold_out(dataset, "data/train", seed=0)     # ValueError: too few images
    held.train, held.held_out, held.describe()         # "60 of 300 images of data/train ..."
    record = check_gate(variants, plan, limit=2.0, data="60 held-out images")

Pruning without `--eval-data` used to write whatever fine-tuning gave, 20 points down
included, because no gate ran. Now a fixed share of `--finetune-data` is set aside
(a seeded shuffle, the same images every run with the same seed): fine-tuning never sees
it, keeps the epoch that scores best on it (ssd/finetune.py KeepBest), and the shipped
model must stay within the limit of post-training INT8 of the unoptimized model on it.
Both are measured on the same images, so the difference is far steadier than either
figure: an image the detector finds hard is hard for both. Still, on the demo detector
the paired drop measured on 60 images (the hold-out of 300) scattered by about 1.1
points (sd over random 60-image subsets of 150 unseen images; more for disjoint sets),
on 100 by 0.9: a few hundred fine-tuning images gate far more surely than the minimum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pisight.convert.conversion.steps import ConversionError
from pisight.convert.data.datasets import Dataset

HOLDOUT_SHARE = 0.2
MIN_HOLDOUT = 50
"""Fewer held-out images than this measure mAP too coarsely to gate 2 points on."""


QUANTIZATION_HINT_POINTS = 1.0
"""An optimized model whose own INT8 conversion loses more than this: the refusal says so."""


def images_needed() -> int:
    return math.ceil(MIN_HOLDOUT / HOLDOUT_SHARE)


@dataclass(frozen=True)
class HeldOut:
    train: Dataset
    held_out: Dataset
    source: str
    seed: int

    def describe(self) -> str:
        total = len(self.train.samples) + len(self.held_out.samples)
        return (
            f"{len(self.held_out.samples)} of {total} images of {self.source} held out for "
            f"the accuracy gate (seed {self.seed}), {len(self.train.samples)} to fine-tune on"
        )

    def to_json(self) -> dict[str, Any]:
        return {"data": self.source, "share": HOLDOUT_SHARE, "seed": self.seed,
                "held_out_images": len(self.held_out.samples),
                "finetune_images": len(self.train.samples)}  # fmt: skip


def check_holdout_size(count: int, source: str) -> None:
    """Refuse, in one line, a --finetune-data too small to hold a meaningful part out."""
    needed = images_needed()
    if count < needed:
        raise ValueError(
            f"--finetune-data {source} has {count} images; without --eval-data "
            f"{HOLDOUT_SHARE:.0%} of it is held out to gate accuracy, which needs at least "
            f"{needed} ({MIN_HOLDOUT} to measure on): add images, pass --eval-data DATASET, "
            "or --skip-accuracy-gate to fine-tune on all of them unchecked"
        )


def hold_out(dataset: Dataset, source: str, seed: int) -> HeldOut:
    check_holdout_size(len(dataset.samples), source)
    held_out, train = dataset.split(HOLDOUT_SHARE, seed)
    return HeldOut(train, held_out, source, seed)


def check_gate(
    variants: list[dict[str, Any]], what: str, limit: float | None, data: str, advice: str,
    shipped_float: float | None = None, qat: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """The shipped row against the first (post-training INT8, nothing optimized).

    what: the optimization, for the message; data: the images measured on;
    advice: what to try, for the refusal. limit None: measure and report only.
    shipped_float: mAP@0.5 of the optimized model in FP32, to tell what its own INT8
    conversion cost; qat: whether QAT already ran (else a costly conversion suggests it).
    """
    baseline = variants[0]
    shipped = next(row for row in variants if row["name"].endswith("(shipped)"))
    drop = (baseline["map50"] - shipped["map50"]) * 100.0
    record = {"data": data, "baseline": baseline["name"], "baseline_map50": baseline["map50"],
              "shipped_map50": shipped["map50"], "drop_points": round(drop, 3),
              "max_drop_points": limit, "passed": limit is None or drop <= limit}  # fmt: skip
    # What each step before the shipped one cost on its own (pruning before clustering
    # or QAT): the refusal can point at the step that lost the most.
    before = [row for row in variants[1 : variants.index(shipped)] if row["map50"] is not None]
    steps = {row["name"].removesuffix(", post-training"): (baseline["map50"] - row["map50"]) * 100
             for row in before}  # fmt: skip
    record["steps_drop_points"] = {name: round(loss, 3) for name, loss in steps.items()}
    converting = None
    if shipped_float is not None:
        converting = (shipped_float - shipped["map50"]) * 100.0
        record["shipped_fp32_map50"] = shipped_float
        record["conversion_drop_points"] = round(converting, 3)
    if limit is not None and drop > limit:
        alone = "".join(f"; {name} alone loses {loss:.2f}" for name, loss in steps.items())
        if converting is not None and converting > QUANTIZATION_HINT_POINTS:
            alone += f"; of that, its own INT8 conversion loses {converting:.2f}"
            advice += "" if qat else ", or add --qat"
        raise ConversionError(
            f"{what} loses {drop:.2f} points of mAP@0.5 against post-training INT8 "
            f"({shipped['map50']:.4f} vs {baseline['map50']:.4f} on {data}){alone}, more "
            f"than the {limit:g} allowed (--max-map-drop); nothing written. Try {advice}"
        )
    return record
