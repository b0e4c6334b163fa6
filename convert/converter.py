"""The conversion pipeline: load -> calibrate -> quantize -> verify -> bundle.

    result = convert_model(ConvertOptions(model="demo.keras", out=Path("bundle"), mode="int8",
                                          calibration="frames/"))

Each step logs what it did, how long it took and what it changed. Everything happens
in a temporary directory; the bundle appears (atomically) only when every check passed.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pisight.convert.calibration import CalibrationFrames, load_calibration_frames
from pisight.convert.model_input import ModelInput, load_model_input
from pisight.convert.quantize import QuantizeOptions, convert_saved_model

log = logging.getLogger("pisight.convert")


class ConversionError(RuntimeError):
    """A check failed; no bundle was written."""


@dataclass(frozen=True)
class ConvertOptions:
    model: str
    out: Path
    mode: str = "int8"
    io_dtype: str = "uint8"
    per_tensor: bool = False
    calibration: str | None = None
    calibration_samples: int = 200
    seed: int = 0
    labels: tuple[str, ...] = ()
    input_range: tuple[float, float] = (-1.0, 1.0)
    weights: str = "none"
    allow_float_ops: bool = False
    check_legacy_runtime: bool = True
    agreement_frames: int = 50


@dataclass
class StepLog:
    """What each step took and changed, for the log and the report."""

    steps: list[dict[str, Any]] = field(default_factory=list)

    def run(self, name: str, action: Callable[[], Any], describe: Callable[[Any], str]) -> Any:
        log.info("%s ...", name)
        started = time.perf_counter()
        value = action()
        seconds = time.perf_counter() - started
        summary = describe(value)
        self.steps.append({"step": name, "seconds": round(seconds, 2), "result": summary})
        log.info("%s: %s (%.1f s)", name, summary, seconds)
        return value


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
    with tempfile.TemporaryDirectory(prefix="pisight-convert-") as scratch:
        workdir = Path(scratch)
        source = steps.run(
            "load", lambda: load_model_input(
                options.model, workdir, options.input_range, options.weights, options.labels
            ),
            lambda s: s.description,
        )  # fmt: skip
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
        from pisight.convert.verify import verify_conversion

        verification = verify_conversion(options, source, model, reference, frames, workdir, steps)
        from pisight.convert.packaging import package_bundle

        metadata = package_bundle(options, source, model, reference, frames, verification, steps)
    return ConversionResult(
        options.out, len(model), len(reference), metadata, time.perf_counter() - started
    )


def _calibration(
    options: ConvertOptions, source: ModelInput, steps: StepLog
) -> CalibrationFrames | None:
    if options.calibration is None:
        if options.mode in ("int8", "int16x8"):
            raise ConversionError(
                f"mode {options.mode} needs calibration frames: add --calib IMAGES_VIDEO_OR_DATASET"
            )
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
    quantize = QuantizeOptions(options.mode, options.io_dtype, options.per_tensor)
    return convert_saved_model(source.saved_model, quantize, frames.batches if frames else None)
