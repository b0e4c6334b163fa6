"""Variant measurements read from real .tflite files: sparsity, MACs, latency, table, plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pisight.convert.report.variants import (
    Variant,
    interleaved_latency,
    multiply_accumulates,
    plot_variants,
    sparsity,
    variants_table,
    weight_tensors,
)
from pisight.convert.tf import keras, tf


def _tiny_model(zero_share: float) -> bytes:
    """conv 3x3 (3->8) on 16x16, depthwise 3x3, dense 8->4; float TFLite."""
    keras.utils.set_random_seed(1)
    pixels = keras.Input((16, 16, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)(pixels)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(pixels, keras.layers.Dense(4)(x))
    conv = model.layers[1]
    kernel = conv.get_weights()[0]
    kernel.reshape(-1)[: int(kernel.size * zero_share)] = 0.0
    conv.set_weights([kernel])
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def test_multiply_accumulates_from_shapes() -> None:
    expected = 16 * 16 * 8 * (3 * 3 * 3) + 16 * 16 * 8 * 9 + 4 * 8
    assert multiply_accumulates(_tiny_model(0.0)) == expected


def test_sparsity_counts_zero_weights() -> None:
    model = _tiny_model(0.5)
    weights = weight_tensors(model)
    assert sorted(w.size for w in weights) == [32, 72, 216]
    conv = next(w for w in weights if w.size == 216)
    assert conv.sparsity == 0.5
    assert (
        sparsity(model) == (108 + sum(w.sparsity * w.size for w in weights if w is not conv)) / 320
    )


def test_latency_table_and_plot(tmp_path: Path) -> None:
    models = {"dense": _tiny_model(0.0), "sparse": _tiny_model(0.5)}
    latency = interleaved_latency(models, tmp_path, threads=1, rounds=2, runs=3)
    assert set(latency) == {"dense", "sparse"}
    assert all(len(v) == 6 and np.all(v > 0) for v in latency.values())
    rows = [
        Variant("dense", 1000, 800, 0.0, 100, 2.0, 0.5),
        Variant("sparse", 1000, 400, 0.5, 100, 1.0, 0.49),
    ]
    table = variants_table(rows, threads=2)
    assert table[0].startswith("| variant | mAP@0.5 |") and "2 threads" in table[0]
    assert "0.4900 (-1.00 pts)" in table[3] and "(0.50x)" in table[3]
    png = plot_variants(rows)
    assert png.startswith(b"\x89PNG")
    no_map = [Variant("a", 1, 1, 0.0, 1, 1.0, None)]
    assert plot_variants(no_map).startswith(b"\x89PNG") and "n/a" in variants_table(no_map, 2)[2]


def test_plot_axes_start_at_zero_and_map_spans_ten_points(monkeypatch) -> None:
    from matplotlib.figure import Figure

    limits = []
    save = Figure.savefig

    def record(figure, *args, **kwargs):
        limits.append((figure.axes[0].get_xlim(), figure.axes[0].get_ylim()))
        return save(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", record)
    plot_variants(
        [Variant("a", 1, 800, 0.0, 1, 2.0, 0.910), Variant("b", 1, 400, 0.5, 1, 1.0, 0.912)]
    )
    plot_variants([Variant("a", 1, 800_000, 0.0, 1, 2.0, None)])
    (x, y), (x_size, y_size) = limits
    assert x[0] == 0 and y[1] - y[0] >= 0.1 - 1e-9 and y[0] < 0.910 < 0.912 < y[1]
    assert x_size[0] == 0 and y_size[0] == 0 and y_size[1] > 0.8
