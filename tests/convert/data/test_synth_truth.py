"""A synthetic video's truth: read back as values, exported to MOTChallenge and parsed back."""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest

from pisight.convert.data.synth_truth import TruthFrame, read_truth, write_mot
from pisight.convert.data.synth_video import generate_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("truth")
    return generate_video(root / "clip.avi", 30, 1, (160, 120), scenario="occlusion")


def test_read_truth_is_the_json(clip: Path) -> None:
    raw = json.loads(clip.with_suffix(".json").read_text())
    truth = read_truth(clip.with_suffix(".json"))
    assert [frame.to_json() for frame in truth] == raw
    box = raw[0]["boxes"][0]
    assert list(box) == ["label", "box", "object"]  # the old keys first, as before
    assert list(raw[0]["objects"][0]) == ["object", "label", "center", "box", "visible"]


def test_mot_parses_back_to_the_same_boxes(clip: Path, tmp_path: Path) -> None:
    truth = read_truth(clip.with_suffix(".json"))
    sequence = write_mot(truth, tmp_path / "mot", "clip", (160, 120), 30)
    assert sequence == tmp_path / "mot" / "clip"
    parsed, visibility = {}, {}
    for line in (sequence / "gt" / "gt.txt").read_text().splitlines():
        frame, number, left, top, width, height, conf, cls = map(int, line.split(",")[:8])
        assert frame >= 1 and (conf, cls) == (1, 1)
        parsed[frame - 1, number] = (left, top, left + width, top + height)
        visibility[frame - 1, number] = float(line.split(",")[8])
    assert parsed == {(f.frame, b.object_id): b.box for f in truth for b in f.boxes}
    assert min(frame for frame, _ in parsed) == 0  # frame 0 of the json is MOT frame 1
    assert visibility == {(f.frame, o.object_id): o.visible for f in truth for o in f.objects
                          if (f.frame, o.object_id) in parsed}  # fmt: skip
    info = configparser.ConfigParser()
    info.optionxform = str  # type: ignore[assignment,method-assign]  # keep camelCase keys
    info.read(sequence / "seqinfo.ini")
    assert dict(info["Sequence"]) == {
        "name": "clip",
        "imDir": "img1",
        "frameRate": "30",
        "seqLength": "30",
        "imWidth": "160",
        "imHeight": "120",
        "imExt": ".jpg",
    }


def test_truth_without_ids_is_refused_with_the_fix(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps([{"frame": 0, "boxes": [{"label": "circle", "box": [1, 2, 3, 4]}]}]))
    with pytest.raises(ValueError, match="write it again with pisight synth --video"):
        read_truth(old)


@pytest.mark.parametrize(
    ("name", "frames", "message"),
    [("a/b", [0], "plain file name"), ("", [0], "plain file name"), ("c", [1], "frames 0, 1")],
)
def test_write_mot_bad_arguments(
    tmp_path: Path, name: str, frames: list[int], message: str
) -> None:
    truth = [TruthFrame(frame, (), ()) for frame in frames]
    with pytest.raises(ValueError, match=message):
        write_mot(truth, tmp_path, name, (160, 120), 30)
