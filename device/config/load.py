"""Read and check a `pisight run` settings file: every error is one line with file and line.

    config = load_config("/etc/pisight/pisight.toml")
    config.values[("model", "threshold")]     # 0.4, only for keys the file sets
    config.zones, config.lines                # Zone and Line objects, checked
    raise config.error("is a directory", "logs", "metrics")   # FILE:LINE: [logs] metrics ...

A problem raises ConfigError (a ValueError, so `pisight` prints `pisight: error: <line>` and
exits 2): `FILE:LINE: [section] key = value: what is wrong; how to fix it`.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pisight.device.config.keys import ARRAYS, TABLES, Key, from_toml
from pisight.device.config.locate import KeyLines
from pisight.device.zones.geometry import Line, Zone

_AT = re.compile(r"^(.*?)\s*\((?:at line (\d+), column (\d+)|at end of document)\)$")


class ConfigError(ValueError):
    """One line: FILE:LINE: [section] key: what is wrong; how to fix it."""


def _shown(raw: Any) -> str:
    try:
        text = json.dumps(raw)  # TOML writes strings, numbers, booleans and lists alike
    except (TypeError, ValueError):
        text = str(raw)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Config:
    path: Path
    values: dict[tuple[str, str], Any]
    """(section, key) -> checked value, for the keys the file sets."""
    zones: tuple[Zone, ...]
    lines: tuple[Line, ...]
    located: KeyLines

    def where(self, section: str, key: str | None = None, index: int | None = None) -> str:
        """`FILE:LINE` of a key (or its table), `FILE` when the text does not show it."""
        line = self.located.line(section, key, index)
        return f"{self.path}:{line}" if line else str(self.path)

    def error(
        self, problem: str, section: str, key: str | None = None, index: int | None = None,
        raw: Any = None,
    ) -> ConfigError:  # fmt: skip
        if not section:  # a key outside any table
            place = key or ""
        elif index is None:
            place = f"[{section}]" + (f" {key}" if key else "")
        else:
            place = f"[[{section}]] #{index + 1}" + (f" {key}" if key else "")
        shown = f" = {_shown(raw)}" if raw is not None else ""
        return ConfigError(f"{self.where(section, key, index)}: {place}{shown}: {problem}")


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror or exc}); check the path and "
            "its permissions"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text; save the file as UTF-8") from None


def _syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    match = _AT.match(str(exc))
    what = (match.group(1) if match else str(exc)).rstrip(".")
    line = match.group(2) if match and match.group(2) else str(max(1, len(text.splitlines())))
    column = f", column {match.group(3)}" if match and match.group(3) else ""
    return ConfigError(
        f"{path}:{line}: not valid TOML ({what[:1].lower()}{what[1:]}{column}); check the quotes, "
        'brackets and = on that line, e.g. threshold = 0.5, spec = "picamera"'
    )


def _unknown(name: str, known: dict[str, Key]) -> str:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]}?"
    home = [section for section, keys in TABLES.items() if name in keys]
    if home:
        return f"unknown key here; {name} belongs under [{home[0]}]"
    return f"unknown key; known here: {', '.join(known)}"


def _table(config: Config, section: str, raw: dict[str, Any]) -> None:
    for name, value in raw.items():
        key = TABLES[section].get(name)
        if key is None:
            raise config.error(_unknown(name, TABLES[section]), section, name)
        try:
            config.values[(section, name)] = from_toml(key, value)
        except ValueError as exc:
            raise config.error(f"{exc}; e.g. {name} = {key.example}", section, name,
                               raw=value) from None  # fmt: skip


def _entry(config: Config, section: str, index: int, raw: Any) -> dict[str, Any]:
    keys = ARRAYS[section]
    if not isinstance(raw, dict):
        raise config.error(f"write each entry as a [[{section}]] table", section)
    values = {}
    for name, value in raw.items():
        if name not in keys:
            raise config.error(_unknown(name, keys), section, name, index)
        try:
            values[name] = from_toml(keys[name], value)
        except ValueError as exc:
            raise config.error(f"{exc}; e.g. {name} = {keys[name].example}", section, name,
                               index, raw=value) from None  # fmt: skip
    for name, key in keys.items():
        if key.required and name not in values:
            raise config.error(f"missing {name}; add e.g. {name} = {key.example}", section,
                               index=index)  # fmt: skip
        values.setdefault(name, key.default)
    return values


def _blame(message: str, section: str, values: dict[str, Any]) -> str:
    """Which key a Zone/Line ValueError is about, for its line number."""
    if "anchor" in message:
        return "anchor"
    if "needs a name" in message:
        return "name"
    if section == "zones":
        return "points"
    start_inside = all(0.0 <= v <= 1.0 for v in values["start"])
    return "start" if "outside" in message and not start_inside else "end"


def _shapes(config: Config, section: str, raw: Any) -> tuple[Any, ...]:
    if not isinstance(raw, list):
        raise config.error(f"write [[{section}]] (double brackets), once per entry", section)
    shapes = []
    for index, entry in enumerate(raw):
        values = _entry(config, section, index, entry)
        try:
            if section == "zones":
                shape: Any = Zone(values["name"], values["points"], values["classes"],
                                  values["anchor"])  # fmt: skip
            else:
                shape = Line(values["name"], values["start"], values["end"], values["classes"],
                             values["anchor"])  # fmt: skip
        except ValueError as exc:
            key = _blame(str(exc), section, values)
            raise config.error(str(exc), section, key, index, raw=entry.get(key)) from None
        shapes.append(shape)
    return tuple(shapes)


def _unique(config: Config) -> None:
    seen: dict[str, str] = {}
    for section in ("zones", "lines"):
        for index, shape in enumerate(getattr(config, section)):
            if shape.name in seen:
                raise config.error(
                    f"{seen[shape.name]} has this name already; give every zone and line its "
                    "own name", section, "name", index, raw=shape.name,
                )  # fmt: skip
            line = config.located.line(section, "name", index)
            seen[shape.name] = f"[[{section}]] #{index + 1}" + (f" (line {line})" if line else "")


def _unknown_top(config: Config, name: str, raw: Any) -> ConfigError:
    known = [*TABLES, *ARRAYS]
    if not isinstance(raw, dict):  # a key above every table header
        home = [s for s, keys in TABLES.items() if name in keys]
        fix = f"it belongs under [{home[0]}]" if home else f"tables: {', '.join(known)}"
        return config.error(f"unknown key outside any table; {fix}", "", name, raw=raw)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    fix = f"did you mean [{close[0]}]?" if close else f"known tables: {', '.join(known)}"
    return config.error(f"unknown table; {fix}", name)


def load_config(path: str | Path) -> Config:
    """Read, parse and check a settings file; ConfigError names the file, line and fix."""
    path = Path(path)
    text = _read(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None
    config = Config(path, {}, (), (), KeyLines(text))
    for section, raw in data.items():
        if section in ARRAYS:
            continue
        if section not in TABLES:
            raise _unknown_top(config, section, raw)
        if not isinstance(raw, dict):
            raise config.error(f"must be a table: put its keys under a [{section}] line", section)
        _table(config, section, raw)
    zones = _shapes(config, "zones", data.get("zones", []))
    lines = _shapes(config, "lines", data.get("lines", []))
    config = Config(path, config.values, zones, lines, config.located)
    _unique(config)
    return config
