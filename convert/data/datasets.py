"""Detection datasets in Pascal VOC, COCO or YOLO layout, auto-detected and checked.

    dataset = load_dataset("data/VOC2012")                  # or a COCO .json, or a YOLO dir
    print(dataset.format, dataset.labels, len(dataset.samples))
    for problem in dataset.problems:                        # what was skipped, and where
        print(problem.file, problem.message)
    train, val = dataset.split(0.8, seed=0)

Every box is in pixels of its image, as pixel edges: (0, 0, width, height) covers it all.
A broken annotation (a box outside the image, a degenerate box, an unknown class, a
missing or unreadable image, an empty or unparseable file, a stated image size that
disagrees with the image) is skipped and listed in `problems`; `strict=True` raises
DatasetError on the first one instead. No usable sample at all always raises.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pisight.convert.data.formats import (
    Annotation,
    DatasetError,
    Parsed,
    RawBox,
    find_coco_json,
    is_voc,
    read_coco,
    read_voc,
    relative_name,
)
from pisight.convert.data.images import image_size
from pisight.convert.data.yolo import is_yolo, read_yolo

FORMATS: dict[str, Callable[[Path], Parsed]] = {
    "voc": read_voc,
    "coco": read_coco,
    "yolo": read_yolo,
}
# Labelling tools round edges either way: a box may overhang the image by this much.
SLACK_PX = 1.0


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str


@dataclass(frozen=True)
class Sample:
    image: Path
    width: int
    height: int
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Problem:
    file: str
    """The annotation file to fix, relative to the dataset root."""
    message: str


@dataclass(frozen=True)
class Dataset:
    root: Path
    format: str
    labels: tuple[str, ...]
    samples: tuple[Sample, ...]
    problems: tuple[Problem, ...]
    """What loading skipped; both halves of a split keep the whole list."""

    def split(self, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
        """A random `fraction` of the samples and the rest, the same for the same seed."""
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"split fraction must be within 0..1, got {fraction}")
        order = np.random.default_rng(seed).permutation(len(self.samples))
        cut = round(fraction * len(self.samples))
        first = set(order[:cut].tolist())
        # Each half keeps the dataset's own order, so its files read in a stable sequence.
        chosen = tuple(s for i, s in enumerate(self.samples) if i in first)
        rest = tuple(s for i, s in enumerate(self.samples) if i not in first)
        return replace(self, samples=chosen), replace(self, samples=rest)


def reader(name: str) -> Callable[[Path], Parsed]:
    """The reader for a format name; an unknown name lists the valid ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise DatasetError(
            f"unknown dataset format {name!r}; choose one of {', '.join(FORMATS)}"
        ) from None


def detect_format(path: str | Path) -> str:
    """'voc', 'coco' or 'yolo' from what `path` holds."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path} does not exist; pass a dataset directory or COCO .json")
    if is_voc(path):
        return "voc"
    if is_yolo(path):
        return "yolo"
    if find_coco_json(path) is not None:
        return "coco"
    raise DatasetError(
        f"{path}: no dataset found; looked for VOC (Annotations/*.xml + JPEGImages/), "
        "COCO (a .json with images/annotations/categories, or a directory holding one) "
        "and YOLO (data.yaml or classes.txt/obj.names beside images/ and labels/)"
    )


def load_dataset(
    path: str | Path,
    strict: bool = False,
    labels: Sequence[str] | None = None,
    format: str | None = None,
) -> Dataset:
    """Read and check a dataset; `labels` restricts and orders the classes."""
    path = Path(path)
    name = format or detect_format(path)
    parsed = reader(name)(path)
    root = path if path.is_dir() else path.parent
    given = _given_labels(labels)
    known = given or parsed.labels
    allowed = set(known) if known else None  # VOC without a label list: any name is a class
    problems = _Problems(strict)
    samples = []
    for annotation in parsed.annotations:
        sample = _sample(annotation, root, allowed, problems)
        if sample is not None:
            samples.append(sample)
    if not any(sample.boxes for sample in samples):
        first = f"; first problem: {problems[0].file}: {problems[0].message}" if problems else ""
        raise DatasetError(
            f"{path}: no usable samples with boxes ({len(problems)} problems{first}); "
            "fix the annotations or point at another dataset"
        )
    found = tuple(sorted({box.label for sample in samples for box in sample.boxes}))
    return Dataset(root, name, known or found, tuple(samples), tuple(problems))


def _given_labels(labels: Sequence[str] | None) -> tuple[str, ...] | None:
    if labels is None:
        return None
    labels = tuple(labels)
    if not labels or len(set(labels)) != len(labels):
        raise DatasetError(f"labels must be a non-empty list of unique names, got {labels}")
    return labels


class _Problems(list[Problem]):
    """Collects problems, or raises on the first one when strict."""

    def __init__(self, strict: bool) -> None:
        super().__init__()
        self.strict = strict

    def add(self, file: str, message: str) -> None:
        if self.strict:
            raise DatasetError(f"{file}: {message} (fix it, or load without strict to skip it)")
        self.append(Problem(file, message))


def _sample(
    annotation: Annotation, root: Path, known: set[str] | None, problems: _Problems
) -> Sample | None:
    """The checked sample, or None (and a problem) when the whole annotation is unusable."""
    size, reason = _checked_size(annotation, root)
    if size is None:
        problems.add(annotation.file, reason)
        return None
    boxes = []
    for index, raw in enumerate(annotation.boxes, start=1):
        box = _to_pixels(raw, size) if annotation.normalized else _to_box(raw)
        reason = _box_problem(box, size, known)
        if reason:
            problems.add(annotation.file, f"box {index} {reason}")
        else:
            boxes.append(_clamp(box, size))
    return Sample(annotation.image, size[0], size[1], tuple(boxes))


def _checked_size(annotation: Annotation, root: Path) -> tuple[tuple[int, int] | None, str]:
    """The image's actual size, or None and why the annotation cannot be used."""
    image = annotation.image
    shown = relative_name(image, root)
    if annotation.error:
        return None, annotation.error
    if not image.is_file():
        return None, f"image {shown} not found"
    size = image_size(image)
    if size is None:
        return None, f"image {shown} cannot be read"
    if annotation.size is not None and annotation.size != size:
        stated, actual = "x".join(map(str, annotation.size)), "x".join(map(str, size))
        return None, f"says the image is {stated} but {shown} is {actual}"
    return size, ""


def _to_box(raw: RawBox) -> Box:
    return Box(raw.x1, raw.y1, raw.x2, raw.y2, raw.label)


def _to_pixels(raw: RawBox, size: tuple[int, int]) -> Box:
    width, height = size
    return Box(raw.x1 * width, raw.y1 * height, raw.x2 * width, raw.y2 * height, raw.label)


def _box_problem(box: Box, size: tuple[int, int], known: set[str] | None) -> str | None:
    width, height = size
    if known is not None and box.label not in known:
        return f"has unknown class {box.label!r}"
    if box.x2 <= box.x1 or box.y2 <= box.y1:
        return f"is degenerate ({_coords(box)})"
    outside = [
        f"{name}={value:g}"
        for name, value, limit in (
            ("x1", box.x1, width), ("y1", box.y1, height),
            ("x2", box.x2, width), ("y2", box.y2, height),
        )
        if value < -SLACK_PX or value > limit + SLACK_PX
    ]  # fmt: skip
    if outside:
        return f"({', '.join(outside)}) is outside the {width}x{height} image"
    return None


def _coords(box: Box) -> str:
    return f"x1={box.x1:g}, y1={box.y1:g}, x2={box.x2:g}, y2={box.y2:g}"


def _clamp(box: Box, size: tuple[int, int]) -> Box:
    """Pull a box overhanging by at most SLACK_PX back onto the image."""
    width, height = size
    return Box(
        max(0.0, box.x1), max(0.0, box.y1), min(width, box.x2), min(height, box.y2), box.label
    )
