"""`pisight convert --prune/--qat`: every path end to end at tiny size, and its refusals."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pisight.convert.optimize import gate
from pisight.convert.optimize.plan import OptimizePlan, check_plan
from pisight.convert.report.variants import CONV_2D, _weighted_ops, multiply_accumulates, sparsity
from pisight.device.model.bundle import verify_bundle
from pisight.device.model.detector import Detector, DetectorOptions
from tests.helpers import pisight, pisight_in_process

FRAME = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)


def _convert(model: Path, out: Path, calibration: Path, data: Path, *extra: str, run=pisight):
    args = ("convert", str(model), "--out", str(out), "--calib", str(calibration),
            "--finetune-data", str(data), "--finetune-epochs", "1", *extra)  # fmt: skip
    result = run(*args, timeout=600) if run is pisight else run(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert verify_bundle(out) == []
    metadata = json.loads((out / "pisight.json").read_text())
    assert "variants.png" in metadata["files"]
    assert (out / "variants.png").read_bytes().startswith(b"\x89PNG")
    assert len(Detector.load(DetectorOptions(out, score_threshold=0.0)).detect(FRAME)) > 0
    return metadata, (out / "report.md").read_text()


def test_unstructured_pruning_then_qat_keeps_the_zeros(
    tiny_detector: Path, calibration_dir: Path, finetune_data: Path, tmp_path: Path
) -> None:
    metadata, report = _convert(
        tiny_detector, tmp_path / "bundle", calibration_dir, finetune_data,
        "--prune", "0.5", "--qat", "--eval-data", str(finetune_data), "--max-map-drop", "100",
    )  # fmt: skip
    pruning, optimization = metadata["pruning"], metadata["optimization"]
    assert pruning["structure"] == "unstructured" and 0.45 < pruning["sparsity"] < 0.5
    shipped = (tmp_path / "bundle" / "model.tflite").read_bytes()
    # The prune-preserving QAT scheme and INT8 conversion kept every zero.
    assert sparsity(shipped) >= pruning["sparsity"] - 0.005
    assert pruning["converted_sparsity"] == pytest.approx(sparsity(shipped), abs=1e-4)
    names = [v["name"] for v in optimization["variants"]]
    assert names == [
        "post-training (no pruning)",
        "50% unstructured sparsity, post-training",
        "50% unstructured sparsity + quantization-aware training (shipped)",
        "fp32 (no pruning)",
    ]
    baseline, pruned, qat, fp32 = optimization["variants"]
    assert baseline["macs"] == pruned["macs"] == qat["macs"]  # zeros are still multiplied
    assert pruned["bytes_gzip"] < baseline["bytes_gzip"] < fp32["bytes_gzip"]
    assert all(isinstance(v["map50"], float) for v in optimization["variants"])
    assert isinstance(optimization["qat_gain_points"], float)
    assert optimization["finetune"]["epochs"] == 1 and optimization["qat"] is True
    assert "## Pruning and quantization-aware training" in report
    assert "| variant | mAP@0.5 |" in report and "QAT against post-training" in report
    assert "| block_1_expand | 50.0% |" in report


def test_pruning_then_clustering_keeps_zeros_and_shrinks_the_gzip(
    tiny_detector: Path, calibration_dir: Path, finetune_data: Path, tmp_path: Path
) -> None:
    metadata, report = _convert(
        tiny_detector, tmp_path / "bundle", calibration_dir, finetune_data,
        "--prune", "0.5", "--cluster", "8", "--skip-accuracy-gate",
    )  # fmt: skip
    # No gate, and the report says so; fine-tuning saw all eight images.
    optimization = metadata["optimization"]
    assert optimization["gate"] is None and optimization["gate_skipped"] is True
    assert optimization["finetune"]["images"] == 8 and optimization["finetune"]["held_out"] is None
    assert "**Warning: no accuracy gate ran (--skip-accuracy-gate).**" in report
    clustering = metadata["clustering"]
    assert clustering["clusters"] == 8 and clustering["clustered_layers"] > 20
    names = [v["name"] for v in metadata["optimization"]["variants"]]
    assert names == [
        "post-training (no pruning)",
        "50% unstructured sparsity, post-training",
        "50% unstructured sparsity + 8 weight clusters, post-training (shipped)",
        "fp32 (no pruning)",
    ]
    baseline, pruned, clustered, _ = metadata["optimization"]["variants"]
    assert clustered["bytes_gzip"] < pruned["bytes_gzip"] < baseline["bytes_gzip"]
    assert clustered["macs"] == baseline["macs"]  # no kernel got smaller
    model = (tmp_path / "bundle" / "model.tflite").read_bytes()
    assert sparsity(model) >= metadata["pruning"]["sparsity"] - 0.005  # zeros kept
    # Per-channel INT8 maps a kernel's 8 shared values to at most 8 integers per channel.
    clustered_kernels = 0
    for op in _weighted_ops(model):
        if op.code != CONV_2D or op.weight_values is None or op.weight_values.size < 1024:
            continue
        channels = op.weight_values.reshape(op.weight_shape[0], -1)
        assert all(np.unique(row[row != 0]).size <= 8 for row in channels), op.weight_name
        clustered_kernels += 1
    assert clustered_kernels > 10
    assert "Clustering: " in report and "hold at most 8 distinct non-zero values" in report


def test_channel_pruning_then_qat_is_smaller_cheaper_and_gated_on_held_out_images(
    tiny_detector: Path, calibration_dir: Path, finetune_data: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # Eight images are far too few to gate on; one held-out image is enough to test with.
    monkeypatch.setattr(gate, "MIN_HOLDOUT", 1)
    metadata, report = _convert(
        tiny_detector, tmp_path / "bundle", calibration_dir, finetune_data,
        "--prune", "0.3", "--prune-structure", "channel", "--qat", "--max-map-drop", "100",
        run=pisight_in_process,
    )  # fmt: skip
    finetune = metadata["optimization"]["finetune"]
    assert finetune["held_out"]["held_out_images"] == 2 and finetune["images"] == 6
    assert set(finetune["kept_epochs"]) == {"prune", "qat"}
    assert all(kept["best_epoch"] == 1 for kept in finetune["kept_epochs"].values())
    record = metadata["optimization"]["gate"]
    assert record["max_drop_points"] == 100 and record["passed"] is True
    assert record["data"] == "2 images held out of --finetune-data"
    assert "Held out for the gate: 2 of 8 images" in report
    assert "- prune: kept epoch 1 of 1" in report and "(at most 100 allowed: passed)" in report
    pruning = metadata["pruning"]
    assert pruning["removed_channels"] > 0.25 * pruning["prunable_channels"]
    assert pruning["parameters"]["after"] < 0.8 * pruning["parameters"]["before"]
    baseline, pruned, shipped, _ = metadata["optimization"]["variants"]
    assert pruned["macs"] == shipped["macs"] and pruned["name"].endswith("post-training")
    assert shipped["name"].endswith("(shipped)")
    assert shipped["macs"] < 0.8 * baseline["macs"] and shipped["bytes"] < baseline["bytes"]
    model = (tmp_path / "bundle" / "model.tflite").read_bytes()
    assert multiply_accumulates(model) == shipped["macs"]
    assert isinstance(shipped["map50"], float)  # measured on the held-out images
    assert "prunable channels removed" in report
    assert metadata["float_ops"] == []


def test_too_few_images_to_hold_out_are_refused_before_any_work(
    tiny_detector: Path, calibration_dir: Path, finetune_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    result = pisight_in_process(
        "convert", str(tiny_detector), "--out", str(out), "--calib", str(calibration_dir),
        "--prune", "0.5", "--finetune-data", str(finetune_data),
    )  # fmt: skip
    assert result.returncode == 2
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("pisight: error: --finetune-data ") and "has 8 images" in error
    assert f"needs at least {gate.images_needed()}" in error and "--skip-accuracy-gate" in error
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--qat"], "add --finetune-data"),
        (["--cluster", "1", "--finetune-data", "x"], "--cluster takes 2-256"),
        (["--cluster", "16", "--qat", "--finetune-data", "x"], "do not combine"),
        (
            [
                "--prune",
                "0.3",
                "--prune-structure",
                "channel",
                "--cluster",
                "16",
                "--finetune-data",
                "x",
            ],
            "cluster with --prune-structure unstructured",
        ),
        (["--prune", "1.5", "--finetune-data", "x"], "between 0 and 1"),
        (["--qat", "--mode", "fp16", "--finetune-data", "x"], "--mode int8"),
        (["--prune-structure", "channel", "--finetune-data", "x"], "needs --prune SHARE"),
        (["--prune", "0.7", "--prune-structure", "2:4", "--finetune-data", "x"], "--prune 0.5"),
    ],
)
def test_impossible_options_fail_before_any_work(
    tiny_detector: Path, calibration_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    out = tmp_path / "bundle"
    result = pisight_in_process(
        "convert", str(tiny_detector), "--out", str(out), "--calib", str(calibration_dir), *extra
    )
    assert result.returncode == 2
    assert message in result.stderr.strip().splitlines()[-1]
    assert not out.exists()


def test_clustering_per_tensor_warns(caplog: pytest.LogCaptureFixture) -> None:
    plan = OptimizePlan(prune=0.5, clusters=10, finetune_data="x")
    with caplog.at_level(logging.WARNING, logger="pisight.convert"):
        check_plan(plan, "int8", (), per_tensor=False)
        assert caplog.records == []
        check_plan(plan, "int8", (), per_tensor=True)
    assert "drop --per-tensor" in caplog.text


def test_pruning_needs_one_of_our_detectors(
    tiny_saved_model: Path, calibration_dir: Path, finetune_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bundle"
    result = pisight_in_process(
        "convert", str(tiny_saved_model), "--out", str(out), "--calib", str(calibration_dir),
        "--prune", "0.5", "--finetune-data", str(finetune_data), "--skip-accuracy-gate",
    )  # fmt: skip
    assert result.returncode == 2
    assert "need one of our Keras detectors" in result.stderr.strip().splitlines()[-1]
    assert not out.exists()
