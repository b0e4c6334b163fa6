"""What one `pisight convert` asks for: the typed options the command line builds.

    options = ConvertOptions(model="demo.keras", out=Path("bundle"), calibration="frames/")

Nothing below the command line reads argparse; every step reads this value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pisight.convert.conversion.compatibility import DEFAULT_TARGET, check_target
from pisight.convert.conversion.quantize import DEFAULT_IO
from pisight.convert.optimize.plan import OptimizePlan


@dataclass(frozen=True)
class ConvertOptions:
    model: str
    out: Path
    mode: str = "int8"
    io_dtype: str = DEFAULT_IO
    per_tensor: bool = False
    calibration: str | None = None
    calibration_samples: int = 200
    seed: int = 0
    labels: tuple[str, ...] = ()
    input_range: tuple[float, float] = (-1.0, 1.0)
    weights: str = "none"
    allow_float_ops: bool = False
    check_legacy_runtime: bool = True
    target_runtime: str = DEFAULT_TARGET
    """The runtime the Pis run: "litert", or "tflite-runtime" (its refusal is then fatal)."""
    agreement_frames: int = 50
    eval_data: str | None = None
    """Dataset to evaluate FP32 and the converted model on, side by side."""
    max_map_drop: float | None = None
    """Points of mAP@0.5 the conversion may cost before it fails; None: the default for what
    is asked (optimize/defaults.py: 1 against FP32 for a plain conversion, 2 against
    post-training INT8 for pruning or clustering, 1 for QAT)."""
    gate: bool = True
    """False: measure and report accuracy, never refuse; fine-tune on all of --finetune-data."""
    float_layers: tuple[str, ...] = ()
    """Layers kept in float; ("auto",) picks the worst ones when agreement is low."""
    min_agreement: float = 0.9
    """With --float-layers auto: below this share of FP32 detections kept, go selective."""
    optimize: OptimizePlan = field(default_factory=OptimizePlan)
    """Pruning and/or quantization-aware training before quantization."""
    command: str = ""
    """The command line that asked for this conversion, recorded in the bundle."""

    def __post_init__(self) -> None:
        check_target(self.target_runtime, self.check_legacy_runtime)
