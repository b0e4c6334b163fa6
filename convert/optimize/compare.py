"""After an optimized conversion: every variant side by side, and the gate on the shipped one.

    comparison = compare_variants(optimized, model, quantize, evaluate, workdir, steps)
    comparison["gate"] = gate_optimized(optimized, comparison, limit=2.0, data="...")

The rows: the unoptimized model (post-training, the run's own mode and calibration),
pruning alone when something followed it, the shipped model, and FP32; measured by
report/variants.py (size, sparsity, MACs, interleaved latency, mAP when there is data).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
from pisight.convert.optimize.gate import check_gate
from pisight.convert.optimize.plan import Optimized
from pisight.convert.report.variants import measure_variants, plot_variants, variants_table

log = logging.getLogger("pisight.convert")


def compare_variants(
    optimized: Optimized, final: bytes, quantize, evaluate, workdir: Path, steps, threads: int = 2
) -> dict[str, Any]:
    """Rows for the report: the unoptimised model, each optimisation, the shipped model.

    quantize(saved_model) converts with the run's own mode and calibration;
    evaluate(model_bytes) gives mAP@0.5 or None.
    """
    label = optimized.plan.describe()
    models = {"post-training (no pruning)": quantize(optimized.original.saved_model)}
    qat = optimized.source.quantize_from is not None
    clustered = optimized.clustering is not None
    if optimized.pruning is not None and (qat or clustered):
        # What pruning alone bought, before the steps that followed it.
        pruned_float = optimized.pruned_only or optimized.source.saved_model
        models[f"{optimized.plan.pruning_label()}, post-training"] = quantize(pruned_float)
    models[f"{label}{'' if qat else ', post-training'} (shipped)"] = final
    models["fp32 (no pruning)"] = convert_saved_model(
        optimized.original.saved_model, QuantizeOptions("fp32")
    )
    rows = steps.run(
        "compare variants",
        lambda: measure_variants(models, workdir, threads, lambda _, model: evaluate(model)),
        lambda found: ", ".join(
            f"{r.name} {r.latency_ms:.2f} ms"
            + ("" if r.map50 is None else f" mAP@0.5 {r.map50:.4f}") for r in found
        ),
    )  # fmt: skip
    comparison: dict[str, Any] = {"threads": threads, "variants": [r.to_json() for r in rows]}
    if qat and rows[-2].map50 is not None and rows[-3].map50 is not None:
        # The shipped QAT model against post-training INT8 of the same float model.
        comparison["qat_gain_points"] = round((rows[-2].map50 - rows[-3].map50) * 100, 3)
    comparison["table"] = variants_table(rows, threads)
    comparison["plot"] = plot_variants(rows)
    return comparison


def gate_optimized(
    optimized: Optimized, comparison: dict[str, Any], limit: float | None, data: str, steps
) -> dict[str, Any] | None:
    """Refuse a shipped model that lost more than `limit` points against post-training.

    None when the variants carry no mAP (no --eval-data and --skip-accuracy-gate).
    """
    variants = comparison["variants"]
    if variants[0]["map50"] is None:
        return None
    plan = optimized.plan
    return steps.run(
        "accuracy gate",
        lambda: check_gate(
            variants, plan.describe(), limit, data, plan.advice(optimized.finetune_images),
            comparison.get("shipped_fp32_map50"), plan.qat,
        ),
        lambda gate: f"shipped {gate['shipped_map50']:.4f} vs post-training "
        f"{gate['baseline_map50']:.4f} on {data}: {-gate['drop_points']:+.2f} points"
        + ("" if limit is None else f", at most {limit:g} lost allowed"),
    )  # fmt: skip
