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
