"""COCO mAP through pycocotools, checked against pycocotools run independently."""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pisight.convert.cli import eval as cli_eval
from pisight.convert.data.datasets import Box, Dataset, Sample, load_dataset
from pisight.convert.report import evaluate
from pisight.convert.report.evaluate import (
    coco_map,
    detector_for,
    evaluate_model,
    export_fp32_bundle,
    predict_dataset,
)
from pisight.device.model.detections import Detections
from tests.cache import built_once

LABELS = ("circle", "square", "triangle")


def _random_dataset(count: int = 6, seed: int = 0) -> Dataset:
    """Boxes only: coco_map never opens the images."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        boxes = []
        for _ in range(int(rng.integers(1, 4))):
            x1, y1 = rng.uniform(0, 200), rng.uniform(0, 140)
            w, h = rng.uniform(20, 100), rng.uniform(20, 90)
            boxes.append(Box(x1, y1, x1 + w, y1 + h, LABELS[int(rng.integers(3))]))
        samples.append(Sample(Path(f"{i}.jpg"), 320, 240, tuple(boxes)))
    return Dataset(Path("."), "voc", LABELS, tuple(samples), ())


def _as_detections(boxes: list[Box], scores: list[float]) -> Detections:
    xyxy = np.array([[b.x1, b.y1, b.x2, b.y2] for b in boxes], np.float32).reshape(-1, 4)
    return Detections(
        xyxy,
        np.array(scores, np.float32),
        np.zeros(len(boxes), np.int32),
        tuple(b.label for b in boxes),
    )


def _perfect(dataset: Dataset) -> dict[int, Detections]:
    return {
        i: _as_detections(list(s.boxes), [1.0] * len(s.boxes))
        for i, s in enumerate(dataset.samples)
    }


def _shifted(dataset: Dataset, fraction: float) -> dict[int, Detections]:
    def shift(b: Box) -> Box:
        dx = (b.x2 - b.x1) * fraction
        return Box(b.x1 + dx, b.y1, b.x2 + dx, b.y2, b.label)

    return {
        i: _as_detections([shift(b) for b in s.boxes], [1.0] * len(s.boxes))
        for i, s in enumerate(dataset.samples)
    }


def _noisy(dataset: Dataset, seed: int = 1) -> dict[int, Detections]:
    """Jittered true boxes, some wrong classes, some false positives, random scores."""
    rng = np.random.default_rng(seed)
    predictions = {}
    for i, sample in enumerate(dataset.samples):
        boxes = []
        for b in sample.boxes:
            jitter = rng.normal(0, 6, 4)
            label = b.label if rng.uniform() < 0.8 else LABELS[int(rng.integers(3))]
            boxes.append(Box(b.x1 + jitter[0], b.y1 + jitter[1], b.x2 + jitter[2],
                             b.y2 + jitter[3], label))  # fmt: skip
        for _ in range(2):
            x, y = rng.uniform(0, 250), rng.uniform(0, 180)
            boxes.append(Box(x, y, x + 40, y + 40, LABELS[int(rng.integers(3))]))
        predictions[i] = _as_detections(boxes, rng.uniform(0.05, 1.0, len(boxes)).tolist())
    return predictions


def _independent_cocoeval(
    dataset: Dataset, predictions: dict[int, Detections], directory: Path
) -> np.ndarray:
    """COCO files written here from the raw values, read back by pycocotools itself."""
    images = [{"id": i + 1, "width": s.width, "height": s.height, "file_name": s.image.name}
              for i, s in enumerate(dataset.samples)]  # fmt: skip
    annotations = []
    for i, sample in enumerate(dataset.samples):
        for b in sample.boxes:
            w, h = b.x2 - b.x1, b.y2 - b.y1
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "iscrowd": 0,
                                "category_id": LABELS.index(b.label) + 1,
                                "bbox": [b.x1, b.y1, w, h], "area": w * h})  # fmt: skip
    categories = [{"id": k + 1, "name": name} for k, name in enumerate(LABELS)]
    gt_file, results_file = directory / "gt.json", directory / "results.json"
    gt_file.write_text(json.dumps({"images": images, "annotations": annotations,
                                   "categories": categories}))  # fmt: skip
    results = [
        {"image_id": i + 1, "category_id": LABELS.index(label) + 1, "score": float(score),
         "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
        for i, d in predictions.items()
        for (x1, y1, x2, y2), score, label in zip(d.xyxy, d.scores, d.labels, strict=True)
        if label in LABELS
    ]  # fmt: skip
    results_file.write_text(json.dumps(results))
    coco_gt = COCO(str(gt_file))
    evaluation = COCOeval(coco_gt, coco_gt.loadRes(str(results_file)), iouType="bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return evaluation.stats


def test_perfect_predictions_score_one() -> None:
    dataset = _random_dataset()
    scores = coco_map(dataset, _perfect(dataset))
    assert scores.map50 == pytest.approx(1.0)
    assert scores.map50_95 == pytest.approx(1.0)
    assert all(ap == {"ap50": pytest.approx(1.0), "ap50_95": pytest.approx(1.0)}
               for ap in scores.per_class.values())  # fmt: skip


def test_shifted_boxes_score_lower() -> None:
    dataset = _random_dataset()
    slightly = coco_map(dataset, _shifted(dataset, 0.1))
    badly = coco_map(dataset, _shifted(dataset, 0.6))
    assert slightly.map50 == pytest.approx(1.0)  # IoU 0.82 still counts at 0.5
    assert slightly.map50_95 < 1.0
    assert badly.map50 < 0.5 and badly.map50_95 < slightly.map50_95


def test_a_class_the_dataset_lacks_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    dataset = _random_dataset()
    predictions = _perfect(dataset)
    predictions[0] = _as_detections(
        [*dataset.samples[0].boxes, Box(10, 10, 60, 60, "hexagon")],
        [1.0] * len(dataset.samples[0].boxes) + [0.99],
    )
    with caplog.at_level(logging.WARNING, logger="pisight.eval"):
        scores = coco_map(dataset, predictions)
    assert scores.map50 == pytest.approx(1.0) and scores.map50_95 == pytest.approx(1.0)
    assert "hexagon" not in scores.per_class
    assert "hexagon" in caplog.text


def test_no_detections_score_zero() -> None:
    dataset = _random_dataset()
    scores = coco_map(dataset, {i: Detections.empty() for i in range(len(dataset.samples))})
    assert (scores.map50, scores.map50_95) == (0.0, 0.0)
    assert set(scores.per_class) <= set(LABELS)


def test_coco_map_agrees_with_pycocotools_on_files(tmp_path: Path) -> None:
    dataset = _random_dataset(count=12, seed=3)
    predictions = _noisy(dataset)
    scores = coco_map(dataset, predictions)
    stats = _independent_cocoeval(dataset, predictions, tmp_path)
    assert 0.1 < scores.map50 < 0.99  # a case where the numbers can disagree
    assert scores.map50 == pytest.approx(stats[1], abs=1e-9)
    assert scores.map50_95 == pytest.approx(stats[0], abs=1e-9)


# --- through real models -------------------------------------------------------------


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("shapes")
    generate_dataset(root, images=8, seed=5)
    return root


@pytest.fixture(scope="module")
def keras_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.ssd.model import SSDConfig, build_ssd, save_detector
    from pisight.convert.tf import keras

    def build(root: Path) -> Path:
        keras.utils.set_random_seed(0)
        config = SSDConfig(num_classes=3, input_size=96, alpha=0.35, labels=LABELS)
        save_detector(build_ssd(config), config, root / "random.keras")
        return root / "random.keras"

    return built_once(tmp_path_factory, "evaluate-random-detector", build)


@pytest.fixture(scope="module")
def bundle(keras_detector: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one Keras -> fp32 TFLite conversion of this module (the slow part)."""
    return built_once(
        tmp_path_factory,
        "evaluate-fp32-bundle",
        lambda root: export_fp32_bundle(keras_detector, root / "bundle"),
    )


@pytest.mark.slow
def test_cli_agrees_with_independent_pycocotools(
    shapes: Path, bundle: Path, tmp_path: Path
) -> None:
    parser = argparse.ArgumentParser()
    cli_eval.add_arguments(parser)
    out = tmp_path / "eval.json"
    args = parser.parse_args([str(bundle), "--data", str(shapes), "--json", str(out)])
    assert cli_eval.main(args) == 0
    reported = json.loads(out.read_text())
    dataset = load_dataset(shapes)
    with detector_for(bundle, dataset) as detector:
        predictions = predict_dataset(detector, dataset).detections
    assert sum(len(d) for d in predictions.values()) > 0
    stats = _independent_cocoeval(dataset, predictions, tmp_path)
    assert reported["map50"] == pytest.approx(max(stats[1], 0.0), abs=1e-9)
    assert reported["map50_95"] == pytest.approx(max(stats[0], 0.0), abs=1e-9)


@pytest.mark.slow
def test_evaluate_model_runs_a_keras_detector_end_to_end(
    shapes: Path, keras_detector: Path, bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exported = []

    def reuse_bundle(model_path: Path, directory: Path) -> Path:
        # The conversion itself ran once in the `bundle` fixture; reuse its output.
        exported.append(model_path)
        shutil.copytree(bundle, directory)
        return Path(directory)

    monkeypatch.setattr(evaluate, "export_fp32_bundle", reuse_bundle)
    result = evaluate_model(keras_detector, load_dataset(shapes), threads=1)
    assert exported == [keras_detector]
    report = result.to_json()
    assert list(report) == ["map50", "map50_95", "images", "per_class", "model",
                            "latency_ms_p50"]  # fmt: skip
    assert report["images"] == 8 and report["model"] == str(keras_detector)
    assert 0.0 <= report["map50"] <= 1.0 and 0.0 <= report["map50_95"] <= 1.0
    assert set(report["per_class"]) <= set(LABELS)
    for ap in report["per_class"].values():
        assert set(ap) == {"ap50", "ap50_95"} and 0.0 <= ap["ap50"] <= 1.0
    assert report["latency_ms_p50"] > 0
    json.dumps(report)


@pytest.mark.slow
def test_a_bare_tflite_without_labels_takes_the_dataset_order(
    shapes: Path, bundle: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="pisight.eval"):
        result = evaluate_model(bundle / "model.tflite", load_dataset(shapes))
    assert "assuming the dataset's class order" in caplog.text
    assert set(result.per_class) <= set(LABELS) and result.images == 8
