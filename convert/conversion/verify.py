"""Prove a converted model before anyone copies it to a Pi.

Checks, in order: the flatbuffer's op list and minimum runtime version (read without
an interpreter); integer-only compute for int8 (float fallbacks fail the build unless
allowed); load and invoke in ai-edge-litert through the device's own Detector, and its
latency against FP32's, the two taking turns (interleaved_latency); load and invoke in
tflite-runtime 2.14 in its isolated environment (a refusal is recorded and warned about,
fatal only with --target-runtime tflite-runtime: compatibility.py); and agreement of the
quantized model with its float original on held-out frames.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pisight.convert.conversion.agreement import measure_agreement
from pisight.convert.conversion.compatibility import judge_tflite_runtime
from pisight.convert.conversion.legacy_runtime import check_with_tflite_runtime
from pisight.convert.conversion.model_input import ModelInput
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.conversion.steps import ConversionError, StepLog
from pisight.convert.data.calibration import CalibrationFrames, load_calibration_frames
from pisight.convert.report.variants import interleaved_latency
from pisight.device.model.bench import benchmark
from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.runtime import default_threads
from pisight.device.model.tflite_file import read_model_file

log = logging.getLogger("pisight.verify")
INTEGER_MODES = ("int8",)
LATENCY_ROUNDS, LATENCY_RUNS = 30, 5
"""FP32 against the converted model: many short turns, so load from elsewhere hits both."""


@dataclass(frozen=True)
class Verification:
    ops: list[dict[str, Any]]
    min_runtime_version: str | None
    float_ops: list[str]
    input: dict[str, Any]
    outputs: dict[str, str]
    litert: dict[str, Any]
    tflite_runtime: dict[str, Any]
    agreement: dict[str, Any] | None
    reference_latency_ms: dict[str, float] | None


def verify_conversion(
    options: ConvertOptions,
    source: ModelInput,
    model: bytes,
    reference: bytes,
    frames: CalibrationFrames | None,
    workdir: Path,
    steps: StepLog,
) -> Verification:
    info = steps.run("op check", lambda: read_model_file(model), _describe_ops)
    float_ops = info.float_ops() if options.mode in INTEGER_MODES else []
    chosen_float = bool(options.float_layers) and options.float_layers != ("auto",)
    if float_ops and not (options.allow_float_ops or chosen_float):
        raise ConversionError(
            f"the {options.mode} model still computes in float: {', '.join(float_ops)}; "
            "check the calibration data or pass --allow-float-ops"
        )
    candidate = source.model_dir(workdir / "candidate", model)
    litert = steps.run("ai-edge-litert", lambda: _litert_check(candidate), _describe_litert)
    legacy = steps.run(
        "tflite-runtime 2.14", lambda: _legacy_check(options, model), lambda r: r["detail"]
    )
    legacy = judge_tflite_runtime(legacy, options.target_runtime)  # warns, or raises
    agreement = reference_latency = None
    baseline = source.model_dir(workdir / "reference", reference)
    if options.mode != "fp32":
        # Timed one after the other, a busy machine once made INT8 look 1.3x slower than
        # FP32 (17.1 vs 22.5 ms); taking turns, a burst of load slows both alike.
        timings = steps.run(
            "latency fp32 vs " + options.mode,
            lambda: interleaved_latency(
                {"fp32": reference, options.mode: model}, workdir, litert["threads"],
                LATENCY_ROUNDS, LATENCY_RUNS,
            ),
            lambda found: f"p50 {np.percentile(found['fp32'], 50):.2f} ms vs "
            f"{np.percentile(found[options.mode], 50):.2f} ms, interleaved",
        )  # fmt: skip
        reference_latency = _percentiles(timings["fp32"])
        litert["latency_ms"] = _percentiles(timings[options.mode])
        litert["latency_method"] = (
            f"interleaved: {LATENCY_ROUNDS} rounds of {LATENCY_RUNS} invokes of each model"
        )
    if options.mode != "fp32" and frames is not None:
        agreement = steps.run(
            "agreement with fp32", lambda: _agreement(options, source, baseline, candidate, frames),
            lambda a: f"{a['matched_fraction']:.1%} of fp32 detections kept, "
            f"mean IoU {a['mean_iou'] if a['mean_iou'] is not None else 'n/a'}",
        )  # fmt: skip
    detector = litert.pop("detector")
    return Verification(
        ops=[{"name": op.name, "version": op.version, "count": op.count} for op in info.ops],
        min_runtime_version=info.min_runtime_version,
        float_ops=float_ops,
        input=_input_metadata(detector, source),
        outputs=_output_names(detector),
        litert=litert,
        tflite_runtime=legacy,
        agreement=agreement,
        reference_latency_ms=reference_latency,
    )


def _percentiles(milliseconds: np.ndarray) -> dict[str, float]:
    return {f"p{q}": round(float(np.percentile(milliseconds, q)), 3) for q in (50, 90, 99)}


def _describe_ops(info) -> str:
    listed = ", ".join(f"{op.name} v{op.version}" for op in info.ops)
    return f"{len(info.ops)} ops ({listed}); min runtime {info.min_runtime_version}"


def _litert_check(bundle: Path) -> dict[str, Any]:
    detector = Detector.load(DetectorOptions(bundle, runtime="litert", score_threshold=0.0))
    spec = detector.spec.input
    detector.infer(np.zeros((1, spec.height, spec.width, 3), spec.dtype))
    result = benchmark(bundle, "litert", default_threads(), runs=30, warmup=5).to_json()
    return {"status": "ok", "task": detector.task, "latency_ms": result["latency_ms"],
            "threads": result["threads"], "detector": detector}  # fmt: skip


def _describe_litert(result: dict[str, Any]) -> str:
    return f"loaded and invoked, p50 {result['latency_ms']['p50']:.2f} ms"


def _legacy_check(options: ConvertOptions, model: bytes) -> dict[str, Any]:
    if not options.check_legacy_runtime:
        return {"status": "skipped", "detail": "skipped: --skip-tflite-runtime-check"}
    check = check_with_tflite_runtime(model)
    if check.status == "skipped":
        log.warning("tflite-runtime 2.14 check skipped: %s", check.detail)
    return {"status": check.status, "detail": check.detail, "invoke_ms": check.invoke_ms}


def _agreement(
    options: ConvertOptions,
    source: ModelInput,
    baseline: Path,
    candidate: Path,
    frames: CalibrationFrames,
) -> dict[str, Any]:
    held_out = load_calibration_frames(
        options.calibration, source.width, source.height, options.agreement_frames,
        options.seed + 1, source.mean, source.std, warn=False,
    )  # fmt: skip
    # The frames are already model-sized RGB; the detectors take BGR frames of any size.
    images = [np.ascontiguousarray(pixels[:, :, ::-1]) for pixels in held_out.pixels]
    reference = Detector.load(DetectorOptions(baseline, runtime="litert", score_threshold=0.0))
    quantized = Detector.load(DetectorOptions(candidate, runtime="litert", score_threshold=0.0))
    return measure_agreement(reference, quantized, images).to_json()


def _input_metadata(detector: Detector, source: ModelInput) -> dict[str, Any]:
    spec = detector.spec.input
    return {
        "height": spec.height, "width": spec.width, "dtype": spec.dtype,
        "scale": spec.scale, "zero_point": spec.zero_point, "mean": source.mean,
        "std": source.std, "color": "rgb", "resize": "stretch",
    }  # fmt: skip


def _output_names(detector: Detector) -> dict[str, str]:
    names = {int(d["index"]): d["name"] for d in detector.interpreter.get_output_details()}
    return {role: names[index] for role, index in detector.spec.outputs.roles.items()}
