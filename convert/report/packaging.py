"""pisight.json and report.md for a verified conversion, then the atomic bundle write.

The metadata is what the runtime and people read later: how to preprocess, which
output tensor is which, what the converter did and what it cost (docs/ARCHITECTURE.md,
"The bundle", lists every key).
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pisight.convert.conversion.compatibility import runtimes_record
from pisight.convert.conversion.state import Conversion
from pisight.convert.report.bundle_writer import write_bundle
from pisight.convert.report.optimization import (
    VARIANTS_PLOT,
    optimization_metadata,
    render_optimization,
)
from pisight.convert.tf import tf
from pisight.device.model.cpu import CpuInfo, measured_on, this_cpu


def pisight_version() -> str:
    try:
        return version("pisight")
    except PackageNotFoundError:
        return "unknown"


def build_metadata(conversion: Conversion) -> dict[str, Any]:
    options, source, verification = conversion.options, conversion.source, conversion.verification
    model, reference, frames = conversion.model, conversion.reference, conversion.frames
    metrics: dict[str, Any] = {
        "bytes": len(model),
        "bytes_gzip": len(gzip.compress(model, 9)),
        "fp32_bytes": len(reference),
        "size_ratio": round(len(model) / len(reference), 4),
        "latency_ms": verification.litert["latency_ms"],
        "latency_threads": verification.litert["threads"],
        "latency_cpu": this_cpu().to_json(),
        "fp32_latency_ms": verification.reference_latency_ms,
        "latency_method": verification.litert.get("latency_method", "one model at a time"),
        "agreement": verification.agreement,
    }
    return {
        "name": options.out.name,
        "task": source.task,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "source_model": source.description,
        "input": verification.input,
        "outputs": verification.outputs,
        "label_offset": 0,
        "converter": {
            "pisight": pisight_version(),
            "tensorflow": tf.__version__,
            "mode": options.mode,
            "io": options.io_dtype if options.mode == "int8" else "float32",
            "per_channel": not options.per_tensor,
        },
        "ops": verification.ops,
        "min_runtime_version": verification.min_runtime_version,
        "float_ops": verification.float_ops,
        "runtimes": runtimes_record(verification.litert, verification.tflite_runtime),
        "calibration": None
        if frames is None
        else {
            "count": len(frames),
            "source": frames.source,
            "seed": options.seed,
        },
        "pruning": None,
        "clustering": None,
        "metrics": metrics,
        "provenance": {
            "convert_command": options.command,
            "training": source.ssd_config.training if source.ssd_config is not None else {},
        },
    }


def render_report(metadata: dict, steps: list[dict]) -> str:
    metrics, converter = metadata["metrics"], metadata["converter"]
    latency, fp32_latency = metrics["latency_ms"], metrics["fp32_latency_ms"]
    lines = [
        f"# {metadata['name']}: {converter['mode']} conversion report",
        "",
        f"Source: {metadata['source_model']}. Converted {metadata['created']} with pisight "
        f"{converter['pisight']}, TensorFlow {converter['tensorflow']}.",
        "",
        "| | FP32 | this model |",
        "|---|---|---|",
        f"| size (bytes) | {metrics['fp32_bytes']:,} | {metrics['bytes']:,} "
        f"({metrics['size_ratio']:.3f}x) |",
    ]
    if fp32_latency:
        lines.append(
            f"| LiteRT latency p50 ({metrics['latency_threads']} threads) | "
            f"{fp32_latency['p50']:.2f} ms | {latency['p50']:.2f} ms |"
        )
    accuracy = metadata.get("accuracy")
    if accuracy:
        fp32, converted = accuracy["fp32"], accuracy["converted"]
        change = -accuracy["map50_drop_points"]
        lines.append(
            f"| mAP@0.5 ({accuracy['images']} images) | {fp32['map50']:.4f} | "
            f"{converted['map50']:.4f} ({change:+.2f} pts) |"
        )
        lines.append(f"| mAP@[.5:.95] | {fp32['map50_95']:.4f} | {converted['map50_95']:.4f} |")
    if fp32_latency:
        cpu = CpuInfo.from_json(metrics["latency_cpu"])
        ratio = latency["p50"] / fp32_latency["p50"]
        lines += ["", f"LiteRT {measured_on(cpu)}; latency {ratio:.2f}x FP32's, "
                  f"{metrics['latency_method']}."]  # fmt: skip
    lines += _agreement_lines(metrics.get("agreement"))
    lines += _provenance_lines(metadata.get("provenance"))
    lines += ["", "## Checks", ""]
    ops = ", ".join(f"{op['name']} v{op['version']}" for op in metadata["ops"])
    lines.append(f"- ops: {ops}")
    lines.append(f"- minimum runtime version: {metadata['min_runtime_version']}")
    lines.append(f"- float ops: {', '.join(metadata['float_ops']) or 'none'}")
    lines.append(f"- tflite-runtime 2.14: {metadata['runtimes']['tflite_runtime_2_14']['detail']}")
    if metadata["calibration"]:
        lines.append(f"- calibration: {metadata['calibration']['source']}")
    lines += _selective_lines(metadata.get("selective_quantization"))
    lines += ["", "## Steps", "", "| step | seconds | result |", "|---|---|---|"]
    lines += [f"| {s['step']} | {s['seconds']} | {s['result']} |" for s in steps]
    return "\n".join(lines) + "\n"


def _agreement_lines(agreement: dict | None) -> list[str]:
    if not agreement:
        return []
    iou = agreement["mean_iou"]
    delta = agreement["mean_score_delta"]
    return [
        "",
        f"Agreement with FP32 on {agreement['frames']} held-out frames: "
        f"{agreement['matched_fraction']:.1%} of {agreement['reference_detections']} FP32 "
        f"detections kept, mean IoU {iou if iou is None else f'{iou:.3f}'}, mean score delta "
        f"{delta if delta is None else f'{delta:.3f}'}, {agreement['extra_detections']} extra.",
    ]


def _provenance_lines(provenance: dict | None) -> list[str]:
    """How to make this bundle again: the training run behind the model, the conversion."""
    if not provenance or not (provenance["training"] or provenance["convert_command"]):
        return []
    lines = ["", "## How this model was made", ""]
    training = provenance["training"]
    if training:
        best = training["best_val_map50"]
        lines += [
            f"- trained: `{training['command'] or 'pisight train (API)'}`",
            f"  - seed {training['seed']}; {training['images']} images from {training['data']}, "
            f"validated on {training['val_images']} from {training['val_data']}",
            f"  - {training['epochs']} epochs in {training['seconds']:,} s on "
            f"{training['cpus']} CPUs (TensorFlow {training['tensorflow']}), finished "
            f"{training['finished']}; best validation mAP@0.5 "
            f"{'-' if best is None else f'{best:.4f}'}",
        ]
        teacher = training.get("teacher")
        if teacher:
            lines.append(
                f"  - distilled from `{teacher['model']}` (alpha {teacher['alpha']}, input "
                f"{teacher['input_size']}): temperature {teacher['temperature']}, class weight "
                f"{teacher['class_weight']}, box weight {teacher['box_weight']}"
            )
    if provenance["convert_command"]:
        lines.append(f"- converted: `{provenance['convert_command']}`")
    return lines


def _selective_lines(selective: dict | None) -> list[str]:
    if not selective:
        return []
    lines = ["", "## Selective quantization", ""]
    lines.append(f"Kept in float: {', '.join(selective['float_layers'])}.")
    before, after = selective["agreement_before"], selective["agreement_after"]
    if before and after:
        lines.append(
            f"FP32 detections kept: {before['matched_fraction']:.1%} all-int8, "
            f"{after['matched_fraction']:.1%} with these layers in float."
        )
    lines += ["", "| layer | op | rmse/scale |", "|---|---|---|"]
    lines += [
        f"| {e['name']} | {e['op']} | {e['rmse_over_scale']:.3f} |"
        for e in selective["layer_errors"]
    ]
    return lines


def package_bundle(conversion: Conversion) -> dict[str, Any]:
    """Write the verified conversion as a bundle (atomically); returns its pisight.json."""
    options, accuracy, optimized = conversion.options, conversion.accuracy, conversion.optimized
    selective, comparison = conversion.selective, conversion.comparison
    metadata = build_metadata(conversion)
    metadata["selective_quantization"] = selective
    metadata["accuracy"] = accuracy
    if accuracy:
        metadata["metrics"]["map50_fp32"] = accuracy["fp32"]["map50"]
        metadata["metrics"]["map50"] = accuracy["converted"]["map50"]
    extra_files = {}
    if optimized is not None:
        metadata["pruning"] = optimized.pruning
        metadata["clustering"] = optimized.clustering
        metadata["optimization"] = optimization_metadata(conversion)
        extra_files[VARIANTS_PLOT] = comparison["plot"]
    report = render_report(metadata, conversion.steps.steps)
    if optimized is not None:
        report += render_optimization(metadata, comparison["table"])
    write_bundle(
        options.out,
        conversion.model,
        conversion.source.bundle_labels,
        metadata,
        report,
        extra_files,
    )
    return metadata
