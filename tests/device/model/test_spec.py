"""The decoder on real converted models in every exporter's output order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pisight.device.model.detector import Detector, DetectorOptions
from pisight.device.model.runtime import make_interpreter
from pisight.device.model.spec import ModelError, inspect_model
from tests.models import (
    SSD_LABELS,
    build_classifier,
    build_unsupported,
    reorder_ssd_outputs,
)

FRAME = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def ssd_variants(model_dir: Path, ssd_int8: Path) -> dict[str, Path]:
    return {
        "signature": ssd_int8,
        "tf1": reorder_ssd_outputs(ssd_int8, model_dir / "ssd_tf1.tflite", "tf1"),
        "tf2": reorder_ssd_outputs(ssd_int8, model_dir / "ssd_tf2.tflite", "tf2"),
    }


def test_variants_really_differ_in_output_order(ssd_variants: dict[str, Path]) -> None:
    orders = {}
    for style, path in ssd_variants.items():
        interpreter, _ = make_interpreter(path)
        orders[style] = [tuple(d["shape"]) for d in interpreter.get_output_details()]
    assert orders["tf1"] != orders["tf2"]


@pytest.mark.parametrize(
    ("style", "found_by"),
    [
        ("signature", "signature names"),
        ("tf1", "post-processing op"),
        ("tf2", "post-processing op"),
    ],
)
def test_every_order_decodes_to_the_same_detections(
    ssd_variants: dict[str, Path], style: str, found_by: str
) -> None:
    reference = Detector.load(DetectorOptions(ssd_variants["signature"], score_threshold=0.0))
    detector = Detector.load(DetectorOptions(ssd_variants[style], score_threshold=0.0))
    assert detector.spec.outputs.found_by == found_by
    expected, got = reference.detect(FRAME), detector.detect(FRAME)
    assert len(got) > 0
    np.testing.assert_allclose(got.xyxy, expected.xyxy, atol=1e-4)
    np.testing.assert_allclose(got.scores, expected.scores, atol=1e-6)
    np.testing.assert_array_equal(got.class_ids, expected.class_ids)
    assert np.all(got.xyxy[:, [0, 2]] <= 640) and np.all(got.xyxy[:, [1, 3]] <= 480)


class _NoIntrospection:
    """An interpreter without signature or op details, as very old runtimes had."""

    def __init__(self, interpreter) -> None:
        self._interpreter = interpreter

    def __getattr__(self, name: str):
        if name in ("_get_full_signature_list", "_get_ops_details"):
            raise AttributeError(name)
        return getattr(self._interpreter, name)


@pytest.mark.parametrize("style", ["tf1", "tf2"])
def test_roles_from_tensor_names_then_values(ssd_variants: dict[str, Path], style: str) -> None:
    interpreter, _ = make_interpreter(ssd_variants[style])
    spec = inspect_model(_NoIntrospection(interpreter), {})
    expected = inspect_model(interpreter, {}).outputs.roles
    assert spec.outputs.roles == expected
    assert spec.outputs.found_by == ("tensor names" if style == "tf1" else "shapes and values")


def test_classifier_reports_top_k_without_boxes(model_dir: Path) -> None:
    path = build_classifier(model_dir / "classifier.tflite", classes=5)
    labels = model_dir / "classifier_labels.txt"
    labels.write_text("a\nb\nc\nd\ne\n")
    detector = Detector.load(DetectorOptions(path, labels=labels, top_k=3))
    detections = detector.detect(FRAME)
    assert detector.task == "classification"
    assert len(detections) == 3 and set(detections.labels) <= set("abcde")
    assert np.all(np.diff(detections.scores) <= 0)
    assert detections.to_json()[0]["box"] is None


def test_quantized_classifier_is_dequantized(model_dir: Path) -> None:
    path = build_classifier(model_dir / "classifier_q.tflite", classes=5, quantized=True)
    detections = Detector.load(DetectorOptions(path, top_k=5)).detect(FRAME)
    assert len(detections) == 5
    assert abs(float(detections.scores.sum()) - 1.0) < 0.05


def test_unsupported_model_lists_output_shapes(model_dir: Path) -> None:
    path = build_unsupported(model_dir / "unsupported.tflite")
    with pytest.raises(ModelError, match=r"unsupported model outputs \[.*\(1, 3\) float32"):
        Detector.load(DetectorOptions(path))


def test_bundle_labels_and_metadata(ssd_bundle: Path) -> None:
    detector = Detector.load(DetectorOptions(ssd_bundle, score_threshold=0.0))
    assert detector.spec.input.dtype == "int8"
    assert detector.labels.names == SSD_LABELS
    assert set(detector.detect(FRAME).labels) <= set(SSD_LABELS)


def test_class_filter_and_max_detections(ssd_bundle: Path) -> None:
    options = DetectorOptions(
        ssd_bundle, score_threshold=0.0, classes=("square",), max_detections=2
    )
    detections = Detector.load(options).detect(FRAME)
    assert len(detections) <= 2 and set(detections.labels) <= {"square"}
