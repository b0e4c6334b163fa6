"""`pisight train`: train an SSD-MobileNetV2 detector on a dataset.

    pisight train --data data/shapes --out demo.keras --backbone-weights none
    pisight train --data data/voc --out voc.keras --input-size 224 --alpha 0.5 \\
        --backbone-weights imagenet --epochs 80
    pisight train --data data/shapes --out small.keras --alpha 0.35 \\
        --teacher models/demo/demo.keras --temperature 2     # distilled from a teacher

Writes MODEL.keras and MODEL.keras.json (the SSD config `pisight convert` needs); the
saved model is the one with the best validation mAP@0.5. The defaults (TrainOptions)
suit the demo detector on a CPU.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from pisight.convert.ssd.anchors import AnchorConfig
from pisight.convert.ssd.distill import DistillOptions
from pisight.convert.ssd.model import FINEST_STRIDES
from pisight.convert.ssd.train import TrainOptions, train

log = logging.getLogger("pisight.train")
DEFAULTS = TrainOptions(data="", out="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(command_line="")  # `pisight train` fills it in (device/cli.py)
    _add_run_arguments(parser)
    add_anchor_arguments(parser)
    parser.add_argument(
        "--finest-stride",
        type=int,
        choices=FINEST_STRIDES,
        default=DEFAULTS.finest_stride,
        help="stride of the finest feature map: 8 adds one for small objects (more compute)",
    )
    _add_teacher_arguments(parser)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--data", required=True, metavar="DATASET", help="VOC dir, COCO json or YOLO dir")
    add("--out", required=True, type=Path, metavar="MODEL.keras", help="where the model goes")
    add("--input-size", type=int, default=DEFAULTS.input_size, help="square input side")
    add("--alpha", type=float, default=DEFAULTS.alpha, help="MobileNetV2 width multiplier")
    add("--epochs", type=int, default=DEFAULTS.epochs)
    add("--batch-size", type=int, default=DEFAULTS.batch_size)
    add("--lr", type=float, default=DEFAULTS.learning_rate, help="peak learning rate")
    add(
        "--backbone-weights",
        default=DEFAULTS.backbone_weights,
        metavar="imagenet|none|PATH",
        help="imagenet (downloads; best for real photos), none (from scratch) or a weights file",
    )
    add("--init-from", metavar="MODEL.keras",
        help="start from a trained detector's weights (same width; any input size)")  # fmt: skip
    add("--seed", type=int, default=DEFAULTS.seed)
    add(
        "--val-fraction",
        type=float,
        default=DEFAULTS.val_fraction,
        help="share of DATASET held out for validation",
    )
    add("--val-data", metavar="DATASET", help="a separate validation dataset instead")
    add("--eval-every", type=int, default=DEFAULTS.eval_every, help="epochs between validations")
    add(
        "--patience",
        type=int,
        default=DEFAULTS.patience,
        help="stop after this many epochs without a better validation mAP@0.5",
    )
    add(
        "--crop",
        type=float,
        default=DEFAULTS.augmentation.crop,
        metavar="PROB",
        help="probability of a random-crop augmentation",
    )


def add_anchor_arguments(parser: argparse.ArgumentParser) -> None:
    """Anchors that fit the objects' sizes and shapes give more positives per object
    (`pisight tune` takes the same flags: anchors are not searched)."""
    add, anchors = parser.add_argument, DEFAULTS.anchors
    add(
        "--anchor-scales",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        default=(anchors.min_scale, anchors.max_scale),
        help="anchor size of the finest and coarsest feature map, as a fraction of the side",
    )
    add(
        "--anchor-ratios",
        type=float,
        nargs="+",
        metavar="W/H",
        default=anchors.aspect_ratios,
        help="anchor aspect ratios (width / height)",
    )
    add(
        "--full-first-layer",
        action="store_true",
        help="every aspect ratio on the finest feature map too (more anchors for small objects)",
    )


def anchor_config(args: argparse.Namespace) -> AnchorConfig:
    return AnchorConfig(
        min_scale=args.anchor_scales[0],
        max_scale=args.anchor_scales[1],
        aspect_ratios=tuple(args.anchor_ratios),
        reduce_first_layer=not args.full_first_layer,
    )


def _add_teacher_arguments(parser: argparse.ArgumentParser) -> None:
    """Distillation: a trained detector's scores and boxes on every anchor as extra targets."""
    add, distill = parser.add_argument, DEFAULTS.distill
    add("--teacher", metavar="BIG.keras", help="a trained detector (.keras + .json) to learn from")
    add("--temperature", type=float, default=distill.temperature,
        help="softens the teacher's and the student's class scores (1: as they are)")  # fmt: skip
    add("--distill-weight", type=float, default=distill.class_weight,
        help="weight of the teacher's class scores against the labels")  # fmt: skip
    add("--distill-box-weight", type=float, default=distill.box_weight,
        help="weight of the teacher's boxes (0: class scores only)")  # fmt: skip


def options_from(args: argparse.Namespace) -> TrainOptions:
    """The command line as TrainOptions (`pisight tune` builds the same from a trial)."""
    return TrainOptions(
        data=args.data,
        out=args.out,
        input_size=args.input_size,
        alpha=args.alpha,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        backbone_weights=args.backbone_weights,
        seed=args.seed,
        val_fraction=args.val_fraction,
        val_data=args.val_data,
        eval_every=args.eval_every,
        patience=args.patience,
        anchors=anchor_config(args),
        finest_stride=args.finest_stride,
        command=args.command_line,
        augmentation=replace(DEFAULTS.augmentation, crop=args.crop),
        teacher=args.teacher,
        init_from=args.init_from,
        distill=DistillOptions(args.temperature, args.distill_weight, args.distill_box_weight),
    )


def main(args: argparse.Namespace) -> int:
    result = train(options_from(args))
    best = "-" if result.best_map50 is None else f"{result.best_map50:.3f}"
    print(
        f"model={result.model_path} best_map50={best} epochs={result.epochs_run} "
        f"seconds={result.seconds:.0f}"
    )
    return 0
