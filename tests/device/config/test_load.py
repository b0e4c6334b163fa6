"""config/load.py: the example file, and one clear line for every kind of bad file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pisight.device.config.keys import ARRAYS, TABLES
from pisight.device.config.load import ConfigError, load_config
from pisight.device.config.locate import KeyLines
from pisight.device.zones.geometry import Line, Zone
from tests.helpers import REPO, pisight, pisight_in_process

EXAMPLE = REPO / "scripts" / "pisight.toml"


def uncommented(text: str) -> str:
    """The example with every "#key = default" and "#[[zones]]" line switched on."""
    return re.sub(r"^#(?=[\[a-z])", "", text, flags=re.MULTILINE)


def test_example_documents_every_key_with_a_valid_value(tmp_path: Path) -> None:
    full = tmp_path / "full.toml"
    full.write_text(uncommented(EXAMPLE.read_text()))
    data = tomllib.loads(full.read_text())
    found = {(section, key) for section, table in data.items() if section in TABLES
             for key in table}  # fmt: skip
    found |= {(section, key) for section in ARRAYS for entry in data[section] for key in entry}
    schema = {(s, k) for s, keys in {**TABLES, **ARRAYS}.items() for k in keys}
    assert found == schema
    config = load_config(full)  # every documented value is also a valid one
    assert [z.name for z in config.zones] == ["door"] and [ln.name for ln in config.lines] == [
        "street"
    ]
    # The active lines are what the service needs: model, listen address, metrics log.
    active = load_config(EXAMPLE).values
    assert active == {
        ("model", "path"): "/opt/pisight/models/current",
        ("live", "listen"): "0.0.0.0:8080",
        ("logs", "metrics"): Path("/var/log/pisight/metrics.csv"),
    }


def test_example_passes_check_config_as_the_service_runs_it() -> None:
    ok = pisight("run", "--config", str(EXAMPLE), "--check-config", PISIGHT_AUTH="pisight:pw")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"{EXAMPLE}: ok (0 zones, 0 lines)"
    # Without the service's PISIGHT_AUTH the public listen address is refused.
    refused = pisight_in_process("run", "--config", str(EXAMPLE), "--check-config",
                                 PISIGHT_AUTH="")  # fmt: skip
    assert refused.returncode == 2
    assert f"{EXAMPLE}:" in refused.stderr and "[live] listen" in refused.stderr


BASE = '[model]\npath = "m"\n'
ZONE = '[[zones]]\nname = "door"\npoints = [[0.1, 0.1], [0.5, 0.1], [0.5, 0.5]]\n'
BAD_FILES = [
    ("bad type", BASE + 'threshold = "high"\n', 3, ['[model] threshold = "high"',
                                                     "must be a number", "threshold = 0.5"]),
    ("out of range", BASE + "\n[live]\njpeg_quality = 101\n", 5,
     ["[live] jpeg_quality = 101", "between 1 and 100"]),
    ("bad bool", BASE + "[source]\nloop = 1\n", 4, ["[source] loop", "true or false"]),
    ("unknown key", BASE + "treshold = 0.5\n", 3, ["treshold", "did you mean threshold?"]),
    ("unknown table", BASE + "[trackin]\nenabled = true\n", 3, ["[trackin]", "[tracking]"]),
    ("key outside a table", "threshold = 0.5\n" + BASE, 1, ["belongs under [model]"]),
    ("zone outside the frame",
     BASE + '[[zones]]\nname = "a"\npoints = [\n  [0.1, 0.1],\n  [1.5, 0.1],\n  [0.5, 0.5],\n]\n',
     5, ["[[zones]] #1 points", "outside the frame", "0 to 1"]),
    ("line start outside", BASE + '[[lines]]\nname = "s"\nstart = [-0.1, 0.5]\nend = [1, 0.5]\n',
     5, ["[[lines]] #1 start", "outside the frame"]),
    ("zone too few points", BASE + '[[zones]]\nname = "a"\npoints = [[0, 0], [1, 1]]\n', 5,
     ["at least 3 points"]),
    ("bad anchor", BASE + ZONE + 'anchor = "top"\n', 6, ["anchor", "bottom, center"]),
    ("missing points", BASE + '[[zones]]\nname = "a"\n', 3, ["[[zones]] #1", "missing points"]),
    ("duplicate name", BASE + ZONE + '[[lines]]\nname = "door"\nstart = [0, 0]\nend = [1, 1]\n',
     7, ['[[lines]] #1 name = "door"', "[[zones]] #1 (line 4)", "own name"]),
    ("zones as a table", BASE + '[zones]\nname = "a"\n', 3, ["[[zones]]"]),
    ("TOML syntax", BASE + "threshold = 0.5 0.6\n", 3, ["not valid TOML", "column"]),
    ("unquoted string", '[model]\npath = /opt/m\n', 2, ["not valid TOML"]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "line", "parts"), [row[1:] for row in BAD_FILES],
                         ids=[row[0] for row in BAD_FILES])  # fmt: skip
def test_a_bad_file_is_one_line_with_file_line_and_fix(
    tmp_path: Path, text: str, line: int, parts: list[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = pisight_in_process("run", "--config", str(path), "--check-config")
    assert result.returncode == 2 and result.stdout == ""
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"pisight: error: {path}:{line}: "), errors[0]
    for part in parts:
        assert part in errors[0], errors[0]


@pytest.mark.parametrize("name", ["syntax", "zone"])
def test_a_bad_file_through_the_real_command(tmp_path: Path, name: str) -> None:
    path = tmp_path / "bad.toml"
    zone = '[[zones]]\nname = "a"\npoints = [[0, 0], [2, 0], [1, 1]]\n'
    path.write_text(BASE + ("threshold = = 1\n" if name == "syntax" else zone))
    result = pisight("run", "--config", str(path), "--check-config")
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"pisight: error: {path}:"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", ["missing", "directory", "not utf-8"])
def test_an_unreadable_file_is_one_line(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "pisight.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not utf-8":
        path.write_bytes(BASE.encode() + b'labels = "\xff"\n')
    result = pisight_in_process("run", "--config", str(path), "--check-config")
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and str(path) in errors[0], result.stderr
    if kind == "not utf-8":
        assert f"{path}:3:" in errors[0] and "UTF-8" in errors[0]
    else:
        assert "cannot read" in errors[0]


def test_zones_and_lines_become_geometry(tmp_path: Path) -> None:
    path = tmp_path / "z.toml"
    path.write_text(BASE + ZONE + 'classes = ["person"]\nanchor = "center"\n'
                    '[[lines]]\nname = "street"\nstart = [0, 0.6]\nend = [1, 0.6]\n')  # fmt: skip
    config = load_config(path)
    assert config.zones == (
        Zone("door", ((0.1, 0.1), (0.5, 0.1), (0.5, 0.5)), ("person",), "center"),
    )
    assert config.lines == (Line("street", (0.0, 0.6), (1.0, 0.6)),)
    assert isinstance(ConfigError("x"), ValueError)  # so the CLI prints it as one line


def test_key_lines_skip_multiline_values_and_count_array_entries() -> None:
    text = (
        "# a comment [not] a header\n"
        "[model]\n"
        'classes = [\n  "person",\n  "[car]",\n]\n'
        "threshold = 0.5  # [x]\n"
        "[[zones]]\n"
        'name = "a"\n'
        "points = [\n[0, 0],\n[1]\n]\n"
        "[[zones]]\n"
        'name = "b"\n'
        "model.top_k = 3\n"
    )
    lines = KeyLines(text)
    assert lines.line("model", "classes") == 3
    assert lines.line("model", "threshold") == 7
    assert lines.line("zones", "name", 0) == 9 and lines.line("zones", "points", 0) == 10
    assert lines.line("zones", "name", 1) == 15 and lines.line("zones", index=1) == 14
    assert lines.line("model", "labels") == 2  # not written: the table's header
    assert lines.line("source") is None
