"""The converter's optional step before quantization: prune and/or train quantization-aware.

    plan = OptimizePlan(prune=0.5, structure="unstructured", qat=True, finetune_data="data/")
    optimized = optimize(source, plan, workdir, steps)

The steps run in this order, each on the last one's model: prune, cluster the weights
(few distinct values per kernel, zeros kept) or train quantization-aware. The result is a
new ModelInput: the optimized float model (exported, so the rest of the converter, its
checks and the accuracy gate treat it as the model to ship) and, with QAT, the
fake-quantized model the INT8 conversion reads its ranges from. The original stays
available for the comparison table in the report.

With `hold_out` (no --eval-data), a share of the fine-tuning data is set aside first
(gate.py): every fine-tune keeps its best epoch on it, and the converter gates the
shipped model on it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pisight.convert.conversion.model_input import ModelInput
from pisight.convert.data.datasets import Dataset, load_dataset
from pisight.convert.optimize.channel_pruning import (
    channel_plan,
    prunable_channels,
    rebuild_pruned,
)
from pisight.convert.optimize.clustering import (
    check_cluster_count,
    cluster_weights,
    clustering_summary,
)
from pisight.convert.optimize.gate import HeldOut, hold_out
from pisight.convert.optimize.pruning import (
    STRUCTURES,
    layer_sparsity,
    prune_magnitude,
    weight_sparsity,
)
from pisight.convert.optimize.qat import quantization_aware
from pisight.convert.ssd.export import export_saved_model
from pisight.convert.ssd.finetune import FinetuneOptions, KeepBest, fine_tune
from pisight.convert.ssd.model import model_anchors
from pisight.convert.ssd.validation import Validation

log = logging.getLogger("pisight.convert")


@dataclass(frozen=True)
class OptimizePlan:
    prune: float | None = None
    """Unstructured / 2:4: share of weights set to zero; channel: share of channels removed."""
    structure: str = "unstructured"
    clusters: int | None = None
    """Distinct weight values per Conv2D kernel after clustering (None: no clustering)."""
    qat: bool = False
    finetune_data: str | None = None
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)

    @property
    def wanted(self) -> bool:
        return self.prune is not None or self.clusters is not None or self.qat

    def pruning_label(self) -> str | None:
        if self.prune is None:
            return None
        if self.structure == "channel":
            return f"{self.prune:.0%} of prunable channels removed"
        if self.structure == "2:4":
            return "2:4 structured sparsity"
        return f"{self.prune:.0%} unstructured sparsity"

    def clustering_label(self) -> str | None:
        return None if self.clusters is None else f"{self.clusters} weight clusters"

    def weights_label(self) -> str | None:
        """What pruning and clustering did to the float weights, QAT aside."""
        parts = [part for part in (self.pruning_label(), self.clustering_label()) if part]
        return " + ".join(parts) or None

    def describe(self) -> str:
        qat = "quantization-aware training" if self.qat else None
        return " + ".join(part for part in (self.weights_label(), qat) if part)

    def advice(self, finetune_images: int) -> str:
        """What may win a lost mAP back: more data, more epochs, a gentler optimization."""
        tries = [
            f"more --finetune-data images ({finetune_images} fine-tuned on)",
            f"more --finetune-epochs (ran {self.finetune.epochs})",
        ]
        if self.prune is not None:
            tries.append(f"a lower --prune (was {self.prune:g})")
        if self.clusters:
            tries.append(f"more --cluster values or --cluster 0 (was {self.clusters})")
        if self.qat and self.prune is None:
            tries.append(f"a lower --finetune-lr (was {self.finetune.learning_rate:g})")
        return ", ".join(tries[:-1]) + " or " + tries[-1]


@dataclass(frozen=True)
class Optimized:
    source: ModelInput
    """The optimized float model (quantize_from set for QAT)."""
    original: ModelInput
    plan: OptimizePlan
    pruning: dict[str, Any] | None
    """For pisight.json: structure, target, achieved sparsity or channels, per layer."""
    clustering: dict[str, Any] | None = None
    """For pisight.json: clusters asked for, distinct values per layer."""
    pruned_only: Path | None = None
    """The pruned float model before clustering, for the report's comparison."""
    held_out: HeldOut | None = None
    """The fine-tuning images set aside for the accuracy gate (no --eval-data)."""
    kept_epochs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per fine-tuning step: the epoch kept and what each scored on the held-out images."""
    finetune_images: int = 0


def check_plan(
    plan: OptimizePlan, mode: str, float_layers: tuple[str, ...], per_tensor: bool = False
) -> None:
    """Fail before any work when the options cannot go together; warn when they waste it."""
    if plan.structure not in STRUCTURES:
        raise ValueError(f"--prune-structure takes {', '.join(STRUCTURES)}")
    if plan.prune is None and plan.structure != "unstructured":
        raise ValueError(f"--prune-structure {plan.structure} needs --prune SHARE, e.g. 0.5")
    if plan.prune is not None:
        if not 0.0 < plan.prune < 1.0:
            raise ValueError(f"--prune takes a share between 0 and 1, e.g. 0.5; got {plan.prune}")
        if plan.structure == "2:4" and plan.prune != 0.5:
            raise ValueError("2:4 sparsity is two zeros in every four weights: use --prune 0.5")
    if plan.clusters is not None:
        check_cluster_count(plan.clusters)
        if plan.qat:
            raise ValueError(
                "--cluster and --qat do not combine: model-optimization's cluster-preserving "
                "QAT takes minutes per step; use one of them"
            )
        if plan.structure == "channel" and plan.prune is not None:
            raise ValueError(
                "--cluster shrinks the gzipped file, channel pruning the dense model: "
                "cluster with --prune-structure unstructured or 2:4"
            )
        if per_tensor:
            # The folded batch norms scale every output channel differently: one scale per
            # tensor turns a kernel's N shared values into N per channel (gzip 0.76x of
            # plain INT8 with 16 clusters, against 0.59x per-channel with 10).
            log.warning(
                "--cluster with --per-tensor keeps little of the gzip saving: "
                "drop --per-tensor to keep per-channel scales"
            )
    if plan.wanted and plan.finetune_data is None:
        raise ValueError(
            "--prune, --cluster and --qat fine-tune the model: add --finetune-data DATASET"
        )
    if plan.qat and mode != "int8":
        raise ValueError("--qat trains for INT8: use it with --mode int8")
    if plan.qat and float_layers:
        raise ValueError("--qat and --float-layers do not combine: QAT already keeps accuracy")


def optimize(
    source: ModelInput, plan: OptimizePlan, workdir: Path, steps, holdout: bool = False
) -> Optimized:
    if source.ssd_config is None:
        raise ValueError(
            "--prune, --cluster and --qat need one of our Keras detectors "
            "(MODEL.keras with its .json)"
        )
    config = source.ssd_config
    model = source.keras_model
    anchors = model_anchors(model, config)
    dataset, held = steps.run(
        "fine-tuning data",
        lambda: _finetune_data(plan, config.labels, holdout),
        lambda found: found[1].describe() if found[1] else f"{len(found[0].samples)} images",
    )  # fmt: skip
    validation = None if held is None else Validation(config, anchors, held.held_out)
    keepers: dict[str, KeepBest] = {}

    def keep_best(step: str) -> KeepBest | None:
        if validation is not None:
            keepers[step] = KeepBest(validation)
        return keepers.get(step)

    pruning = None
    if plan.prune is not None:
        model, pruning = steps.run(
            f"prune ({plan.pruning_label()})",
            lambda: _prune(model, anchors, config.input_size, dataset, plan, keep_best("prune")),
            lambda result: _describe_pruning(result) + _kept(keepers.get("prune")),
        )  # fmt: skip
    clustering = pruned_only = None
    if plan.clusters is not None:
        if pruning is not None:
            pruned_only = export_saved_model(model, config, workdir / "pruned_saved_model")
        model = steps.run(
            f"cluster ({plan.clustering_label()})",
            lambda: cluster_weights(
                model, anchors, config.input_size, dataset, plan.clusters, plan.finetune,
                keep_best("cluster"), teacher=source.keras_model,
            ),
            lambda _: _describe_finetune(plan, dataset, keepers.get("cluster")),
        )  # fmt: skip
        clustering = clustering_summary(model, plan.clusters)
    label = plan.describe()
    saved = export_saved_model(model, config, workdir / "optimized_saved_model")
    optimized = replace(
        source, saved_model=saved, keras_model=model,
        description=f"{source.description}, {label}",
    )  # fmt: skip
    if plan.qat:
        aware = steps.run(
            "quantization-aware training",
            lambda: quantization_aware(
                model, anchors, config.input_size, dataset, plan.finetune,
                keep_sparsity=pruning is not None and plan.structure != "channel",
                keep_best=keep_best("qat"),
            ),
            lambda _: _describe_finetune(plan, dataset, keepers.get("qat")),
        )  # fmt: skip
        qat_saved = export_saved_model(aware, config, workdir / "qat_saved_model", anchors)
        optimized = replace(optimized, quantize_from=qat_saved)
    kept = {step: keeper.summary() for step, keeper in keepers.items()}
    return Optimized(
        optimized, source, plan, pruning, clustering, pruned_only, held, kept,
        len(dataset.samples),
    )  # fmt: skip


def _finetune_data(
    plan: OptimizePlan, labels: tuple[str, ...], holdout: bool
) -> tuple[Dataset, HeldOut | None]:
    dataset = load_dataset(plan.finetune_data, labels=labels or None)
    if not holdout:
        return dataset, None
    held = hold_out(dataset, str(plan.finetune_data), plan.finetune.seed)
    return held.train, held


def _describe_finetune(plan: OptimizePlan, dataset: Dataset, kept: KeepBest | None) -> str:
    return f"{plan.finetune.epochs} epochs on {len(dataset.samples)} images{_kept(kept)}"


def _kept(keeper: KeepBest | None) -> str:
    if keeper is None or keeper.best_epoch is None:
        return ""
    return f", kept epoch {keeper.best_epoch} (held-out mAP@0.5 {keeper.summary()['map50']})"


def _prune(model, anchors, input_size: int, dataset, plan: OptimizePlan, keep_best=None):
    if plan.structure == "channel":
        kept = channel_plan(model, plan.prune)
        smaller = rebuild_pruned(model, kept)
        # Whole channels take more to win back than scattered weights: the unpruned
        # model teaches the smaller one its scores on every anchor, not only the labels.
        fine_tune(
            smaller, anchors, input_size, dataset, plan.finetune, teacher=model,
            keep_best=keep_best,
        )  # fmt: skip
        channels = prunable_channels(model)
        removed = channels - prunable_channels(smaller)
        return smaller, {
            "structure": "channel", "target": plan.prune, "prunable_channels": channels,
            "removed_channels": removed, "layers": {
                name: len(indices) for name, indices in kept.items()
            },
            "parameters": {"before": model.count_params(), "after": smaller.count_params()},
        }  # fmt: skip
    # The unpruned model teaches here too: 1,500 images on labels alone left 50 %
    # unstructured sparsity 2.5 points short (issue 19).
    pruned = prune_magnitude(
        model, anchors, input_size, dataset, plan.prune, plan.structure, plan.finetune,
        keep_best, teacher=model,
    )  # fmt: skip
    return pruned, {
        "structure": plan.structure, "target": plan.prune if plan.structure != "2:4" else 0.5,
        "sparsity": round(weight_sparsity(pruned), 4),
        "layers": {name: round(value, 4) for name, value in layer_sparsity(pruned).items()},
    }  # fmt: skip


def _describe_pruning(result) -> str:
    _, pruning = result
    if pruning["structure"] == "channel":
        return (
            f"{pruning['removed_channels']} of {pruning['prunable_channels']} prunable channels "
            f"removed, parameters {pruning['parameters']['before']:,} -> "
            f"{pruning['parameters']['after']:,}"
        )
    return f"{pruning['sparsity']:.1%} of convolution weights zero"
