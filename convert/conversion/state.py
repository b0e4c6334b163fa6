"""One conversion's state, from the loaded model to the verified result, as one typed value.

The converter fills it step by step; packaging reads it to write pisight.json and the
report, so neither passes a dozen positional arguments to the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pisight.convert.conversion.model_input import ModelInput
from pisight.convert.conversion.options import ConvertOptions
from pisight.convert.conversion.steps import StepLog
from pisight.convert.conversion.verify import Verification
from pisight.convert.data.calibration import CalibrationFrames
from pisight.convert.optimize.plan import Optimized


@dataclass(frozen=True)
class Conversion:
    options: ConvertOptions
    source: ModelInput
    """The model that was quantized (the optimized one when pruning or QAT ran)."""
    model: bytes
    """The converted .tflite that ships."""
    reference: bytes
    """The FP32 .tflite of the same source, for size, latency and agreement."""
    frames: CalibrationFrames | None
    verification: Verification
    steps: StepLog
    selective: dict[str, Any] | None = None
    """Layers kept in float and the agreement before and after (--float-layers auto)."""
    accuracy: dict[str, Any] | None = None
    """FP32 and converted mAP on --eval-data, and the drop the gate checked."""
    optimized: Optimized | None = None
    comparison: dict[str, Any] | None = None
    """Every optimization variant measured side by side (table, plot, figures)."""
