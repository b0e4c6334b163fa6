"""The synthetic shapes dataset and video: deterministic, well-formed, atomic."""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from pisight.convert.cli import synth as cli_synth
from pisight.convert.data import synth, synth_video
from pisight.convert.data.datasets import load_dataset
from pisight.convert.data.synth import generate_dataset
from pisight.convert.data.synth_scene import LABELS
from pisight.convert.data.synth_video import generate_video


def _digest(root: Path) -> str:
    """One hash over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def hundred(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "shapes"
    generate_dataset(out, images=100, seed=0)
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = _digest(generate_dataset(tmp_path / "a", images=8, seed=5).root)
    again = _digest(generate_dataset(tmp_path / "b", images=8, seed=5).root)
    other = _digest(generate_dataset(tmp_path / "c", images=8, seed=6).root)
    assert first == again != other


def test_an_image_does_not_depend_on_the_image_count(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "few", images=3, seed=1)
    generate_dataset(tmp_path / "more", images=6, seed=1)
    name = "JPEGImages/000002.jpg"
    assert (tmp_path / "few" / name).read_bytes() == (tmp_path / "more" / name).read_bytes()


def test_layout_and_clean_load(hundred: Path) -> None:
    assert (hundred / "labels.txt").read_text().split() == list(LABELS)
    ids = (hundred / "ImageSets" / "Main" / "all.txt").read_text().split()
    assert ids == [f"{i:06d}" for i in range(100)]
    dataset = load_dataset(hundred)
    assert (dataset.format, dataset.labels, dataset.problems) == ("voc", LABELS, ())
    assert len(dataset.samples) == 100


def test_boxes_are_inside_sized_and_every_class_appears(hundred: Path) -> None:
    dataset = load_dataset(hundred, labels=LABELS)
    counts = dict.fromkeys(LABELS, 0)
    for sample in dataset.samples:
        assert (sample.width, sample.height) == (320, 240)
        assert 1 <= len(sample.boxes) <= 4
        for box in sample.boxes:
            assert 0 <= box.x1 < box.x2 <= 320 and 0 <= box.y1 < box.y2 <= 240
            # 60 % of an 8 %-of-240 shape is still several pixels on a side.
            assert min(box.x2 - box.x1, box.y2 - box.y1) >= 4
            counts[box.label] += 1
    assert min(counts.values()) >= 40, counts


def test_refuses_a_foreign_directory_and_replaces_its_own(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "thesis.tex").write_text("precious")
    with pytest.raises(ValueError, match="not a synth dataset"):
        generate_dataset(tmp_path / "home", images=1, seed=0)
    generate_dataset(tmp_path / "shapes", images=3, seed=0)
    generate_dataset(tmp_path / "shapes", images=2, seed=0)
    assert len(list((tmp_path / "shapes" / "JPEGImages").iterdir())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home", "shapes"]


def test_an_interrupted_run_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_finish, calls = synth.finish, []

    def finish_then_fail(*args: object) -> object:
        calls.append(args)
        if len(calls) == 3:  # the third image or frame: files half written by then
            raise KeyboardInterrupt
        return real_finish(*args)

    # Each generator looks finish up in its own module.
    monkeypatch.setattr(synth, "finish", finish_then_fail)
    monkeypatch.setattr(synth_video, "finish", finish_then_fail)
    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tmp_path / "shapes", images=5, seed=0)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        generate_video(tmp_path / "clip.avi", frames=5, seed=0, size=(160, 120))
    assert list(tmp_path.iterdir()) == []


def test_video_frames_size_and_truth(tmp_path: Path) -> None:
    path = generate_video(tmp_path / "clip.avi", frames=24, seed=0)
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame.shape)
    capture.release()
    assert frames == [(480, 640, 3)] * 24
    truth = json.loads(path.with_suffix(".json").read_text())
    assert [entry["frame"] for entry in truth] == list(range(24))
    seen = set()
    for entry in truth:
        for box in entry["boxes"]:
            x1, y1, x2, y2 = box["box"]
            assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 480
            seen.add(box["label"])
    assert seen == set(LABELS)


def test_video_objects_move(tmp_path: Path) -> None:
    truth = json.loads(
        generate_video(tmp_path / "c.avi", 10, seed=2, size=(320, 240))
        .with_suffix(".json")
        .read_text()
    )
    assert truth[0]["boxes"] != truth[9]["boxes"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: generate_dataset(p / "x", images=0, seed=0), "at least 1"),
        (lambda p: generate_dataset(p / "x", images=1, seed=-1), "seed"),
        (lambda p: generate_dataset(p / "x", 1, 0, size=(32, 240)), "between 64 and 4096"),
        (lambda p: generate_video(p / "x.mp4", frames=3, seed=0), r"\.avi"),
    ],
)
def test_bad_arguments(tmp_path: Path, call: Callable[[Path], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(tmp_path)


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_synth.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    small = ("--size", "160x120", "--video-size", "160x120")
    video = ("--video", str(tmp_path / "v.avi"), "--frames", "4")
    args = _cli("--out", str(tmp_path / "d"), "--images", "3", *small, *video)
    assert cli_synth.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "3 images" in lines[0] and "160x120" in lines[0]
    assert "4 frames" in lines[1] and "v.json" in lines[1]
    assert load_dataset(tmp_path / "d").samples[0].width == 160


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "nothing to write"),
        (("--out", "d", "--size", "320by240"), "WIDTHxHEIGHT"),
        (("--out", "d", "--video", "v.mp4"), r"\.avi"),
        (("--video", "v.avi", "--frames", "0"), "--frames"),
    ],
)
def test_cli_bad_arguments(argv: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        cli_synth.main(_cli(*argv))


def test_default_video_same_seed_same_bytes(tmp_path: Path) -> None:
    first, again = (generate_video(tmp_path / f"{n}.avi", 6, 3, (160, 120)) for n in "ab")
    assert first.read_bytes() == again.read_bytes()
    assert first.with_suffix(".json").read_bytes() == again.with_suffix(".json").read_bytes()
    assert (
        first.read_bytes()
        == generate_video(tmp_path / "c.avi", 6, 3, (160, 120), scenario="bounce").read_bytes()
    )


# Seed 0, 160x120, frame 3: (object, label, centre) as the bouncing video always had them.
PINNED_CENTERS = [
    (1, "circle", [113.001, 46.045]),
    (2, "square", [63.766, 22.594]),
    (3, "triangle", [43.785, 31.537]),
    (4, "square", [114.373, 31.577]),
]


def test_default_video_moves_as_it_always_has(tmp_path: Path) -> None:
    # The demo and the benchmarks depend on these very paths: pinned, not just repeatable.
    truth = json.loads(
        generate_video(tmp_path / "p.avi", 4, 0, (160, 120)).with_suffix(".json").read_text()
    )
    centers = [(o["object"], o["label"], o["center"]) for o in truth[3]["objects"]]
    assert centers == PINNED_CENTERS
    assert all(
        box["object"] in {o["object"] for o in truth[3]["objects"]} for box in truth[3]["boxes"]
    )
