"""`pisight eval`: COCO-style mAP of a model on a dataset.

    pisight eval models/demo/bundle --data data/val --json eval.json
    pisight eval demo.keras --data data/val --threads 2     # Keras: exported to fp32 first

Prints mAP@0.5, mAP@[.5:.95], invoke latency p50 and a per-class table; --json writes
the stable object of docs/ARCHITECTURE.md, "Stable output formats".
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from pisight.convert.data.datasets import load_dataset
from pisight.convert.report.evaluate import EvalResult, evaluate_model

log = logging.getLogger("pisight.eval")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL_OR_BUNDLE",
        help="bundle directory, .tflite, or Keras detector (.keras/.h5)",
    )
    parser.add_argument(
        "--data",
        required=True,
        metavar="DATASET",
        help="VOC dir, COCO json or YOLO dir (auto-detected)",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the result as JSON")
    parser.add_argument("--threads", type=int, help="interpreter threads")


def main(args: argparse.Namespace) -> int:
    dataset = load_dataset(args.data)
    if dataset.problems:
        log.warning("%d annotation problems skipped in %s", len(dataset.problems), args.data)
    result = evaluate_model(args.model, dataset, threads=args.threads)
    print(format_table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


def format_table(result: EvalResult) -> str:
    latency = "-" if result.latency_ms_p50 is None else f"{result.latency_ms_p50:.1f} ms"
    lines = [
        f"model          {result.model}",
        f"images         {result.images}",
        f"mAP@0.5        {result.map50:.3f}",
        f"mAP@[.5:.95]   {result.map50_95:.3f}",
        f"invoke p50     {latency}",
        "",
        f"{'class':<20} {'AP50':>6} {'AP50-95':>8}",
    ]
    for label, ap in result.per_class.items():
        lines.append(f"{label:<20} {ap['ap50']:>6.3f} {ap['ap50_95']:>8.3f}")
    return "\n".join(lines)
