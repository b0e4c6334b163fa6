"""Readers for the Pascal VOC and COCO layouts, and the plain records every layout reader returns.

Each reader turns one layout into plain `Annotation` records and validates nothing, so
`pisight.convert.data.datasets` can check boxes, labels and images the same way for all
three (YOLO's reader is in yolo.py):

    parsed = read_voc(Path("data/shapes"))       # Parsed(labels=None, annotations=...)
    parsed.annotations[0].boxes[0]                # RawBox("circle", 131.0, 70.0, 202.0, 120.0)

A file that cannot be parsed becomes an `Annotation` carrying `error`; only a problem
that leaves nothing to read at all (a COCO json that is not JSON) raises DatasetError.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Names that mark a json as *the* COCO file when a directory holds several.
COCO_JSON_NAMES = re.compile(r"^(annotations\.json|instances_.*\.json|.*\.coco\.json)$")


class DatasetError(ValueError):
    """A dataset that cannot be used; the message names the problem and the fix."""


@dataclass(frozen=True)
class RawBox:
    """One box as its file states it: pixels, or fractions of the image for YOLO."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float


@dataclass(frozen=True)
class Annotation:
    """What one annotation file (or one COCO image entry) says about one image."""

    file: str
    """The file a user would fix, relative to the dataset root."""
    image: Path
    size: tuple[int, int] | None = None
    """(width, height) the annotation declares; None where the format has none."""
    boxes: tuple[RawBox, ...] = ()
    normalized: bool = False
    """YOLO coordinates are fractions of the image size."""
    error: str | None = None
    """Why the annotation could not be parsed; the sample is then unusable."""


@dataclass(frozen=True)
class Parsed:
    labels: tuple[str, ...] | None
    """The class list the layout defines; None where it defines none (VOC)."""
    annotations: tuple[Annotation, ...]


def relative_name(path: Path, root: Path) -> str:
    """`path` as a user finds it under the dataset root, or whole when it lies elsewhere."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _find_image(folders: list[Path], name: str) -> Path:
    """The first folder's `name` that exists, else the first candidate (reported missing)."""
    candidates = [folder / name for folder in folders]
    return next((path for path in candidates if path.is_file()), candidates[0])


# ---------------------------------------------------------------- Pascal VOC


def is_voc(path: Path) -> bool:
    return path.is_dir() and any((path / "Annotations").glob("*.xml"))


def read_voc(root: Path) -> Parsed:
    folders = [root / "JPEGImages", root / "images", root]
    xmls = sorted((root / "Annotations").glob("*.xml"))
    return Parsed(None, tuple(_voc_annotation(root, xml, folders) for xml in xmls))


def _voc_annotation(root: Path, xml: Path, folders: list[Path]) -> Annotation:
    file = relative_name(xml, root)
    fallback = _find_image(folders, f"{xml.stem}.jpg")
    if xml.stat().st_size == 0:
        return Annotation(file, fallback, error="empty annotation file")
    try:
        node = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        return Annotation(file, fallback, error=f"unparseable XML ({exc})")
    name = (node.findtext("filename") or "").strip()
    image = _find_image(folders, name) if name else fallback
    boxes = []
    for index, obj in enumerate(node.iter("object"), start=1):
        try:
            x1, y1, x2, y2 = (float(obj.findtext(f"bndbox/{k}") or "") for k in _VOC_KEYS)
        except ValueError:
            return Annotation(file, image, error=f"object {index} has no numeric bndbox")
        # VOC pixels are 1-based and inclusive; pisight boxes are pixel edges from 0.
        boxes.append(RawBox((obj.findtext("name") or "").strip(), x1 - 1, y1 - 1, x2, y2))
    return Annotation(file, image, _voc_size(node), tuple(boxes))


_VOC_KEYS = ("xmin", "ymin", "xmax", "ymax")


def _voc_size(node: ET.Element) -> tuple[int, int] | None:
    try:
        size = int(node.findtext("size/width") or ""), int(node.findtext("size/height") or "")
    except ValueError:
        return None
    # Some labelling tools write 0x0 when they never opened the image: no claim at all.
    return size if min(size) > 0 else None


# ---------------------------------------------------------------- COCO


def find_coco_json(path: Path) -> Path | None:
    """The COCO json that `path` is or holds (top level or annotations/), None if none."""
    if path.is_file():
        return path if path.suffix.lower() == ".json" else None
    found = sorted(path.glob("*.json")) + sorted(path.glob("annotations/*.json"))
    if len(found) > 1:
        found = [p for p in found if COCO_JSON_NAMES.match(p.name)]
        if len(found) != 1:
            names = ", ".join(relative_name(p, path) for p in found) or "several json files"
            raise DatasetError(f"{path} holds {names}; pass the COCO json file itself")
    return found[0] if found else None


def read_coco(path: Path) -> Parsed:
    json_path = find_coco_json(path)
    if json_path is None:
        raise DatasetError(f"{path}: no COCO .json found; pass the annotation file itself")
    root = path if path.is_dir() else path.parent
    file = relative_name(json_path, root)
    data = _load_coco_json(json_path, file)
    categories = sorted(data["categories"], key=lambda c: c["id"])
    names = {c["id"]: str(c["name"]) for c in categories}
    by_image: dict[Any, list[dict]] = {image["id"]: [] for image in data["images"]}
    orphans = []
    for ann in data["annotations"]:
        if ann.get("image_id") in by_image:
            by_image[ann["image_id"]].append(ann)
        else:
            orphans.append(
                Annotation(
                    file,
                    json_path,
                    error=f"annotation {ann.get('id')} "
                    f"refers to image {ann.get('image_id')}, not in 'images'",
                )
            )
    folders = _coco_image_folders(json_path)
    records = [
        _coco_annotation(file, image, by_image[image["id"]], names, folders)
        for image in data["images"]
    ]
    return Parsed(tuple(names.values()), tuple(records + orphans))


def _load_coco_json(json_path: Path, file: str) -> dict:
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{file} is empty or not JSON ({exc}); fix or re-export it") from exc
    missing = [
        k
        for k in ("images", "annotations", "categories")
        if not isinstance(data, dict) or not isinstance(data.get(k), list)
    ]
    if missing:
        raise DatasetError(f"{file} is not a COCO detection file: no {', '.join(missing)} list")
    return data


def _coco_image_folders(json_path: Path) -> list[Path]:
    here, parent = json_path.parent, json_path.parent.parent
    folders = [here, here / "images", parent / "images"]
    if json_path.stem.startswith("instances_"):  # COCO's own annotations/instances_val2017.json
        folders.append(parent / json_path.stem.removeprefix("instances_"))
    return folders


def _coco_annotation(
    file: str, image: dict, anns: list[dict], names: dict[Any, str], folders: list[Path]
) -> Annotation:
    path = _find_image(folders, str(image.get("file_name", "")))
    where = f"image {image['id']} ({image.get('file_name')})"
    try:
        size = int(image["width"]), int(image["height"])
    except (KeyError, TypeError, ValueError):
        size = None
    boxes = []
    for ann in anns:
        if ann.get("iscrowd"):
            continue  # crowd regions mark "many objects here", not one box to learn
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4):
            return Annotation(file, path, error=f"{where}: annotation {ann.get('id')} has no bbox")
        x, y, w, h = (float(v) for v in bbox)
        label = names.get(ann.get("category_id"), f"category {ann.get('category_id')}")
        boxes.append(RawBox(label, x, y, x + w, y + h))
    return Annotation(file, path, size, tuple(boxes))
