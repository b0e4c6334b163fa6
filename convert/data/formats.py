"""Readers for the three detection dataset layouts: Pascal VOC, COCO and YOLO.

Each reader turns one layout into plain `Annotation` records and validates nothing, so
`pisight.convert.data.datasets` can check boxes, labels and images the same way for all three:

    parsed = read_yolo(Path("data/shapes"))      # Parsed(labels=("circle", ...), annotations=...)
    parsed.annotations[0].boxes[0]                # RawBox("circle", 0.41, 0.22, 0.63, 0.50)

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

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
YOLO_NAME_FILES = ("data.yaml", "data.yml", "classes.txt", "obj.names")
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


def _relative(path: Path, root: Path) -> str:
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
    file = _relative(xml, root)
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
            names = ", ".join(_relative(p, path) for p in found) or "several json files"
            raise DatasetError(f"{path} holds {names}; pass the COCO json file itself")
    return found[0] if found else None


def read_coco(path: Path) -> Parsed:
    json_path = find_coco_json(path)
    if json_path is None:
        raise DatasetError(f"{path}: no COCO .json found; pass the annotation file itself")
    root = path if path.is_dir() else path.parent
    file = _relative(json_path, root)
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


# ---------------------------------------------------------------- YOLO


def yolo_names_file(path: Path) -> Path | None:
    return next((path / n for n in YOLO_NAME_FILES if (path / n).is_file()), None)


def is_yolo(path: Path) -> bool:
    return (
        path.is_dir()
        and yolo_names_file(path) is not None
        and (path / "images").is_dir()
        and (path / "labels").is_dir()
    )


def read_yolo(root: Path) -> Parsed:
    names_file = yolo_names_file(root)
    if names_file is None:
        raise DatasetError(f"{root}: no {' or '.join(YOLO_NAME_FILES)} with the class names")
    names = _yolo_names(names_file)
    image_dir, label_dir = root / "images", root / "labels"
    images = sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    label_of = {
        image: (label_dir / image.relative_to(image_dir)).with_suffix(".txt") for image in images
    }
    records = [_yolo_annotation(root, image, label_of[image], names) for image in images]
    # A label file with no image is a missing image; LabelImg keeps classes.txt in labels/.
    known = set(label_of.values())
    for label in sorted(label_dir.rglob("*.txt")):
        if label not in known and label.name != "classes.txt":
            image = (image_dir / label.relative_to(label_dir)).with_suffix(".jpg")
            records.append(Annotation(_relative(label, root), image))
    return Parsed(tuple(names), tuple(sorted(records, key=lambda record: record.file)))


def _yolo_names(names_file: Path) -> list[str]:
    text = names_file.read_text(encoding="utf-8")
    if names_file.suffix in (".yaml", ".yml"):
        names = parse_yaml_names(text)
        if names is None:
            raise DatasetError(f"{names_file.name} has no 'names:' list; add the class names")
        return names
    return [line.strip() for line in text.splitlines() if line.strip()]


def _yolo_annotation(root: Path, image: Path, label: Path, names: list[str]) -> Annotation:
    file = _relative(label, root)
    if not label.is_file():
        return Annotation(file, image, normalized=True)  # YOLO's way to say "no objects"
    boxes = []
    lines = label.read_text(encoding="utf-8", errors="replace").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            fields = [float(v) for v in line.split()]
        except ValueError:
            fields = []
        if not (len(fields) == 5 or (len(fields) >= 7 and len(fields) % 2 == 1)):
            return Annotation(file, image, error=f"line {number} is not 'class cx cy w h'")
        cls = int(fields[0])
        name = names[cls] if 0 <= cls < len(names) else f"class {cls}"
        boxes.append(RawBox(name, *_yolo_extent(fields[1:])))
    return Annotation(file, image, None, tuple(boxes), normalized=True)


def _yolo_extent(values: list[float]) -> tuple[float, float, float, float]:
    if len(values) == 4:
        cx, cy, w, h = values
        return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    # Segmentation exports list polygon points instead: their extent is the box.
    xs, ys = values[0::2], values[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def parse_yaml_names(text: str) -> list[str] | None:
    """`names:` from a data.yaml, without PyYAML: `[a, b]`, a `- a` block or a `0: a` block."""
    lines = [re.sub(r"\s+#.*$", "", line.rstrip()) for line in text.splitlines()]
    for index, line in enumerate(lines):
        match = re.match(r"^names\s*:\s*(.*)$", line)
        if not match:
            continue
        rest = match.group(1).strip()
        if rest.startswith(("[", "{")):
            # A flow list may run over several lines until its closing bracket.
            flow = " ".join([rest, *lines[index + 1 :]])
            inner = flow[1 : flow.index("]" if rest[0] == "[" else "}")]
            items = [_unquote(m.group(0)) for m in _FLOW_ITEM.finditer(inner)]
            return [_dict_value(item) for item in items] if rest[0] == "{" else items
        block = []
        for item in lines[index + 1 :]:
            if item.strip() and not item[:1].isspace() and not item.startswith("-"):
                break  # the next top-level key
            if item.strip():
                block.append(item.strip())
        return [_unquote(_dict_value(entry.removeprefix("-").strip())) for entry in block]
    return None


_FLOW_ITEM = re.compile(r"'[^']*'|\"[^\"]*\"|[^,\s][^,]*")


def _dict_value(entry: str) -> str:
    """`0: person` -> `person`; a plain list item is left as it is."""
    match = re.match(r"^\s*\d+\s*:\s*(.*)$", entry)
    return _unquote(match.group(1)) if match else entry


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value
