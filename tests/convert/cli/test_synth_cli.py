"""`pisight synth --video F --scenario S --mot DIR`: the tracking truth from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pisight.convert.cli import synth as cli_synth
from pisight.convert.data.synth_truth import read_truth


def _cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli_synth.add_arguments(parser)
    return parser.parse_args(argv)


def test_writes_the_mot_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "walk.avi"
    args = _cli("--video", str(video), "--frames", "8", "--video-size", "160x120",
                "--scenario", "crossing", "--mot", str(tmp_path / "mot"))  # fmt: skip
    assert cli_synth.main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "crossing" in lines[0] and "MOTChallenge" in lines[1]
    sequence = tmp_path / "mot" / "walk"
    assert sorted(p.relative_to(sequence).as_posix() for p in sequence.rglob("*")) == [
        "gt",
        "gt/gt.txt",
        "seqinfo.ini",
    ]
    rows = (sequence / "gt" / "gt.txt").read_text().splitlines()
    assert len(rows) == sum(len(f.boxes) for f in read_truth(video.with_suffix(".json"))) > 0
    assert "seqLength=8" in (sequence / "seqinfo.ini").read_text().splitlines()


@pytest.mark.parametrize("argv", [("--mot", "mot"), ("--out", "d", "--mot", "mot")])
def test_mot_needs_a_video(argv: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="add --video"):
        cli_synth.main(_cli(*argv))


def test_unknown_scenario_is_an_argparse_choice(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _cli("--video", "v.avi", "--scenario", "spiral")
    assert "invalid choice: 'spiral'" in capsys.readouterr().err


def test_help_names_the_scenarios_and_mot() -> None:
    parser = argparse.ArgumentParser()
    cli_synth.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "{bounce,crossing,occlusion,reentry,stopgo,mixed}" in text and "--mot DIR" in text
