from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pisight.device.model.bundle import BundleError, locate_model


def test_bundle_directory(ssd_bundle: Path) -> None:
    files = locate_model(ssd_bundle)
    assert files.model == ssd_bundle / "model.tflite"
    assert files.labels == ssd_bundle / "labels.txt"
    assert files.metadata == json.loads((ssd_bundle / "pisight.json").read_text())
    assert files.metadata["task"] == "detection"


def test_explicit_labels_win_in_a_bundle(ssd_bundle: Path, tmp_path: Path) -> None:
    labels = tmp_path / "other.txt"
    labels.write_text("a\nb\n")
    assert locate_model(ssd_bundle, labels=labels).labels == labels


def test_bundle_without_labels_or_metadata(ssd_int8: Path, tmp_path: Path) -> None:
    shutil.copy(ssd_int8, tmp_path / "model.tflite")
    files = locate_model(tmp_path)
    assert files.labels is None and files.metadata == {}
    assert files.name == tmp_path.name


@pytest.mark.parametrize("with_labels", [True, False])
def test_bare_tflite(ssd_int8: Path, tmp_path: Path, with_labels: bool) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("circle\nsquare\ntriangle\n")
    files = locate_model(ssd_int8, labels=labels if with_labels else None)
    assert files.model == ssd_int8
    assert files.labels == (labels if with_labels else None)
    assert files.metadata == {}


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "absent.tflite", "no such model.*bundle directory or a .tflite"),
        (lambda d: d, "has no model.tflite"),
    ],
    ids=["missing-file", "dir-without-model"],
)
def test_missing_model(tmp_path: Path, make, match: str) -> None:
    with pytest.raises(BundleError, match=match):
        locate_model(make(tmp_path))


@pytest.mark.parametrize("model", ["bare", "bundle"])
def test_missing_label_file(ssd_int8: Path, ssd_bundle: Path, tmp_path: Path, model: str) -> None:
    with pytest.raises(BundleError, match="no such label file"):
        locate_model(ssd_int8 if model == "bare" else ssd_bundle, labels=tmp_path / "absent.txt")


@pytest.mark.parametrize(("text", "match"), [("{not json", "not valid JSON"), ("[1, 2]", "object")])
def test_invalid_metadata(ssd_int8: Path, tmp_path: Path, text: str, match: str) -> None:
    shutil.copy(ssd_int8, tmp_path / "model.tflite")
    (tmp_path / "pisight.json").write_text(text)
    with pytest.raises(BundleError, match=match) as info:
        locate_model(tmp_path)
    assert "rebuild the bundle" in str(info.value)
