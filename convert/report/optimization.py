"""The report's section on pruning, clustering and QAT, and its record in pisight.json.

    metadata["optimization"] = optimization_metadata(conversion)
    report += render_optimization(metadata, comparison["table"])

What each variant costs and buys, what fine-tuning ran on (and what it held out), which
epoch each step kept, and the accuracy gate's verdict, or the warning that none ran.
"""

from __future__ import annotations

from typing import Any

from pisight.convert.conversion.state import Conversion

VARIANTS_PLOT = "variants.png"


def optimization_metadata(conversion: Conversion) -> dict[str, Any]:
    """pisight.json's "optimization": the plan, the fine-tuning, the variants, the gate."""
    plan, optimized = conversion.options.optimize, conversion.optimized
    comparison = conversion.comparison
    held = optimized.held_out
    return {
        "plan": plan.describe(),
        "qat": plan.qat,
        "finetune": {"data": str(plan.finetune_data), "epochs": plan.finetune.epochs,
                     "learning_rate": plan.finetune.learning_rate, "seed": plan.finetune.seed,
                     "images": optimized.finetune_images,
                     "held_out": None if held is None else held.to_json(),
                     "kept_epochs": optimized.kept_epochs},
        "latency_threads": comparison["threads"],
        "variants": comparison["variants"],
        "qat_gain_points": comparison.get("qat_gain_points"),
        "gate": comparison.get("gate"),
        "gate_skipped": not conversion.options.gate,
    }  # fmt: skip


def render_optimization(metadata: dict, table: list[str]) -> str:
    """The report's section on pruning and QAT: what each variant costs and buys."""
    optimization, pruning = metadata["optimization"], metadata["pruning"]
    clustering = metadata.get("clustering")
    finetune = optimization["finetune"]
    lines = [
        "",
        "## Pruning and quantization-aware training",
        "",
        f"Plan: {optimization['plan']}; fine-tuned {finetune['epochs']} epochs on "
        f"{finetune['data']} (peak learning rate {finetune['learning_rate']:g}, seed "
        f"{finetune['seed']}). Ratios are against the first row; latencies were measured "
        "back to back, the variants taking turns.",
        "",
        *table,
        "",
        f"![accuracy against latency and size]({VARIANTS_PLOT})",
    ]
    lines += _gate_lines(optimization)
    gain = optimization.get("qat_gain_points")
    if gain is not None:
        lines += ["", f"QAT against post-training INT8 of the same float model: {gain:+.2f} "
                  "points of mAP@0.5 (fine-tuning epochs included)."]  # fmt: skip
    if pruning and pruning["structure"] == "channel":
        lines += [
            "",
            f"Channels: {pruning['removed_channels']} of {pruning['prunable_channels']} "
            "prunable channels removed; the model is dense and smaller, so it runs faster.",
        ]
    if clustering:
        lines += [
            "",
            f"Clustering: {clustering['clustered_layers']} of {len(clustering['layers'])} "
            f"Conv2D kernels hold at most {clustering['clusters']} distinct non-zero values "
            "(the rest are too small to cluster), zeros kept; like sparsity, it shrinks the "
            "gzipped file and makes no kernel faster.",
        ]
    if pruning and pruning["structure"] != "channel":
        lines += [
            "",
            f"Sparsity: {pruning['sparsity']:.1%} of float convolution weights zero, "
            f"{pruning.get('converted_sparsity', 0):.1%} of the converted weights (zeros "
            "shrink the gzipped file; dense kernels run no faster).",
            "",
            "| layer | zero weights |",
            "|---|---|",
            *(f"| {name} | {value:.1%} |" for name, value in pruning["layers"].items()),
        ]
    return "\n".join(lines) + "\n"


def _gate_lines(optimization: dict[str, Any]) -> list[str]:
    """What was held out, which epochs were kept, and what the gate measured."""
    finetune, gate = optimization["finetune"], optimization.get("gate")
    lines = ["", "### Accuracy gate", ""]
    if optimization.get("gate_skipped"):
        lines.append(
            "**Warning: no accuracy gate ran (--skip-accuracy-gate).** Fine-tuning used all "
            f"{finetune['images']} images and nothing checked what it cost in mAP@0.5: "
            "evaluate this bundle (`pisight eval BUNDLE --data DATASET`) before shipping it."
        )
    held = finetune.get("held_out")
    if held:
        lines.append(
            f"Held out for the gate: {held['held_out_images']} of "
            f"{held['held_out_images'] + held['finetune_images']} images of {held['data']} "
            f"({held['share']:.0%}, seeded shuffle, seed {held['seed']}); fine-tuning saw the "
            f"other {held['finetune_images']}."
        )
    for step, kept in (finetune.get("kept_epochs") or {}).items():
        if kept.get("best_epoch") is not None:
            lines.append(
                f"- {step}: kept epoch {kept['best_epoch']} of {finetune['epochs']}, held-out "
                f"mAP@0.5 {kept['map50']:.4f} (epochs scored: "
                + ", ".join(f"{e} {v:.3f}" for e, v in kept["scores"].items())
                + ")"
            )
    if gate:
        limit = gate["max_drop_points"]
        verdict = "reported only" if limit is None else f"at most {limit:g} allowed: passed"
        lines += ["", f"Shipped {gate['shipped_map50']:.4f} against {gate['baseline']} "
                  f"{gate['baseline_map50']:.4f} mAP@0.5 on {gate['data']}: "
                  f"{-gate['drop_points']:+.2f} points ({verdict})."]  # fmt: skip
        for name, loss in gate.get("steps_drop_points", {}).items():
            lines.append(f"{name} alone: {-loss:+.2f} points.")
        if gate.get("shipped_fp32_map50") is not None:
            lines.append(
                f"The optimized model in FP32: {gate['shipped_fp32_map50']:.4f}; its own INT8 "
                f"conversion: {-gate['conversion_drop_points']:+.2f} points."
            )
    return lines if len(lines) > 3 else []
