"""The YOLO layout reader (images/, labels/ and a class-name file), with data.yaml `names:` parsing.

    parsed = read_yolo(Path("data/shapes-yolo")) # Parsed(labels=("circle", ...), annotations=...)
    parsed.annotations[0].boxes[0]                # RawBox("circle", 0.41, 0.22, 0.63, 0.50)

Like the other readers (formats.py) it validates nothing: coordinates stay fractions of
the image (`normalized`), and an unparseable label file becomes an `Annotation` with
`error`.
"""

from __future__ import annotations

import re
from pathlib import Path

from pisight.convert.data.formats import (
    Annotation,
    DatasetError,
    Parsed,
    RawBox,
    relative_name,
)
from pisight.device.sources.files import IMAGE_EXTENSIONS

YOLO_NAME_FILES = ("data.yaml", "data.yml", "classes.txt", "obj.names")


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
    images = sorted(p for p in image_dir.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    label_of = {
        image: (label_dir / image.relative_to(image_dir)).with_suffix(".txt") for image in images
    }
    records = [_yolo_annotation(root, image, label_of[image], names) for image in images]
    # A label file with no image is a missing image; LabelImg keeps classes.txt in labels/.
    known = set(label_of.values())
    for label in sorted(label_dir.rglob("*.txt")):
        if label not in known and label.name != "classes.txt":
            image = (image_dir / label.relative_to(label_dir)).with_suffix(".jpg")
            records.append(Annotation(relative_name(label, root), image))
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
    file = relative_name(label, root)
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
