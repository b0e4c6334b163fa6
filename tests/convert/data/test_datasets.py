"""Datasets in the three layouts, written here with tiny images: loading, checks, detection."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.convert.data.datasets import FORMATS, Box, Dataset, Sample, detect_format, load_dataset
from pisight.convert.data.formats import DatasetError

WIDTH, HEIGHT = 64, 48
CATEGORY_IDS = {"cat": 1, "dog": 2}  # COCO ids; anything else is written as id 99


@dataclass
class Entry:
    """One image and what its annotation says, in pixel edges; written per format."""

    name: str
    boxes: list[tuple[str, float, float, float, float]]
    write_image: bool = True
    broken_file: bool = False  # VOC: empty file; COCO: an annotation with no bbox; YOLO: garbage
    declared: tuple[int, int] | None = None  # the size the annotation claims, if not the real one


GOOD = [
    Entry("a", [("cat", 4, 4, 20, 30)]),
    Entry("b", [("dog", 10, 5, 60, 40), ("cat", 0, 0, 64, 48)]),
    Entry("c", [("dog", 30, 10, 50, 20)]),
]
BROKEN = [
    Entry("d_outside", [("cat", 4, 4, 700, 30), ("dog", 1, 1, 10, 10)]),
    Entry("e_unknown", [("bird", 4, 4, 20, 20), ("cat", 4, 4, 20, 20)]),
    Entry("f_missing", [("cat", 1, 1, 5, 5)], write_image=False),
    Entry("g_broken", [("cat", 1, 1, 5, 5)], broken_file=True),
    Entry("h_degenerate", [("dog", 30, 10, 20, 20)]),
]
SIZE_MISMATCH = Entry("i_size", [("cat", 1, 1, 5, 5)], declared=(100, 80))


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((HEIGHT, WIDTH, 3), 127, np.uint8))


def write_voc(root: Path, entries: list[Entry]) -> Path:
    (root / "Annotations").mkdir(parents=True)
    for entry in entries:
        if entry.write_image:
            _image(root / "JPEGImages" / f"{entry.name}.jpg")
        xml = root / "Annotations" / f"{entry.name}.xml"
        if entry.broken_file:
            xml.write_text("")
            continue
        width, height = entry.declared or (WIDTH, HEIGHT)
        objects = "".join(
            f"<object><name>{label}</name><bndbox><xmin>{x1 + 1:g}</xmin><ymin>{y1 + 1:g}</ymin>"
            f"<xmax>{x2:g}</xmax><ymax>{y2:g}</ymax></bndbox></object>"
            for label, x1, y1, x2, y2 in entry.boxes
        )
        xml.write_text(
            f"<annotation><filename>{entry.name}.jpg</filename><size><width>{width}</width>"
            f"<height>{height}</height><depth>3</depth></size>{objects}</annotation>"
        )
    return root


def write_coco(root: Path, entries: list[Entry]) -> Path:
    images, annotations = [], []
    for image_id, entry in enumerate(entries, start=1):
        if entry.write_image:
            _image(root / "images" / f"{entry.name}.jpg")
        width, height = entry.declared or (WIDTH, HEIGHT)
        images.append(
            {"id": image_id, "file_name": f"{entry.name}.jpg", "width": width, "height": height}
        )
        for label, x1, y1, x2, y2 in entry.boxes:
            ann = {"id": len(annotations) + 1, "image_id": image_id, "iscrowd": 0}
            ann["category_id"] = CATEGORY_IDS.get(label, 99)
            if not entry.broken_file:
                ann["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            annotations.append(ann)
    categories = [{"id": i, "name": n} for n, i in sorted(CATEGORY_IDS.items(), reverse=True)]
    data = {"images": images, "annotations": annotations, "categories": categories}
    root.mkdir(parents=True, exist_ok=True)
    (root / "annotations.json").write_text(json.dumps(data))
    return root


def write_yolo(root: Path, entries: list[Entry], names_file: str = "data.yaml") -> Path:
    (root / "labels").mkdir(parents=True)
    if names_file == "data.yaml":
        (root / "data.yaml").write_text("path: .\ntrain: images\nnc: 2\nnames: [cat, dog]\n")
    else:
        (root / names_file).write_text("cat\ndog\n")
    for entry in entries:
        image = root / "images" / f"{entry.name}.jpg"
        if entry.write_image:
            _image(image)
        else:
            image.parent.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{['cat', 'dog'].index(label) if label in ('cat', 'dog') else 7} "
            f"{(x1 + x2) / 2 / WIDTH:.6f} {(y1 + y2) / 2 / HEIGHT:.6f} "
            f"{(x2 - x1) / WIDTH:.6f} {(y2 - y1) / HEIGHT:.6f}"
            for label, x1, y1, x2, y2 in entry.boxes
        ]
        text = "0 0.5 oops\n" if entry.broken_file else "\n".join(lines) + "\n"
        (root / "labels" / f"{entry.name}.txt").write_text(text)
    return root


WRITERS = {"voc": write_voc, "coco": write_coco, "yolo": write_yolo}
FILES = {"voc": "Annotations/{}.xml", "coco": "annotations.json", "yolo": "labels/{}.txt"}


@pytest.mark.parametrize("layout", ["voc", "coco", "yolo", "yolo-classes.txt", "yolo-obj.names"])
def test_good_dataset_loads_with_exact_boxes(tmp_path: Path, layout: str) -> None:
    fmt, _, names_file = layout.partition("-")
    writer = WRITERS[fmt]
    root = writer(tmp_path / "d", GOOD, names_file) if names_file else writer(tmp_path / "d", GOOD)
    dataset = load_dataset(root)
    assert (dataset.format, detect_format(root)) == (fmt, fmt)
    assert dataset.problems == ()
    assert [s.image.name for s in dataset.samples] == ["a.jpg", "b.jpg", "c.jpg"]
    assert (dataset.samples[0].width, dataset.samples[0].height) == (WIDTH, HEIGHT)
    expected = [[Box(*box[1:], box[0]) for box in entry.boxes] for entry in GOOD]
    for sample, boxes in zip(dataset.samples, expected, strict=True):
        for got, want in zip(sample.boxes, boxes, strict=True):
            assert got.label == want.label
            corners = [got.x1, got.y1, got.x2, got.y2]
            assert np.allclose(corners, [want.x1, want.y1, want.x2, want.y2], atol=1e-3)
    # VOC has no class list: sorted names found. COCO: category id order. YOLO: names order.
    assert dataset.labels == ("cat", "dog")


def _expected_problems(fmt: str) -> list[tuple[str, str]]:
    """(file, words in the message) for BROKEN + SIZE_MISMATCH, in loading order."""
    file = FILES[fmt].format
    problems = [
        (file("d_outside"), "box 1 (x2=700) is outside the 64x48 image"),
        (file("e_unknown"), "box 1 has unknown class"),
        (file("f_missing"), "f_missing.jpg not found"),
        (file("g_broken"), {"voc": "empty", "coco": "no bbox", "yolo": "line 1"}[fmt]),
        (file("h_degenerate"), "box 1 is degenerate"),
    ]
    if fmt != "yolo":  # YOLO states no image size
        problems.append((file("i_size"), "says the image is 100x80 but"))
    return problems


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_broken_annotations_are_listed_skipped_and_counted(tmp_path: Path, fmt: str) -> None:
    root = WRITERS[fmt](tmp_path / "d", [*GOOD, *BROKEN, SIZE_MISMATCH])
    dataset = load_dataset(root, labels=["cat", "dog"])
    expected = _expected_problems(fmt)
    assert len(dataset.problems) == len(expected)
    for problem, (file, words) in zip(dataset.problems, expected, strict=True):
        assert problem.file == file
        assert words in problem.message, problem.message
    kept = {s.image.stem: [b.label for b in s.boxes] for s in dataset.samples}
    # A bad box is dropped, its good neighbours kept; a bad file drops its whole sample.
    expected_kept = {
        "a": ["cat"], "b": ["dog", "cat"], "c": ["dog"],
        "d_outside": ["dog"], "e_unknown": ["cat"], "h_degenerate": [],
    }  # fmt: skip
    if fmt == "yolo":
        expected_kept["i_size"] = ["cat"]
    assert kept == expected_kept


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_strict_raises_on_the_first_problem_naming_its_file(tmp_path: Path, fmt: str) -> None:
    root = WRITERS[fmt](tmp_path / "d", GOOD + BROKEN)
    with pytest.raises(DatasetError, match=FILES[fmt].format("d_outside")):
        load_dataset(root, strict=True)


@pytest.mark.parametrize("fmt", ["voc", "coco", "yolo"])
def test_no_usable_sample_raises(tmp_path: Path, fmt: str) -> None:
    root = WRITERS[fmt](tmp_path / "d", [BROKEN[2], BROKEN[3], BROKEN[4]])
    with pytest.raises(DatasetError, match="no usable samples"):
        load_dataset(root)


def test_unknown_class_is_a_problem_only_against_a_label_list(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "d", [BROKEN[1]])
    assert load_dataset(root).labels == ("bird", "cat")
    restricted = load_dataset(root, labels=["cat"])
    assert restricted.labels == ("cat",)
    assert [p.message for p in restricted.problems] == ["box 1 has unknown class 'bird'"]


def test_one_pixel_overhang_is_pulled_in_more_is_a_problem(tmp_path: Path) -> None:
    root = write_voc(
        tmp_path / "d", [Entry("a", [("cat", -1, 0, 64.9, 48), ("cat", 0, 0, 66, 48)])]
    )
    dataset = load_dataset(root)
    assert dataset.samples[0].boxes == (Box(0, 0, 64, 48, "cat"),)
    assert "x2=66" in dataset.problems[0].message


def test_empty_or_foreign_coco_json_raises(tmp_path: Path) -> None:
    (tmp_path / "annotations.json").write_text("")
    with pytest.raises(DatasetError, match="empty or not JSON"):
        load_dataset(tmp_path / "annotations.json")
    (tmp_path / "annotations.json").write_text('{"images": []}')
    with pytest.raises(DatasetError, match="not a COCO detection file"):
        load_dataset(tmp_path)


def test_coco_by_file_or_directory_and_orphan_annotations(tmp_path: Path) -> None:
    root = write_coco(tmp_path / "d", GOOD)
    data = json.loads((root / "annotations.json").read_text())
    data["annotations"].append({"id": 50, "image_id": 404, "category_id": 1, "bbox": [0, 0, 1, 1]})
    (root / "annotations.json").write_text(json.dumps(data))
    for path in (root, root / "annotations.json"):
        dataset = load_dataset(path)
        assert (detect_format(path), len(dataset.samples)) == ("coco", 3)
        assert [p.message for p in dataset.problems] == [
            "annotation 50 refers to image 404, not in 'images'"
        ]


def test_yolo_label_file_without_image_and_image_without_labels(tmp_path: Path) -> None:
    root = write_yolo(tmp_path / "d", [*GOOD, BROKEN[2]])
    _image(root / "images" / "negative.jpg")  # no label file: an image with no objects
    dataset = load_dataset(root)
    assert [(p.file, p.message) for p in dataset.problems] == [
        ("labels/f_missing.txt", "image images/f_missing.jpg not found")
    ]
    assert dataset.samples[-1].image.name == "negative.jpg"
    assert dataset.samples[-1].boxes == ()


def test_detection_failure_lists_what_was_looked_for(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"VOC \(Annotations.*COCO.*YOLO \(data\.yaml"):
        detect_format(tmp_path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nope")


def test_unknown_format_name_lists_the_valid_ones(tmp_path: Path) -> None:
    root = write_voc(tmp_path / "d", GOOD)
    assert set(FORMATS) == {"voc", "coco", "yolo"}
    with pytest.raises(DatasetError, match="voc, coco, yolo"):
        load_dataset(root, format="pascal")


def _dataset(count: int) -> Dataset:
    samples = tuple(Sample(Path(f"{i}.jpg"), 8, 8, ()) for i in range(count))
    return Dataset(Path("."), "voc", ("cat",), samples, ())


def test_split_is_deterministic_disjoint_and_complete() -> None:
    dataset = _dataset(50)
    train, val = dataset.split(0.8, seed=3)
    assert (len(train.samples), len(val.samples)) == (40, 10)
    assert not set(train.samples) & set(val.samples)
    assert set(train.samples) | set(val.samples) == set(dataset.samples)
    assert dataset.split(0.8, seed=3) == (train, val)
    assert dataset.split(0.8, seed=4)[1] != val
    assert train.labels == dataset.labels and train.format == "voc"
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        dataset.split(1.5, seed=0)
