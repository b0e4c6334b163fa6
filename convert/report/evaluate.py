"""COCO-style mAP of a detector on a dataset, measured through the device's own Detector.

    result = evaluate_model("bundle/", load_dataset("data/val"), threads=2)
    result.map50, result.map50_95, result.per_class["circle"]["ap50"]
    json.dumps(result.to_json())            # `pisight eval --json` (docs/ARCHITECTURE.md)

    scores = coco_map(dataset, {0: detections_of_image_0, 1: ...})   # the pycocotools part

A .tflite, a bundle directory and a Keras detector (.keras/.h5 + its .json sidecar,
exported and converted to fp32 on the fly) all run through the same Detector: the same
preprocessing, the same TFLite_Detection_PostProcess, score threshold 0 and at most 100
detections per image, so an FP32 and an INT8 number are directly comparable.

Ground truth and detections become COCO dicts in memory: image id = sample index + 1,
category id = dataset label index + 1, boxes as [x, y, w, h] pixels. Detections are
matched to dataset classes by label name; a class the dataset lacks is ignored.
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from pisight.convert.data.datasets import Dataset
from pisight.device.model.bundle import locate_model, write_model_dir
from pisight.device.model.detections import Detections
from pisight.device.model.detector import Detector, DetectorOptions

log = logging.getLogger("pisight.eval")
KERAS_SUFFIXES = (".keras", ".h5")
MAX_DETECTIONS = 100  # COCO's own maxDets for the headline AP
# Our exported detectors take raw 0..255 pixels (ssd/model.py), which the bundle must say.
PIXEL_INPUT = {"format_version": 1, "task": "detection", "input": {"mean": 0.0, "std": 1.0}}


class DetectionsLike(Protocol):
    """What coco_map reads of a detection result (device Detections fits)."""

    xyxy: np.ndarray
    scores: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True)
class CocoScores:
    map50: float
    map50_95: float
    per_class: dict[str, dict[str, float]]
    """label -> {"ap50", "ap50_95"}, only for classes with ground truth."""


@dataclass(frozen=True)
class EvalResult:
    map50: float
    map50_95: float
    images: int
    per_class: dict[str, dict[str, float]]
    model: str
    latency_ms_p50: float | None

    def to_json(self) -> dict[str, Any]:
        """The stable `pisight eval --json` object."""
        return {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "images": self.images,
            "per_class": {
                label: {"ap50": ap["ap50"], "ap50_95": ap["ap50_95"]}
                for label, ap in self.per_class.items()
            },
            "model": self.model,
            "latency_ms_p50": self.latency_ms_p50,
        }


@dataclass(frozen=True)
class Predictions:
    """Detections per sample index, and the invoke time of every image."""

    detections: dict[int, Detections]
    inference_ms: list[float]


def coco_ground_truth(dataset: Dataset) -> dict[str, Any]:
    """The dataset as a COCO instances dict (what COCO(file) would read)."""
    images, annotations = [], []
    category = {label: index + 1 for index, label in enumerate(dataset.labels)}
    for index, sample in enumerate(dataset.samples):
        images.append(
            {"id": index + 1, "width": sample.width, "height": sample.height,
             "file_name": str(sample.image)}
        )  # fmt: skip
        for box in sample.boxes:
            width, height = box.x2 - box.x1, box.y2 - box.y1
            annotations.append(
                {"id": len(annotations) + 1, "image_id": index + 1,
                 "category_id": category[box.label], "bbox": [box.x1, box.y1, width, height],
                 "area": width * height, "iscrowd": 0}
            )  # fmt: skip
    categories = [{"id": i, "name": label} for label, i in category.items()]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_results(
    dataset: Dataset, predictions: Mapping[int, DetectionsLike]
) -> list[dict[str, Any]]:
    """Detections as a COCO results list; classes the dataset lacks are left out."""
    category = {label: index + 1 for index, label in enumerate(dataset.labels)}
    results, unknown = [], set()
    for index, detections in sorted(predictions.items()):
        for box, score, label in zip(
            detections.xyxy, detections.scores, detections.labels, strict=True
        ):
            if label not in category:
                unknown.add(label)
                continue
            x1, y1, x2, y2 = (float(v) for v in box)
            results.append(
                {"image_id": index + 1, "category_id": category[label],
                 "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(score)}
            )  # fmt: skip
    if unknown:
        log.warning(
            "ignored detections of classes the dataset lacks: %s", ", ".join(sorted(unknown))
        )
    return results


def coco_map(gt: Dataset, predictions: Mapping[int, DetectionsLike]) -> CocoScores:
    """mAP@0.5, mAP@[.5:.95] and per-class AP of predictions keyed by sample index."""
    ground_truth = coco_ground_truth(gt)
    results = coco_results(gt, predictions)
    with_boxes = {a["category_id"] for a in ground_truth["annotations"]}
    if not results:  # pycocotools cannot load an empty result list: every AP is 0
        zero = {"ap50": 0.0, "ap50_95": 0.0}
        return CocoScores(
            0.0, 0.0, {c["name"]: dict(zero) for c in ground_truth["categories"]
                       if c["id"] in with_boxes}
        )  # fmt: skip
    evaluation = _run_cocoeval(ground_truth, results)
    return CocoScores(
        float(evaluation.stats[1]), float(evaluation.stats[0]), _per_class(evaluation, gt.labels)
    )


def _run_cocoeval(ground_truth: dict[str, Any], results: list[dict[str, Any]]) -> COCOeval:
    # pycocotools prints progress and the 12-line summary; the caller reports instead.
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = ground_truth
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(r) for r in results])
        evaluation = COCOeval(coco_gt, coco_dt, iouType="bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation


def _per_class(evaluation: COCOeval, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    # precision: [iou thresholds, recall points, categories, area ranges, max dets];
    # -1 marks a category without ground truth, which COCO's own means skip too.
    precision = evaluation.eval["precision"][:, :, :, 0, -1]
    per_class = {}
    for k, category_id in enumerate(evaluation.params.catIds):
        all_ious = precision[:, :, k]
        if not (all_ious > -1).any():
            continue
        at_50 = precision[0, :, k]
        per_class[labels[category_id - 1]] = {
            "ap50": float(at_50[at_50 > -1].mean()),
            "ap50_95": float(all_ious[all_ious > -1].mean()),
        }
    return per_class


def predict_dataset(detector: Detector, dataset: Dataset) -> Predictions:
    """Run every sample through prepare -> infer -> decode, timing infer."""
    detections, inference_ms = {}, []
    for index, sample in enumerate(dataset.samples):
        image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f"cannot read image {sample.image}")
        raw = detector.infer(detector.prepare(image))
        inference_ms.append(raw.inference_ms)
        detections[index] = detector.decode(raw, image.shape[1], image.shape[0])
    return Predictions(detections, inference_ms)


def evaluate_model(model: str | Path, dataset: Dataset, threads: int | None = None) -> EvalResult:
    """mAP of a .tflite, a bundle directory or a Keras detector on `dataset`."""
    with detector_for(model, dataset, threads) as detector:
        predictions = predict_dataset(detector, dataset)
    scores = coco_map(dataset, predictions.detections)
    latency = float(np.percentile(predictions.inference_ms, 50)) if dataset.samples else None
    return EvalResult(
        scores.map50, scores.map50_95, len(dataset.samples), scores.per_class, str(model), latency
    )


@contextlib.contextmanager
def detector_for(
    model: str | Path, dataset: Dataset, threads: int | None = None
) -> Iterator[Detector]:
    """The evaluation Detector; a Keras model lives as an fp32 bundle in a temp dir."""
    model = Path(model)
    with tempfile.TemporaryDirectory(prefix="pisight-eval-") as scratch:
        if model.suffix in KERAS_SUFFIXES:
            model = export_fp32_bundle(model, Path(scratch) / "bundle")
        labels = None
        if locate_model(model).labels is None:
            log.warning("%s has no labels; assuming the dataset's class order", model)
            labels = Path(scratch) / "labels.txt"
            labels.write_text("\n".join(dataset.labels) + "\n", encoding="utf-8")
        options = DetectorOptions(
            model=model, labels=labels, threads=threads,
            score_threshold=0.0, max_detections=MAX_DETECTIONS,
        )  # fmt: skip
        yield Detector.load(options)


def export_fp32_bundle(model_path: str | Path, directory: str | Path) -> Path:
    """A Keras detector -> a minimal fp32 bundle (model.tflite, labels.txt, pisight.json)."""
    # Imported here: TensorFlow takes seconds to load and .tflite evaluation needs none of it.
    from pisight.convert.conversion.quantize import QuantizeOptions, convert_saved_model
    from pisight.convert.ssd.export import export_saved_model
    from pisight.convert.ssd.model import load_detector

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    keras_model, config = load_detector(model_path)
    saved = export_saved_model(keras_model, config, directory / "saved_model")
    model = convert_saved_model(saved, QuantizeOptions(mode="fp32"))
    return write_model_dir(directory, model, config.labels, PIXEL_INPUT)
