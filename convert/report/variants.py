"""What each optimisation bought: one row per model variant, measured side by side.

    rows = measure_variants({"int8": ptq, "pruned int8": pruned}, eval_dir_for, threads=2)
    table = variants_table(rows); png = plot_variants(rows)

Size raw and gzipped (sparsity only pays off compressed), sparsity and multiply-
accumulates read from the .tflite itself, latency on ai-edge-litert with every
variant's interpreter loaded at once and timed in interleaved rounds, so a busy
machine slows all of them alike, and mAP@0.5 through the same evaluation as `pisight
eval` when there is evaluation data.
"""

from __future__ import annotations

import gzip
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from pisight.device.model.runtime import make_interpreter

# TFLite builtin operator codes whose second input is a weight tensor.
CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED = 3, 4, 9
INT8, FLOAT32, FLOAT16 = 9, 0, 1
WEIGHT_DTYPES = {INT8: np.int8, FLOAT32: np.float32, FLOAT16: np.float16}
MAP_SPAN = 0.10
"""The least range of mAP@0.5 the variants plot shows."""


@dataclass(frozen=True)
class Variant:
    name: str
    bytes: int
    bytes_gzip: int
    sparsity: float
    """Share of zero weights over every convolution and fully connected layer."""
    macs: int
    """Multiply-accumulates per frame (dense: zeros are multiplied too)."""
    latency_ms: float
    """ai-edge-litert invoke p50."""
    map50: float | None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class WeightInfo:
    name: str
    sparsity: float
    size: int


@dataclass(frozen=True)
class _WeightedOp:
    """A convolution or fully connected operator, with what sizing and sparsity need."""

    code: int
    weight_name: str
    weight_shape: tuple[int, ...]
    weight_values: np.ndarray | None
    """None when the weights are computed at run time or of a type we do not count."""
    output_elements: int


def _weighted_ops(model: bytes) -> list[_WeightedOp]:
    from tensorflow.lite.tools import flatbuffer_utils

    parsed = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    graph = parsed.subgraphs[0]
    found = []
    for operator in graph.operators:
        code = parsed.operatorCodes[operator.opcodeIndex].builtinCode
        if code not in (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED):
            continue
        tensor = graph.tensors[operator.inputs[1]]
        data = parsed.buffers[tensor.buffer].data
        values = None
        if data is not None and tensor.type in WEIGHT_DTYPES:
            values = np.frombuffer(bytes(data), WEIGHT_DTYPES[tensor.type])
        found.append(_WeightedOp(
            code, tensor.name.decode(), tuple(int(d) for d in tensor.shape), values,
            int(np.prod(graph.tensors[operator.outputs[0]].shape)),
        ))  # fmt: skip
    return found


def weight_tensors(model: bytes) -> list[WeightInfo]:
    """Every convolution / fully connected weight tensor with its share of zeros."""
    return _weights(_weighted_ops(model))


def _weights(ops: list[_WeightedOp]) -> list[WeightInfo]:
    return [
        WeightInfo(op.weight_name, float(np.mean(op.weight_values == 0)), op.weight_values.size)
        for op in ops
        if op.weight_values is not None
    ]


def sparsity(model: bytes) -> float:
    return _sparsity(_weighted_ops(model))


def _sparsity(ops: list[_WeightedOp]) -> float:
    weights = _weights(ops)
    total = sum(w.size for w in weights)
    return sum(w.sparsity * w.size for w in weights) / total if total else 0.0


def multiply_accumulates(model: bytes) -> int:
    """MACs of the convolutions and fully connected layers, from tensor shapes."""
    return _macs(_weighted_ops(model))


def _macs(ops: list[_WeightedOp]) -> int:
    total = 0
    for op in ops:
        shape = op.weight_shape
        if op.code == CONV_2D:  # weights (out, h, w, in): each output sums h*w*in products
            total += op.output_elements * shape[1] * shape[2] * shape[3]
        elif op.code == DEPTHWISE_CONV_2D:  # weights (1, h, w, channels)
            total += op.output_elements * shape[1] * shape[2]
        else:  # weights (out, in)
            total += op.output_elements * shape[1]
    return total


def interleaved_latency(
    models: dict[str, bytes], workdir: Path, threads: int, rounds: int = 15, runs: int = 10
) -> dict[str, np.ndarray]:
    """Invoke times (ms) per model, the models taking turns round after round.

    Many short turns rather than a few long ones: a burst of load from elsewhere on the
    machine then lands on every model instead of on one.
    """
    interpreters = {}
    for index, (name, model) in enumerate(models.items()):
        path = workdir / f"latency_{index}.tflite"
        path.write_bytes(model)
        interpreter, _ = make_interpreter(path, "litert", threads)
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
        for _ in range(5):  # the first invokes allocate and pack weights
            interpreter.invoke()
        interpreters[name] = interpreter
    timings: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, interpreter in interpreters.items():
            for _ in range(runs):
                started = time.perf_counter()
                interpreter.invoke()
                timings[name].append((time.perf_counter() - started) * 1000.0)
    return {name: np.asarray(values) for name, values in timings.items()}


def measure_variants(
    models: dict[str, bytes],
    workdir: Path,
    threads: int,
    map50: Callable[[str, bytes], float | None],
) -> list[Variant]:
    """map50(name, model) evaluates one variant, or returns None without data."""
    latency = interleaved_latency(models, workdir, threads)
    rows = []
    for name, model in models.items():
        ops = _weighted_ops(model)  # parsed once for both figures
        rows.append(Variant(
            name=name,
            bytes=len(model),
            bytes_gzip=len(gzip.compress(model, 9)),
            sparsity=round(_sparsity(ops), 4),
            macs=_macs(ops),
            latency_ms=round(float(np.percentile(latency[name], 50)), 3),
            map50=map50(name, model),
        ))  # fmt: skip
    return rows


def variants_table(rows: list[Variant], threads: int) -> list[str]:
    """Markdown rows; ratios are against the first row (the unoptimised INT8 model)."""
    base = rows[0]
    lines = [
        f"| variant | mAP@0.5 | bytes | gzip bytes | sparsity | MACs | "
        f"latency p50 ({threads} threads) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        accuracy = "n/a" if row.map50 is None else f"{row.map50:.4f}"
        if row.map50 is not None and base.map50 is not None and row is not base:
            accuracy += f" ({(row.map50 - base.map50) * 100:+.2f} pts)"
        lines.append(
            f"| {row.name} | {accuracy} | {row.bytes:,} | {row.bytes_gzip:,} "
            f"({row.bytes_gzip / base.bytes_gzip:.2f}x) | {row.sparsity:.1%} | "
            f"{row.macs / 1e6:.1f} M ({row.macs / base.macs:.2f}x) | "
            f"{row.latency_ms:.2f} ms ({row.latency_ms / base.latency_ms:.2f}x) |"
        )
    return lines


def plot_variants(rows: list[Variant]) -> bytes:
    """One PNG: mAP@0.5 (or, without data, gzip size) against latency; marker area ~ size."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a workstation over SSH or in CI
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    have_map = all(row.map50 is not None for row in rows)
    largest = max(row.bytes_gzip for row in rows)
    for row in rows:
        y = row.map50 if have_map else row.bytes_gzip / 1e6
        axes.scatter(row.latency_ms, y, s=60 + 540 * row.bytes_gzip / largest, alpha=0.6)
        axes.annotate(f"{row.name}\n{row.bytes_gzip / 1e6:.2f} MB gz", (row.latency_ms, y),
                      textcoords="offset points", xytext=(8, 4), fontsize=8)  # fmt: skip
    axes.set_xlabel("LiteRT latency p50 (ms)")
    axes.set_ylabel("mAP@0.5" if have_map else "gzipped model (MB)")
    axes.set_title("Accuracy against latency (marker area: gzipped size)", fontsize=10)
    # Latency and size from zero (room for the labels right of the markers); mAP over
    # at least 10 points, so a 0.3-point wobble between variants does not fill the
    # height like a collapse.
    axes.set_xlim(0, max(row.latency_ms for row in rows) * 1.9)
    values = [row.map50 if have_map else row.bytes_gzip / 1e6 for row in rows]
    if have_map:
        low, high = min(values), max(values)
        middle, half = (low + high) / 2, max((high - low) * 0.7, MAP_SPAN / 2)
        axes.set_ylim(max(0.0, middle - half), min(1.0, middle + half))
    else:
        axes.set_ylim(0, max(values) * 1.25)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()
