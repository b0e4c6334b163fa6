"""What a TFLite model takes and gives: its input preprocessing and its output roles.

    spec = inspect_model(interpreter, metadata={}, input_range=(-1.0, 1.0))
    spec.task                   # "detection" or "classification"
    spec.outputs.roles          # {"boxes": 153, "classes": 154, "scores": 155, "count": 156}

SSD models ending in TFLite_Detection_PostProcess leave their four outputs in whatever
order the exporter chose: TF1 exports list them in the op's order (boxes, classes,
scores, count); TF2 exports list them by signature key under `StatefulPartitionedCall:N`
names, scores first. Guessing from positions or names is what breaks the popular
scripts, so roles are found, most trusted first, from 1) signature output names,
2) the post-processing op's own output order, 3) the op's tensor names,
4) shapes and value ranges of a probe run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pisight.device.model.preprocess import apply_lookup_table, input_lookup_table

POSTPROCESS_OP = "TFLite_Detection_PostProcess"
SSD_ROLES = ("boxes", "classes", "scores", "count")  # the op's fixed output order
_SIGNATURE_WORDS = {"boxes": "box", "classes": "class", "scores": "score", "count": "num"}


class ModelError(ValueError):
    """The model's tensors are not something pisight can run."""


@dataclass(frozen=True)
class InputSpec:
    """The single image input and how pixels map onto it (real = (pixel - mean) / std)."""

    index: int
    height: int
    width: int
    dtype: str
    scale: float
    zero_point: int
    mean: float
    std: float
    lookup_table: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class OutputLayout:
    """Output tensor index per role, and which rule found them (for the log)."""

    task: str
    roles: dict[str, int]
    found_by: str
    quantization: dict[int, tuple[float, int]] = field(default_factory=dict)
    class_count: int | None = None
    """Classifiers: the width of the output vector. SSD: unknown (it is in op options)."""


@dataclass(frozen=True)
class ModelSpec:
    input: InputSpec
    outputs: OutputLayout

    @property
    def task(self) -> str:
        return self.outputs.task


def inspect_model(
    interpreter: Any, metadata: dict[str, Any], input_range: tuple[float, float] = (-1.0, 1.0)
) -> ModelSpec:
    spec_input = _inspect_input(interpreter, metadata.get("input") or {}, input_range)
    return ModelSpec(spec_input, _inspect_outputs(interpreter, spec_input))


def _inspect_input(
    interpreter: Any, declared: dict[str, Any], input_range: tuple[float, float]
) -> InputSpec:
    details = interpreter.get_input_details()
    if len(details) != 1:
        raise ModelError(f"the model has {len(details)} inputs; pisight needs one image input")
    tensor = details[0]
    shape = tuple(int(v) for v in tensor["shape"])
    if len(shape) != 4 or shape[0] != 1 or shape[3] != 3:
        raise ModelError(f"the model input is {shape}; pisight needs (1, height, width, 3)")
    dtype = np.dtype(tensor["dtype"]).name
    if dtype not in ("uint8", "int8", "float32"):
        raise ModelError(f"the model input is {dtype}; pisight feeds uint8, int8 or float32")
    scale, zero_point = (float(v) for v in tensor["quantization"])
    mean, std = _pixel_normalisation(dtype, scale, int(zero_point), declared, input_range)
    table = input_lookup_table(mean, std, dtype, scale, int(zero_point))
    return InputSpec(
        int(tensor["index"]), shape[1], shape[2], dtype, scale, int(zero_point), mean, std, table
    )


def _pixel_normalisation(
    dtype: str,
    scale: float,
    zero_point: int,
    declared: dict[str, Any],
    input_range: tuple[float, float],
) -> tuple[float, float]:
    """(mean, std) so that real = (pixel - mean) / std."""
    if "mean" in declared and "std" in declared:
        return float(declared["mean"]), float(declared["std"])
    if dtype != "float32" and scale > 0:
        # Without metadata a quantized input's own parameters say which real range it
        # expects: the pixel range maps linearly onto the full integer range.
        low = scale * (np.iinfo(np.dtype(dtype)).min - zero_point)
        return -low / scale, 1.0 / scale
    low, high = input_range
    return -low * 255.0 / (high - low), 255.0 / (high - low)


def _inspect_outputs(interpreter: Any, spec_input: InputSpec) -> OutputLayout:
    details = interpreter.get_output_details()
    quantization = {
        int(d["index"]): (float(d["quantization"][0]), int(d["quantization"][1])) for d in details
    }
    shapes = {int(d["index"]): tuple(int(v) for v in d["shape"]) for d in details}
    if _looks_like_ssd(shapes):
        rules = (
            ("signature names", _roles_from_signature),
            ("post-processing op", _roles_from_postprocess_op),
            ("tensor names", _roles_from_tensor_names),
        )
        for found_by, rule in rules:
            roles = rule(interpreter, details)
            if roles is not None:
                return OutputLayout("detection", roles, found_by, quantization)
        roles = _roles_from_values(interpreter, shapes, spec_input)
        return OutputLayout("detection", roles, "shapes and values", quantization)
    if len(details) == 1 and int(np.prod(shapes[int(details[0]["index"])])) >= 2:
        shape = shapes[int(details[0]["index"])]
        if max(shape) == int(np.prod(shape)):
            roles = {"logits": int(details[0]["index"])}
            return OutputLayout("classification", roles, "single output", quantization, max(shape))
    listed = ", ".join(f"{shapes[int(d['index'])]} {np.dtype(d['dtype']).name}" for d in details)
    raise ModelError(
        f"unsupported model outputs [{listed}]: pisight runs SSD detectors ending in "
        f"{POSTPROCESS_OP} (boxes, classes, scores, count) and classifiers with one (1, N) output"
    )


def _looks_like_ssd(shapes: dict[int, tuple[int, ...]]) -> bool:
    if len(shapes) != 4:
        return False
    ranks = sorted(len(s) for s in shapes.values())
    return ranks == [1, 2, 2, 3] and any(s[-1] == 4 and len(s) == 3 for s in shapes.values())


def _roles_from_signature(interpreter: Any, details: list[dict]) -> dict[str, int] | None:
    try:
        signatures = interpreter._get_full_signature_list()
    except AttributeError:  # very old runtimes have no signature API
        return None
    for signature in (signatures or {}).values():
        outputs = {key.lower(): int(index) for key, index in signature["outputs"].items()}
        roles = {}
        for role, word in _SIGNATURE_WORDS.items():
            hits = [index for key, index in outputs.items() if word in key]
            if role == "count":
                hits = hits or [index for key, index in outputs.items() if "count" in key]
            if len(hits) != 1:
                break
            roles[role] = hits[0]
        if len(roles) == 4 and len(set(roles.values())) == 4:
            return roles
    return None


def _roles_from_postprocess_op(interpreter: Any, details: list[dict]) -> dict[str, int] | None:
    try:
        ops = interpreter._get_ops_details()
    except AttributeError:
        return None
    model_outputs = {int(d["index"]) for d in details}
    for op in ops:
        outputs = [int(i) for i in op.get("outputs", [])]
        if op.get("op_name") == POSTPROCESS_OP and set(outputs) == model_outputs:
            return dict(zip(SSD_ROLES, outputs, strict=True))
    return None


def _roles_from_tensor_names(interpreter: Any, details: list[dict]) -> dict[str, int] | None:
    roles = {}
    for d in details:
        name = str(d["name"])
        if name.startswith(POSTPROCESS_OP):
            position = int(name.rsplit(":", 1)[1]) if ":" in name else 0
            if position < len(SSD_ROLES):
                roles[SSD_ROLES[position]] = int(d["index"])
    return roles if len(roles) == 4 else None


def _roles_from_values(
    interpreter: Any, shapes: dict[int, tuple[int, ...]], spec_input: InputSpec
) -> dict[str, int]:
    """Boxes and count by shape; classes vs scores by a probe run on a noise image."""
    boxes = next(i for i, s in shapes.items() if len(s) == 3)
    count = next(i for i, s in shapes.items() if len(s) == 1)
    pair = [i for i, s in shapes.items() if len(s) == 2]
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (spec_input.height, spec_input.width, 3), dtype=np.uint8)
    probe = apply_lookup_table(pixels, spec_input.lookup_table)[np.newaxis]
    interpreter.set_tensor(spec_input.index, probe.astype(spec_input.dtype))
    interpreter.invoke()
    values = {i: interpreter.get_tensor(i) for i in pair}
    integral = [i for i in pair if np.all(values[i] == np.round(values[i]))]
    classes = integral[0] if len(integral) == 1 else pair[0]  # ambiguous: the op's order
    scores = pair[1] if classes == pair[0] else pair[0]
    return {"boxes": boxes, "classes": classes, "scores": scores, "count": count}
