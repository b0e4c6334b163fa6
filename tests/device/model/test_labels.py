from __future__ import annotations

from pathlib import Path

import pytest

from pisight.device.model.labels import load_labels


@pytest.mark.parametrize(
    ("text", "offset", "names", "first"),
    [
        ("person\ncar\n\n", 0, ("person", "car"), "person"),
        ("???\nperson\ncar\n", 1, ("???", "person", "car"), "person"),
        ("background\nperson\n", 1, ("background", "person"), "person"),
        ("0 person\n2 car\n", 0, ("person", "???", "car"), "person"),
        ("1: person\n2: car\n", 1, ("???", "person", "car"), "person"),
    ],
)
def test_label_formats(tmp_path: Path, text: str, offset: int, names: tuple, first: str) -> None:
    path = tmp_path / "labels.txt"
    path.write_text(text)
    labels = load_labels(path)
    assert labels.names == names and labels.offset == offset
    assert labels.name(0) == first


def test_placeholder_and_out_of_range_names(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("person\n???\ncar\n")
    labels = load_labels(path)
    assert labels.name(1) == "class 1"
    assert labels.name(7) == "class 7"
    assert load_labels(path, offset=1).name(1) == "car"


def test_empty_label_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "labels.txt"
    path.write_text("\n\n")
    with pytest.raises(ValueError, match="empty"):
        load_labels(path)


def test_shipped_lists_resolve_by_name() -> None:
    from pisight.device.model.labels import label_file, shipped_labels

    assert set(shipped_labels()) == {"coco", "coco-tf1", "voc", "shapes"}
    coco = load_labels(label_file("coco"))
    assert (coco.count, coco.offset, coco.name(0), coco.name(79)) == (80, 0, "person", "toothbrush")
    tf1 = load_labels(label_file("coco-tf1"))
    # TF1 zoo models number COCO's 90 ids from 0, gaps kept: class 11 is the unused id 12.
    assert (tf1.offset, tf1.name(0), tf1.name(11), tf1.name(12)) == (
        1,
        "person",
        "class 11",
        "stop sign",
    )
    assert load_labels(label_file("voc")).count == 20
    assert load_labels(label_file("shapes")).names == ("circle", "square", "triangle")


def test_an_unknown_label_name_lists_the_shipped_ones(tmp_path: Path) -> None:
    from pisight.device.model.bundle import BundleError, locate_model
    from pisight.device.model.labels import label_file

    with pytest.raises(ValueError, match=r"coco, coco-tf1, shapes, voc"):
        label_file("cocoa")
    model = tmp_path / "m.tflite"
    model.write_bytes(b"TFL3")
    assert locate_model(model, "voc").labels == label_file("voc")
    with pytest.raises(BundleError, match="no such label file: nope"):
        locate_model(model, "nope")
