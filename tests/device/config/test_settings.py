"""Every key of the file reaches the run's options, and its flag overrides it.

In-process through pipeline/run.py `plan`, which builds every option of a run without
loading a model: DetectorOptions, PipelineOptions, ServerOptions and the source's arguments.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pisight.device.cli import build_parser
from pisight.device.config.keys import FLAG_KEYS
from pisight.device.events.event import EventOptions
from pisight.device.live.options import ServerOptions
from pisight.device.model.detector import DetectorOptions
from pisight.device.model.runtime import default_threads
from pisight.device.pipeline.inference import InferenceSetting
from pisight.device.pipeline.run import RunPlan, plan
from pisight.device.track.tracks import TrackerOptions
from pisight.device.zones.geometry import Line, Zone


def make_plan(tmp_path: Path, file: dict[str, dict[str, Any]] | None, *flags: str) -> RunPlan:
    argv = ["run", *flags]
    if file is not None:
        tables = {"model": {"path": "models/m"}} | file
        if "model" in file:
            tables["model"] = {"path": "models/m", **file["model"]}
        text = "".join(
            f"[{section}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in keys.items())
            for section, keys in tables.items()
        )
        (tmp_path / "pisight.toml").write_text(text)
        argv += ["--config", str(tmp_path / "pisight.toml")]
    return plan(build_parser().parse_args(argv))


def auth_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text + "\n")
    path.chmod(0o600)
    return str(path)


Get = Callable[[RunPlan], Any]
# (section, key, file value, what the file gives, flag args, what the flag gives, getter)
ROWS: list[tuple[str, str, Any, Any, list[str], Any, Get]] = [
    ("model", "path", "a/b", "a/b", ["--model", "c"], "c", lambda p: p.detector.model),
    ("model", "labels", "l.txt", "l.txt", ["--labels", "k.txt"], "k.txt",
     lambda p: p.detector.labels),
    ("model", "threshold", 0.3, 0.3, ["--threshold", "0.6"], 0.6,
     lambda p: p.detector.score_threshold),
    ("model", "classes", ["person", "car"], ("person", "car"), ["--classes", "dog, cat"],
     ("dog", "cat"), lambda p: p.detector.classes),
    ("model", "max_detections", 7, 7, ["--max-detections", "9"], 9,
     lambda p: p.detector.max_detections),
    ("model", "top_k", 2, 2, ["--top-k", "5"], 5, lambda p: p.detector.top_k),
    ("model", "input_range", [0, 1], (0.0, 1.0), ["--input-range=-2,2"], (-2.0, 2.0),
     lambda p: p.detector.input_range),
    ("model", "threads", 2, 2, ["--threads", "3"], 3, lambda p: p.detector.threads),
    ("model", "threads", 2, InferenceSetting(2), ["--threads", "auto"], None,
     lambda p: p.forced),
    ("model", "interpreters", 2, InferenceSetting(1, 2), ["--threads", "2"],
     InferenceSetting(2, 2), lambda p: p.forced),
    ("model", "runtime", "tflite-runtime", "tflite-runtime", ["--runtime", "litert"], "litert",
     lambda p: p.detector.runtime),
    ("model", "probe", False, False, ["--probe"], True, lambda p: p.probe),
    ("source", "spec", "clip.mp4", "clip.mp4", ["--source", "1"], "1", lambda p: p.source.spec),
    ("source", "width", 320, 320, ["--width", "640"], 640, lambda p: p.source.width),
    ("source", "height", 240, 240, ["--height", "480"], 480, lambda p: p.source.height),
    ("source", "loop", True, True, ["--no-loop"], False, lambda p: p.source.loop),
    ("source", "realtime", True, True, ["--no-realtime"], False, lambda p: p.source.realtime),
    ("tracking", "enabled", False, None, ["--track"], TrackerOptions(),
     lambda p: p.pipeline.tracker),
    ("tracking", "min_hits", 5, 5, ["--min-hits", "2"], 2, lambda p: p.pipeline.tracker.min_hits),
    ("tracking", "max_misses", 10, 10, ["--max-misses", "0"], 0,
     lambda p: p.pipeline.tracker.max_misses),
    ("tracking", "match_iou", 0.5, 0.5, ["--match-iou", "0.3"], 0.3,
     lambda p: p.pipeline.tracker.match_iou),
    ("tracking", "max_jump", 2, 2.0, ["--max-jump", "1"], 1.0,
     lambda p: p.pipeline.tracker.max_jump),
    ("events", "enabled", False, None, ["--events"], EventOptions(camera=socket.gethostname()),
     lambda p: p.pipeline.events),
    ("events", "classes", ["person"], ("person",), ["--event-classes", "car,dog"],
     ("car", "dog"), lambda p: p.pipeline.events.classes),
    ("events", "min_score", 0.7, 0.7, ["--event-min-score", "0.4"], 0.4,
     lambda p: p.pipeline.events.min_score),
    ("events", "min_hits", 6, 6, ["--event-min-hits", "2"], 2,
     lambda p: p.pipeline.events.min_hits),
    ("media", "snapshots", True, True, ["--no-snapshots"], False, lambda p: p.media.snapshots),
    ("media", "clips", True, True, ["--no-clips"], False, lambda p: p.media.clips),
    ("media", "folder", "/m", Path("/m"), ["--media-dir", "/n"], Path("/n"),
     lambda p: p.media.folder),
    ("media", "pre_roll_s", 3, 3.0, ["--pre-roll", "2"], 2.0,
     lambda p: p.media.pre_roll_s),
    ("media", "post_roll_s", 4, 4.0, ["--post-roll", "1.5"], 1.5,
     lambda p: p.media.post_roll_s),
    ("media", "clip_fps", 5, 5.0, ["--clip-fps", "15"], 15.0, lambda p: p.media.clip_fps),
    ("media", "max_events", 9, 9, ["--keep-events", "10"], 10,
     lambda p: p.media.retention.max_events),
    ("media", "max_mb", 50, 50.0, ["--keep-mb", "60"], 60.0,
     lambda p: p.media.retention.max_mb),
    ("media", "max_age_days", 2, 2.0, ["--keep-days", "0.5"], 0.5,
     lambda p: p.media.retention.max_age_days),
    ("live", "enabled", False, None, ["--serve"], "127.0.0.1",
     lambda p: p.server and p.server.host),
    ("live", "listen", "127.0.0.1:9000", 9000, ["--listen", "9001"], 9001,
     lambda p: p.server.port),
    ("live", "jpeg_quality", 50, 50, ["--jpeg-quality", "60"], 60,
     lambda p: p.pipeline.jpeg_quality),
    ("live", "overlay", False, False, ["--overlay"], True, lambda p: p.pipeline.overlay),
    ("logs", "metrics", "m.csv", Path("m.csv"), ["--log", "n.csv"], Path("n.csv"),
     lambda p: p.pipeline.metrics_csv),
    ("logs", "detections", "d.jsonl", Path("d.jsonl"), ["--detections", "e.jsonl"],
     Path("e.jsonl"), lambda p: p.pipeline.detections_jsonl),
    ("logs", "record", "r.mp4", Path("r.mp4"), ["--record", "s.mp4"], Path("s.mp4"),
     lambda p: p.pipeline.record_mp4),
]  # fmt: skip
# Tested on their own below: they need a second setting to show.
SPECIAL = {("live", "auth_file"), ("live", "insecure")}


def test_the_table_covers_every_flag_key() -> None:
    covered = {(row[0], row[1]) for row in ROWS} | SPECIAL
    assert covered == {(k.section, k.name) for k in FLAG_KEYS}


@pytest.mark.parametrize("row", ROWS, ids=[f"{r[0]}.{r[1]}" for r in ROWS])
def test_file_value_reaches_the_options_and_the_flag_wins(tmp_path: Path, row) -> None:
    section, key, value, from_file, flags, from_flag, get = row
    assert get(make_plan(tmp_path, {section: {key: value}})) == from_file
    assert get(make_plan(tmp_path, {section: {key: value}}, *flags)) == from_flag


def test_defaults_without_a_file_are_the_old_flag_defaults(tmp_path: Path) -> None:
    run = make_plan(tmp_path, None, "--model", "m")
    assert run.detector == DetectorOptions(model="m", threads=default_threads())
    assert run.forced is None  # --threads auto: the first candidate is all cores but one
    assert run.pipeline.tracker == TrackerOptions()  # tracking is on by default
    assert run.pipeline.overlay and run.pipeline.jpeg_quality == 80 and run.probe
    assert run.server == ServerOptions(host="127.0.0.1", port=8080, title="pisight · m")
    assert (run.source.loop, run.source.realtime, run.source.width) == (False, False, None)
    assert make_plan(tmp_path, None, "--model", "m", "--no-serve", "--no-track").server is None


def test_zones_and_lines_reach_the_pipeline(tmp_path: Path) -> None:
    (tmp_path / "z.toml").write_text(
        '[model]\npath = "m"\n[tracking]\nmin_hits = 4\n'
        '[[zones]]\nname = "door"\npoints = [[0, 0], [0.5, 0], [0.5, 0.5]]\nclasses = ["person"]\n'
        '[[lines]]\nname = "street"\nstart = [0, 0.6]\nend = [1, 0.6]\nanchor = "center"\n'
    )  # fmt: skip
    run = plan(build_parser().parse_args(["run", "--config", str(tmp_path / "z.toml")]))
    assert run.pipeline.zones == (Zone("door", ((0, 0), (0.5, 0), (0.5, 0.5)), ("person",)),)
    assert run.pipeline.lines == (Line("street", (0, 0.6), (1, 0.6), (), "center"),)
    assert run.pipeline.tracker == TrackerOptions(min_hits=4)


def test_insecure_from_the_file_and_overridden(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PISIGHT_AUTH", raising=False)
    public = {"live": {"listen": "0.0.0.0:0", "insecure": True}}
    assert make_plan(tmp_path, public).server.host == "0.0.0.0"
    with pytest.raises(ValueError, match=r"refusing to serve on 0\.0\.0\.0"):
        make_plan(tmp_path, public, "--no-insecure")
    assert make_plan(tmp_path, {"live": {"listen": "0.0.0.0:0"}}, "--insecure").server.auth is None


def test_credentials_in_order_auth_auth_file_file_key_environment(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("PISIGHT_AUTH", "env:pw")
    from_file = auth_file(tmp_path, "file.auth", "file:pw")
    flag_file = auth_file(tmp_path, "flag.auth", "PISIGHT_AUTH=flag:pw")  # an env file works
    public = {"live": {"listen": "0.0.0.0:0"}}
    assert make_plan(tmp_path, public).server.auth == ("env", "pw")
    keyed = {"live": {"listen": "0.0.0.0:0", "auth_file": from_file}}
    assert make_plan(tmp_path, keyed).server.auth == ("file", "pw")
    assert make_plan(tmp_path, keyed, "--auth-file", flag_file).server.auth == ("flag", "pw")
    assert make_plan(tmp_path, keyed, "--auth", "typed:pw").server.auth == ("typed", "pw")
    monkeypatch.setenv("PISIGHT_AUTH", "")
    with pytest.raises(ValueError, match="refusing to serve"):
        make_plan(tmp_path, public)


@pytest.mark.parametrize(
    ("file", "flags", "message"),
    [
        ({"live": {"auth_file": "/nope/auth"}}, [], r"pisight.toml:\d+: \[live\] auth_file"),
        ({"live": {"auth_file": "EMPTY"}}, [], "first line must be USER:PASS"),
        ({}, ["--auth-file", "/nope/auth"], "--auth-file /nope/auth: cannot read it"),
        ({}, ["--threshold", "2"], "--threshold must be between 0 and 1, got 2.0"),
        ({}, ["--jpeg-quality", "0"], "--jpeg-quality must be between 1 and 100"),
        ({}, ["--listen", "0.0.0.0:99999"], "--listen expected HOST:PORT"),
        ({"logs": {"metrics": "."}}, [], r"\[logs\] metrics = \"\.\": \. is a directory"),
        ({"media": {"clips": True}}, ["--no-events"],
         "snapshots and clips are of events, and --no-events turns them off"),
        ({"events": {"enabled": True}}, ["--no-track"], r"\[events\] enabled = true: events are"),
        ({}, ["--pre-roll", "31"], "--pre-roll must be between 0 and 30"),
    ],
)  # fmt: skip
def test_bad_settings_name_their_flag_or_file_line(tmp_path: Path, file, flags, message) -> None:
    if file.get("live", {}).get("auth_file") == "EMPTY":
        file = {"live": {"auth_file": auth_file(tmp_path, "empty.auth", "")}}
    with pytest.raises(ValueError, match=message):
        make_plan(tmp_path, file, *flags)


def test_model_is_required_somewhere(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--model is required"):
        plan(build_parser().parse_args(["run"]))
    (tmp_path / "no-model.toml").write_text("[source]\nloop = true\n")
    with pytest.raises(ValueError, match=r"no-model.toml: \[model\] path: no model"):
        plan(build_parser().parse_args(["run", "--config", str(tmp_path / "no-model.toml")]))
    # The flag fills the gap the file leaves.
    args = build_parser().parse_args(["run", "--config", str(tmp_path / "no-model.toml"),
                                      "--model", "m"])  # fmt: skip
    assert plan(args).detector.model == "m" and plan(args).source.loop
