"""`pisight convert`: a Keras detector, SavedModel or keras:mobilenet_v2 -> a bundle.

pisight convert demo.keras --out bundles/demo --calib frames/ --calib-samples 200
pisight convert exported/saved_model --out bundles/ssd --calib data/voc --labels coco.txt
pisight convert keras:mobilenet_v2 --weights none --out bundles/mnv2 --calib frames/
pisight convert demo.keras --out bundles/small --calib frames/ --prune 0.3 \
    --prune-structure channel --qat --finetune-data data/train --eval-data data/val
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pisight.convert.conversion.compatibility import DEFAULT_TARGET, TARGET_RUNTIMES
from pisight.convert.conversion.converter import convert_model
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.conversion.quantize import DEFAULT_IO, IO_TYPES, MODES
from pisight.convert.optimize.defaults import (
    DEFAULT_CLUSTERS,
    HELP,
    default_clusters,
    recipe_for,
)
from pisight.convert.optimize.plan import OptimizePlan
from pisight.convert.optimize.pruning import STRUCTURES
from pisight.convert.ssd.finetune import FinetuneOptions
from pisight.device.model.labels import label_file, load_labels
from pisight.device.pipeline.run import input_range

log = logging.getLogger("pisight.convert")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(command_line="")  # `pisight convert` fills it in (device/cli.py)
    add = parser.add_argument
    add("model", help="MODEL.keras/.h5 (with its .json), a SavedModel dir, or keras:mobilenet_v2")
    add("--out", type=Path, required=True, help="bundle directory to write")
    add("--mode", choices=MODES, default="int8", help="quantization mode (default int8)")
    add("--calib", default=None, help="calibration images dir, video or dataset (int8, int16x8)")
    add("--calib-samples", type=int, default=200, help="calibration frames (default 200)")
    add("--seed", type=int, default=0, help="calibration sampling seed")
    add("--io", choices=list(IO_TYPES), default=DEFAULT_IO,
        help=f"int8 mode input type (default {DEFAULT_IO}: no requantize op, faster)")  # fmt: skip
    add("--per-tensor", action="store_true", help="per-tensor weight scales (old accelerators)")
    add("--labels", default=None,
        help="label file, or a shipped list: coco, coco-tf1, voc, shapes "
        "(our .keras detectors carry their own)")  # fmt: skip
    add("--input-range", type=input_range, default=(-1.0, 1.0),
        help="foreign SavedModels: the pixel range they expect, -1,1 or 0,1")  # fmt: skip
    add("--weights", choices=("none", "imagenet"), default="none",
        help="keras:mobilenet_v2 weights (imagenet downloads)")  # fmt: skip
    add("--eval-data", default=None, help="dataset for the FP32-vs-converted mAP check")
    add(
        "--max-map-drop",
        type=float,
        default=None,
        help="fail if mAP@0.5 drops by more points than this (default 1 against FP32; with "
        "--prune/--cluster 2, with --qat 1, against post-training INT8)",
    )
    add("--skip-accuracy-gate", action="store_true",
        help="never refuse for lost mAP; fine-tune on all of --finetune-data")  # fmt: skip
    add("--allow-float-ops", action="store_true", help="build int8 even with float fallbacks")
    add(
        "--float-layers",
        default="",
        help="keep layers in float: auto (the worst ones, if agreement is low) or NAME,NAME",
    )
    add(
        "--min-agreement",
        type=float,
        default=0.9,
        help="with --float-layers auto: share of FP32 detections int8 must keep (default 0.9)",
    )
    add("--skip-tflite-runtime-check", action="store_true",
        help="do not check loading in tflite-runtime 2.14")  # fmt: skip
    add("--target-runtime", choices=TARGET_RUNTIMES, default=DEFAULT_TARGET,
        help="the runtime the Pis run (default litert, what install-pi.sh installs): "
        "tflite-runtime makes its 2.14 refusing the model fatal instead of a warning")  # fmt: skip
    # fmt: off
    group = parser.add_argument_group(
        "pruning, weight clustering and quantization-aware training", HELP)
    option = group.add_argument
    option("--prune", type=float, default=None, metavar="SHARE",
           help="zero this share of weights, or with channel remove this share of channels")
    option("--prune-structure", choices=STRUCTURES, default="unstructured",
           help="unstructured: smaller gzip; 2:4: two of every four; channel: also faster")
    option("--cluster", type=int, default=None, metavar="N",
           help="share N values per convolution kernel, zeros kept: smaller gzip (default "
           f"{DEFAULT_CLUSTERS} with unstructured --prune, else none; 0: none)")
    option("--qat", action="store_true", help="quantization-aware fine-tuning")
    option("--finetune-data", default=None, help="dataset to fine-tune on")
    option("--finetune-epochs", type=int, default=None,
           help="epochs of each fine-tuning step (default: per technique, above)")
    option("--finetune-lr", type=float, default=None,
           help="peak fine-tuning learning rate (default: per technique, above)")
    # fmt: on


def options_from(args: argparse.Namespace) -> ConvertOptions:
    labels = load_labels(label_file(args.labels)).names if args.labels else ()
    return ConvertOptions(
        model=args.model, out=args.out, mode=args.mode, io_dtype=args.io,
        per_tensor=args.per_tensor, calibration=args.calib, calibration_samples=args.calib_samples,
        seed=args.seed, labels=labels, input_range=args.input_range, weights=args.weights,
        allow_float_ops=args.allow_float_ops,
        float_layers=tuple(n.strip() for n in args.float_layers.split(",") if n.strip()),
        min_agreement=args.min_agreement,
        eval_data=args.eval_data,
        max_map_drop=args.max_map_drop,
        gate=not args.skip_accuracy_gate,
        check_legacy_runtime=not args.skip_tflite_runtime_check,
        target_runtime=args.target_runtime,
        command=args.command_line,
        optimize=plan_from(args),
    )  # fmt: skip


def plan_from(args: argparse.Namespace) -> OptimizePlan:
    """The optimization asked for, each default filled in for its technique (defaults.py)."""
    clusters = args.cluster
    if clusters is None:
        clusters = default_clusters(args.prune, args.prune_structure, args.qat, args.per_tensor)
    clusters = clusters or None  # --cluster 0: none
    recipe = recipe_for(args.prune, args.prune_structure, clusters, args.qat)
    return OptimizePlan(
        prune=args.prune, structure=args.prune_structure, clusters=clusters, qat=args.qat,
        finetune_data=args.finetune_data,
        finetune=FinetuneOptions(
            epochs=recipe.epochs if args.finetune_epochs is None else args.finetune_epochs,
            learning_rate=recipe.learning_rate if args.finetune_lr is None else args.finetune_lr,
            seed=args.seed,
        ),
    )  # fmt: skip


def main(args: argparse.Namespace) -> int:
    result = convert_model(options_from(args))
    metrics = result.metadata["metrics"]
    print(
        f"wrote {result.bundle} ({result.metadata['converter']['mode']}): "
        f"{result.model_bytes:,} bytes = {metrics['size_ratio']:.3f}x fp32, "
        f"p50 {metrics['latency_ms']['p50']:.2f} ms, {result.seconds:.1f} s"
    )
    return 0
