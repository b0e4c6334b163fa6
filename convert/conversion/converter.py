"""The conversion pipeline: load -> calibrate -> quantize -> verify -> bundle.

    result = convert_model(ConvertOptions(model="demo.keras", out=Path("bundle"), mode="int8",
                                          calibration="frames/"))

Each step logs what it did, how long it took and what it changed. Everything happens
in a temporary directory; the bundle appears (atomically) only when every check passed.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from pisight.convert.conversion.model_input import ModelInput, load_model_input
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
from pisight.convert.conversion.state import Conversion
from pisight.convert.conversion.steps import ConversionError, StepLog
from pisight.convert.conversion.verify import Verification, verify_conversion
from pisight.convert.data.calibration import (
    CalibrationFrames,
    check_calibration_source,
    load_calibration_frames,
)
from pisight.convert.data.datasets import load_dataset
from pisight.convert.optimize.compare import compare_variants, gate_optimized
from pisight.convert.optimize.defaults import PLAIN_MAX_DROP, default_max_drop
from pisight.convert.optimize.gate import check_holdout_size
from pisight.convert.optimize.plan import Optimized, check_plan, optimize
from pisight.convert.optimize.selective import (
    convert_with_float_layers,
    layer_errors,
    worst_layers,
)
from pisight.convert.report.evaluate import evaluate_model
from pisight.convert.report.packaging import package_bundle
from pisight.convert.report.variants import sparsity

log = logging.getLogger("pisight.convert")

# Modes whose activation ranges come from calibration frames.
CALIBRATED_MODES = ("int8", "int16x8")


@dataclass(frozen=True)
class ConversionResult:
    bundle: Path
    model_bytes: int
    fp32_bytes: int
    metadata: dict[str, Any]
    seconds: float


def convert_model(options: ConvertOptions) -> ConversionResult:
    started = time.perf_counter()
    steps = StepLog()
    # Refuse what cannot work before the model is loaded (seconds of tracing).
    if options.calibration is not None:
        check_calibration_source(options.calibration)
    elif options.mode in CALIBRATED_MODES:
        raise ConversionError(
            f"mode {options.mode} needs calibration frames: add --calib IMAGES_VIDEO_OR_DATASET"
        )
    check_plan(options.optimize, options.mode, options.float_layers, options.per_tensor)
    if _holds_out(options):
        data = options.optimize.finetune_data
        check_holdout_size(len(load_dataset(data).samples), str(data))
    elif options.optimize.wanted and not options.gate:
        log.warning("--skip-accuracy-gate: nothing checks what fine-tuning cost in mAP")
    with tempfile.TemporaryDirectory(prefix="pisight-convert-") as scratch:
        workdir = Path(scratch)
        source = steps.run(
            "load", lambda: load_model_input(
                options.model, workdir, options.input_range, options.weights, options.labels
            ),
            lambda s: s.description,
        )  # fmt: skip
        optimized = None
        if options.optimize.wanted:
            optimized = optimize(source, options.optimize, workdir, steps, _holds_out(options))
            source = optimized.source
        frames = _calibration(options, source, steps)
        model = steps.run(
            f"quantize ({options.mode})", lambda: _quantize(options, source, frames),
            lambda data: f"{len(data):,} bytes",
        )  # fmt: skip
        reference = model if options.mode == "fp32" else steps.run(
            "fp32 reference",
            lambda: convert_saved_model(source.saved_model, QuantizeOptions("fp32")),
            lambda data: f"{len(data):,} bytes",
        )  # fmt: skip
        verification = verify_conversion(options, source, model, reference, frames, workdir, steps)
        selective = None
        if _wants_selective(options, verification):
            chosen = _selective(options, source, frames, reference, verification, workdir, steps)
            if chosen is not None:
                model, verification, selective = chosen
        # An optimized model is gated against post-training INT8 of the original (below);
        # its own FP32-vs-INT8 figures are reported.
        plain_limit = None if optimized is not None else _limit(options)
        accuracy = _accuracy_gate(options, workdir, model, source, steps, plain_limit)
        comparison = None
        if optimized is not None:
            comparison = _compare(options, optimized, model, reference, frames, workdir, steps)
            data = (
                f"{options.eval_data} ({accuracy['images']} images)" if accuracy
                else f"{_held_out_images(optimized)} images held out of --finetune-data"
            )  # fmt: skip
            comparison["gate"] = gate_optimized(optimized, comparison, _limit(options), data, steps)
        conversion = Conversion(
            options, source, model, reference, frames, verification, steps, selective,
            accuracy, optimized, comparison,
        )  # fmt: skip
        metadata = package_bundle(conversion)
    return ConversionResult(
        options.out, len(model), len(reference), metadata, time.perf_counter() - started
    )


def _calibration(
    options: ConvertOptions, source: ModelInput, steps: StepLog
) -> CalibrationFrames | None:
    if options.calibration is None:
        return None
    return steps.run(
        "calibration frames",
        lambda: load_calibration_frames(
            options.calibration, source.width, source.height, options.calibration_samples,
            options.seed, source.mean, source.std,
        ),
        lambda frames: frames.source,
    )  # fmt: skip


def _quantize(
    options: ConvertOptions, source: ModelInput, frames: CalibrationFrames | None
) -> bytes:
    named = [name for name in options.float_layers if name != "auto"]
    if named:
        if options.mode != "int8" or frames is None:
            raise ConversionError("--float-layers needs --mode int8 and --calib")
        return convert_with_float_layers(
            source.saved_model, frames.batches, named, options.io_dtype
        )
    return _quantize_saved_model(options, source.quantize_from or source.saved_model, frames)


def _quantize_saved_model(
    options: ConvertOptions, saved_model: Path, frames: CalibrationFrames | None
) -> bytes:
    quantize = QuantizeOptions(options.mode, options.io_dtype, options.per_tensor)
    return convert_saved_model(saved_model, quantize, frames.batches if frames else None)


def _compare(
    options: ConvertOptions,
    optimized: Optimized,
    model: bytes,
    reference: bytes,
    frames: CalibrationFrames | None,
    workdir: Path,
    steps: StepLog,
) -> dict[str, Any]:
    """Check that INT8 kept the pruned zeros, then measure every variant side by side."""
    pruning = optimized.pruning
    if pruning is not None and "sparsity" in pruning:
        kept = sparsity(model)
        if kept + 0.005 < pruning["sparsity"]:
            raise ConversionError(
                f"quantization filled pruned zeros: {pruning['sparsity']:.1%} of the float "
                f"weights are zero, {kept:.1%} of the {options.mode} weights"
            )
        pruning["converted_sparsity"] = round(kept, 4)
    evaluate = None
    dataset = None
    if options.eval_data is not None:
        dataset = load_dataset(options.eval_data)
    elif optimized.held_out is not None:
        dataset = optimized.held_out.held_out
    if dataset is not None:
        directories = (workdir / f"variant_{n}" for n in itertools.count())

        def evaluate(data: bytes) -> float:
            bundle = optimized.source.model_dir(next(directories), data)
            return evaluate_model(bundle, dataset).map50

    comparison = compare_variants(
        optimized, model, lambda saved: _quantize_saved_model(options, saved, frames),
        evaluate or (lambda _: None), workdir, steps,
    )  # fmt: skip
    if evaluate is not None:
        # The optimized model in FP32: how much of any loss its own INT8 conversion caused.
        comparison["shipped_fp32_map50"] = steps.run(
            "mAP fp32 (optimized)", lambda: evaluate(reference), lambda m: f"mAP@0.5 {m:.4f}"
        )
    return comparison


def _holds_out(options: ConvertOptions) -> bool:
    """Gate an optimized model on part of its fine-tuning data when nothing else is given."""
    return options.optimize.wanted and options.gate and options.eval_data is None


def _held_out_images(optimized: Optimized) -> int:
    return len(optimized.held_out.held_out.samples) if optimized.held_out else 0


def _limit(options: ConvertOptions) -> float | None:
    """The points of mAP@0.5 this conversion may lose; None: report only."""
    if not options.gate:
        return None
    if options.max_map_drop is not None:
        return options.max_map_drop
    if not options.optimize.wanted:
        return PLAIN_MAX_DROP
    plan = options.optimize
    return default_max_drop(plan.prune, plan.clusters, plan.qat)


def _accuracy_gate(
    options: ConvertOptions, workdir: Path, model: bytes, source: ModelInput, steps: StepLog,
    limit: float | None,
) -> dict[str, Any] | None:  # fmt: skip
    """FP32 and converted mAP on the same data through the same Detector; fail on a big drop."""
    if options.eval_data is None:
        return None
    dataset = load_dataset(options.eval_data)
    converted = source.model_dir(workdir / "evaluated", model)

    def describe(result: Any) -> str:
        return f"mAP@0.5 {result.map50:.4f}, mAP@[.5:.95] {result.map50_95:.4f}"

    fp32 = steps.run("mAP fp32", lambda: evaluate_model(workdir / "reference", dataset), describe)
    quantized = steps.run(
        f"mAP {options.mode}", lambda: evaluate_model(converted, dataset), describe
    )
    drop = (fp32.map50 - quantized.map50) * 100.0
    accuracy = {"dataset": str(options.eval_data), "images": fp32.images, "fp32": fp32.to_json(),
                "converted": quantized.to_json(), "map50_drop_points": round(drop, 3)}  # fmt: skip
    if limit is not None and drop > limit:
        raise ConversionError(
            f"{options.mode} costs {drop:.2f} points of mAP@0.5 (fp32 {fp32.map50:.4f}, "
            f"{options.mode} {quantized.map50:.4f}), more than --max-map-drop "
            f"{limit:g}; try more --calib-samples or --float-layers auto"
        )
    return accuracy


def _wants_selective(options: ConvertOptions, verification: Verification) -> bool:
    if options.float_layers != ("auto",) or verification.agreement is None:
        return False
    kept = verification.agreement["matched_fraction"]
    if kept >= options.min_agreement:
        log.info("agreement %.1f%% >= %.0f%%: every layer stays int8", kept * 100,
                 options.min_agreement * 100)  # fmt: skip
        return False
    return True


def _selective(
    options: ConvertOptions,
    source: ModelInput,
    frames: CalibrationFrames,
    reference: bytes,
    before: Verification,
    workdir: Path,
    steps: StepLog,
) -> tuple[bytes, Verification, dict[str, Any]] | None:
    """Keep the layers with the worst quantization error in float, then verify again."""
    errors = steps.run(
        "quantization debugger", lambda: layer_errors(source.saved_model, frames.batches),
        lambda e: f"worst {e[0].name} rmse/scale {e[0].rmse_over_scale:.2f}" if e else "none",
    )  # fmt: skip
    chosen = worst_layers(errors)
    if not chosen:
        log.info("no layer's error stands out; keeping the full int8 model")
        return None
    model = steps.run(
        f"selective int8 ({len(chosen)} float layers)",
        lambda: convert_with_float_layers(source.saved_model, frames.batches, chosen),
        lambda data: f"{len(data):,} bytes",
    )  # fmt: skip
    relaxed = replace(options, allow_float_ops=True)
    after = verify_conversion(relaxed, source, model, reference, frames, workdir, steps)
    selective = {
        "float_layers": chosen,
        "layer_errors": [asdict(e) for e in errors[:10]],
        "agreement_before": before.agreement,
        "agreement_after": after.agreement,
    }
    return model, after, selective
