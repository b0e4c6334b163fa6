"""Label files: one name per line, as every TFLite model zoo ships them.

    labels = load_labels("labels.txt")           # Labels(names=(...), offset=0)
    labels.name(3)                                # "car"
    label_file("coco")                            # the shipped labels/coco.txt

Shipped lists (`labels/` in the repository, `pisight.labels` installed): coco (80 names),
coco-tf1 (the 91-line list with `???` gaps TF1 zoo models use), voc (Pascal VOC's 20),
shapes (the demo detector's 3).

Handled: blank trailing lines, `???` placeholder lines (kept so ids stay aligned),
a leading `???` or `background` line (TF1 SSD zoo files: model class 0 is the first
real class, so such a file is read with offset 1), and `ID NAME` lines (`0 person`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PLACEHOLDER = "???"
_ID_NAME = re.compile(r"^\s*(\d+)[\s:,]+(.+?)\s*$")


@dataclass(frozen=True)
class Labels:
    """names[i] is the name of model class i + offset."""

    names: tuple[str, ...]
    offset: int = 0

    def name(self, class_id: int) -> str:
        index = class_id + self.offset
        if 0 <= index < len(self.names) and self.names[index] != PLACEHOLDER:
            return self.names[index]
        return f"class {class_id}"

    @property
    def count(self) -> int:
        """Number of real classes the file names."""
        return len(self.names) - self.offset


def shipped_labels() -> dict[str, Path]:
    """Name -> file of every label list pisight ships."""
    # By name, not import: model/ stays a leaf, and labels/ is only data.
    folder = resources.files("pisight.labels")
    return {
        Path(entry.name).stem: Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".txt")
    }


def label_file(spec: str | Path) -> Path:
    """A label file's path from a path or a shipped list's name (`coco`, `voc`, ...)."""
    path = Path(spec)
    if path.is_file():
        return path
    shipped = shipped_labels()
    if str(spec) in shipped:
        return shipped[str(spec)]
    names = ", ".join(sorted(shipped))
    raise ValueError(f"no such label file: {spec}; give a file or a shipped list ({names})")


def load_labels(path: str | Path, offset: int | None = None) -> Labels:
    """Read a label file; offset=None guesses it from a leading placeholder line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"label file {path} is empty; put one class name per line")
    matches = [_ID_NAME.match(line) for line in lines]
    if all(matches):
        names = _names_from_ids([(int(m.group(1)), m.group(2)) for m in matches if m])
    else:
        names = tuple(line.strip() or PLACEHOLDER for line in lines)
    if offset is None:
        offset = 1 if names[0].lower() in (PLACEHOLDER, "background", "__background__") else 0
    return Labels(names, offset)


def _names_from_ids(pairs: list[tuple[int, str]]) -> tuple[str, ...]:
    """`ID NAME` files may skip ids (COCO's 90-id map); gaps become placeholders."""
    names = [PLACEHOLDER] * (max(i for i, _ in pairs) + 1)
    for class_id, name in pairs:
        names[class_id] = name
    return tuple(names)


def numbered_labels(count: int) -> Labels:
    """Stand-in names when no label file is given."""
    return Labels(tuple(f"class {i}" for i in range(count)))
