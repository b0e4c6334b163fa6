"""Train an SSD-MobileNetV2 detector (convert/ssd/model.py) on a detection dataset.

    result = train(TrainOptions(data="data/shapes", out="demo.keras", backbone_weights="none"))
    result.best_map50, result.model_path            # demo.keras + demo.keras.json

Losses are in losses.py (focal class loss plus Huber box loss), the optimiser and the
compiled step in optimization.py: Adam with a linear warm-up into cosine decay and
global-norm clipping. Runs repeat exactly for a seed on CPU (keras set_random_seed,
seeded tf.data); op determinism is left off because it is process-wide.
Every `eval_every` epochs (and at the last) the model is scored on the validation set
with the same coco_map as `pisight eval`, without a TFLite round trip (validation.py);
the best scoring model is saved with save_detector, and training stops when mAP@0.5
has not improved for `patience` epochs.

With `teacher` (a trained detector, usually wider or with a larger input) the student
also learns the teacher's class scores and boxes on every anchor (distill.py); the
sidecar's training record names the teacher and the distillation settings.

The defaults train the demo detector on synthetic shapes from scratch on a CPU; on real
photos use backbone_weights="imagenet" (a download) or a local weights file.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from pisight.convert.data.datasets import Dataset, load_dataset
from pisight.convert.ssd.anchors import AnchorConfig
from pisight.convert.ssd.distill import DistillOptions, Teacher
from pisight.convert.ssd.model import (
    SSDConfig,
    build_ssd,
    load_detector,
    model_anchors,
    save_detector,
)
from pisight.convert.ssd.optimization import train_step, warmup_cosine_adam
from pisight.convert.ssd.train_data import Augmentation, training_batches
from pisight.convert.ssd.validation import Validation
from pisight.convert.tf import keras, tf

log = logging.getLogger("pisight.train")
OFFLINE_MESSAGE = (
    "cannot download the ImageNet MobileNetV2 weights (offline?): "
    "use --backbone-weights none or a local PATH"
)
BATCH_NORM_MOMENTUM = 0.97
CLASS_PRIOR = 0.01  # focal loss starts from "everything is background" (RetinaNet)


@dataclass(frozen=True)
class TrainOptions:
    data: str | Path
    """Training dataset (VOC, COCO or YOLO)."""
    out: str | Path
    """Where the best model goes: MODEL.keras (+ MODEL.keras.json)."""
    input_size: int = 192
    """Square input side; 160-224 suits alpha 0.35-0.5 on a Pi."""
    alpha: float = 0.35
    """MobileNetV2 width: 0.35 runs ~3x faster than 1.0 on a Pi."""
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 3e-3
    """Peak Adam learning rate, reached after the warm-up."""
    warmup_epochs: float = 2.0
    clip_norm: float = 10.0
    """Global gradient-norm clip; early focal-loss gradients can spike."""
    backbone_weights: str = "none"
    """imagenet (download), none (from scratch) or a path to MobileNetV2 weights."""
    seed: int = 0
    val_fraction: float = 0.15
    """Share of `data` held out for validation when val_data is not given."""
    val_data: str | Path | None = None
    """A separate validation dataset."""
    eval_every: int = 2
    """Epochs between validation runs."""
    patience: int = 16
    """Stop when mAP@0.5 has not improved for this many epochs."""
    anchors: AnchorConfig = field(default_factory=AnchorConfig)
    """Anchor scales and shapes; saved in the config, so export uses the same."""
    finest_stride: int = 16
    """16, or 8 to add a feature map for objects under ~10% of the image side."""
    augmentation: Augmentation | None = field(default_factory=Augmentation)
    """Random crop, flip and colour jitter; None trains on the images as they are."""
    teacher: str | Path | None = None
    """A trained detector (.keras + .json) to distill from; None trains on labels alone."""
    distill: DistillOptions = field(default_factory=DistillOptions)
    """Temperature and weights of the teacher's terms (only with a teacher)."""
    init_from: str | Path | None = None
    """A trained detector whose weights start every layer of the same name and shape (another
    input size keeps them all: convolutions do not depend on it); None: a fresh start."""
    command: str = ""
    """The command line that asked for this run, recorded with the model."""


@dataclass(frozen=True)
class TrainResult:
    best_map50: float | None
    """None when there was no validation data."""
    epochs_run: int
    seconds: float
    model_path: Path


def train(options: TrainOptions) -> TrainResult:
    start = time.monotonic()
    keras.utils.set_random_seed(options.seed)
    train_set, val_set = _datasets(options)
    config = SSDConfig(
        num_classes=len(train_set.labels), input_size=options.input_size,
        alpha=options.alpha, anchors=options.anchors, finest_stride=options.finest_stride,
        labels=train_set.labels,
    )  # fmt: skip
    model = build_model(config, options.backbone_weights)
    if options.init_from is not None:
        copied, total = copy_matching_weights(load_detector(options.init_from)[0], model)
        log.info("started %d of %d layers from %s", copied, total, options.init_from)
    anchors = model_anchors(model, config)
    batches = training_batches(
        train_set, anchors, options.input_size, options.batch_size, options.seed,
        options.augmentation,
    )  # fmt: skip
    steps = math.ceil(len(train_set.samples) / options.batch_size)
    teacher = None
    if options.teacher is not None:
        teacher = Teacher.load(options.teacher, config, anchors, options.distill)
        log.info("distilling from %s (alpha %s, input %s)", options.teacher,
                 teacher.config.alpha, teacher.config.input_size)  # fmt: skip
    step = train_step(
        model, _optimizer(options, steps), teacher, total_steps=options.epochs * steps
    )
    out = Path(options.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    validation = Validation(config, anchors, val_set) if val_set.samples else None
    log.info("training on %d images, validating on %d, %d anchors, %d steps/epoch",
             len(train_set.samples), len(val_set.samples), len(anchors), steps)  # fmt: skip
    best, epochs_run = _fit(
        options, step, batches, validation, model, lambda: save_atomically(model, config, out)
    )
    result = TrainResult(best, epochs_run, time.monotonic() - start, out)
    record = _record(options, train_set, val_set, result)
    if teacher is not None:
        record["teacher"] = teacher.record()
    if options.init_from is not None:
        record["init_from"] = str(options.init_from)
    config = replace(config, training=record)
    if validation is None:
        save_atomically(model, config, out)
    else:  # the best epoch's weights are saved; its sidecar now says how it was made
        _replace_text(Path(f"{out}.json"), config.to_json())
    return result


def _record(
    options: TrainOptions, train_set: Dataset, val_set: Dataset, result: TrainResult
) -> dict:
    return {
        "command": options.command,
        "seed": options.seed,
        "data": str(options.data),
        "images": len(train_set.samples),
        "val_data": str(options.val_data or f"{options.val_fraction:.0%} of the data"),
        "val_images": len(val_set.samples),
        "epochs": result.epochs_run,
        "best_val_map50": None if result.best_map50 is None else round(result.best_map50, 4),
        "seconds": round(result.seconds),
        "cpus": os.cpu_count(),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "tensorflow": tf.__version__,
    }


def _replace_text(path: Path, text: str) -> None:
    scratch = path.with_name(f".{path.name}.partial")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, path)


def _fit(
    options: TrainOptions, step, batches: tf.data.Dataset, validation: Validation | None,
    model: keras.Model, save: Callable[[], None],
) -> tuple[float | None, int]:  # fmt: skip
    """The epoch loop: train, validate every eval_every epochs, keep the best, stop early."""
    best, best_epoch, epoch = None, 0, 0
    for epoch in range(1, options.epochs + 1):
        epoch_start = time.monotonic()
        losses = np.mean([[float(v) for v in step(p, b, c)] for p, (b, c) in batches], axis=0)
        line = (
            f"epoch {epoch}/{options.epochs} loss {losses[0]:.3f} "
            f"(class {losses[1]:.3f}, box {losses[2]:.3f})"
        )
        if validation is not None and (epoch % options.eval_every == 0 or epoch == options.epochs):
            scores = validation.scores(model)
            line += f" val mAP@0.5 {scores.map50:.3f} mAP@[.5:.95] {scores.map50_95:.3f}"
            if best is None or scores.map50 > best:
                best, best_epoch = scores.map50, epoch
                save()
                line += " (saved)"
        log.info("%s %.0fs", line, time.monotonic() - epoch_start)
        if best is not None and epoch - best_epoch >= options.patience:
            log.info("no mAP@0.5 gain for %d epochs: stopping", options.patience)
            break
    return best, epoch


def save_atomically(model: keras.Model, config: SSDConfig, out: Path) -> None:
    """save_detector via temporary files: a crash mid-save must not eat the best model."""
    scratch = out.with_name(f".{out.stem}.partial{out.suffix}")
    save_detector(model, config, scratch)
    os.replace(scratch, out)
    os.replace(f"{scratch}.json", f"{out}.json")


def _datasets(options: TrainOptions) -> tuple[Dataset, Dataset]:
    dataset = load_dataset(options.data)
    if options.val_data is not None:
        return dataset, load_dataset(options.val_data, labels=dataset.labels)
    if not 0.0 <= options.val_fraction < 1.0:
        raise ValueError(f"--val-fraction must be within 0..1, got {options.val_fraction}")
    return dataset.split(1.0 - options.val_fraction, options.seed)


def build_model(config: SSDConfig, backbone_weights: str) -> keras.Model:
    """build_ssd with one clear error for each way the backbone weights can be missing."""
    if backbone_weights == "imagenet":
        try:
            model = build_ssd(config, "imagenet")
        except (OSError, ValueError):
            raise
        except Exception as exc:  # tf-keras raises a bare Exception for a failed download
            raise RuntimeError(OFFLINE_MESSAGE) from exc
    elif backbone_weights == "none":
        model = build_ssd(config)
    else:
        if not Path(backbone_weights).is_file():
            raise FileNotFoundError(f"no backbone weights file at {backbone_weights}")
        model = build_ssd(config, backbone_weights)
    _bias_towards_background(model)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            # MobileNetV2's 0.999 lags thousands of steps behind a backbone that is
            # still learning, so validation saw a stale network; 0.97 is what the TF
            # Object Detection API trains SSD-MobileNet with.
            layer.momentum = BATCH_NORM_MOMENTUM
    return model


def copy_matching_weights(source: keras.Model, target: keras.Model) -> tuple[int, int]:
    """Weights of every layer named alike with the same shapes; (copied, layers with weights)."""
    copied, total = 0, 0
    for layer in target.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        total += 1
        try:
            found = source.get_layer(layer.name).get_weights()
        except ValueError:
            continue
        if [w.shape for w in found] == [w.shape for w in weights]:
            layer.set_weights(found)
            copied += 1
    return copied, total


def _bias_towards_background(model: keras.Model) -> None:
    """Start class logits at the prior, or focal loss spends epochs unlearning 0.5."""
    prior = -math.log((1 - CLASS_PRIOR) / CLASS_PRIOR)
    for layer in model.layers:
        if layer.name.startswith("class_") and layer.name.endswith("_predict"):
            kernel, bias = layer.get_weights()
            layer.set_weights([kernel, np.full_like(bias, prior)])


def _optimizer(options: TrainOptions, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    return warmup_cosine_adam(
        options.learning_rate,
        round(options.warmup_epochs * steps_per_epoch),
        options.epochs * steps_per_epoch,
        options.clip_norm,
    )
