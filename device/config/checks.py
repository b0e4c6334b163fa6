"""Value checks and flag types the settings table (keys.py) is built with.

between(0, 1)(1.5)          # "must be between 0 and 1"; None when the value is fine
input_range("-1,1")         # (-1.0, 1.0), the argparse type of --input-range
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pisight.device.live.options import parse_listen

Check = Callable[[Any], "str | None"]
"""None when a value is fine, else what is wrong with it (the end of a one-line error)."""


def input_range(value: str) -> tuple[float, float]:
    """argparse type for --input-range LOW,HIGH (also used by pisight convert)."""
    try:
        low, high = (float(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "--input-range takes LOW,HIGH such as -1,1 or 0,1"
        ) from None
    if high <= low:
        raise argparse.ArgumentTypeError("--input-range needs LOW < HIGH")
    return low, high


def class_list(value: str) -> tuple[str, ...]:
    """argparse type for --classes a,b: comma-separated labels, blanks dropped."""
    return tuple(c.strip() for c in value.split(",") if c.strip())


def between(low: float, high: float, *, open_: bool = False) -> Check:
    def check(value: Any) -> str | None:
        inside = low < value < high if open_ else low <= value <= high
        return None if inside else f"must be between {low:g} and {high:g}"

    return check


def at_least(low: float) -> Check:
    return lambda value: None if value >= low else f"must be at least {low:g}"


def thread_count(text: str) -> int | str:
    """--threads: "auto" or a whole number of interpreter threads."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a thread count: give auto or a whole number such as 2"
        ) from None


def threads_check(value: int | str) -> str | None:
    if value == "auto" or (isinstance(value, int) and value >= 1):
        return None
    return 'must be "auto" or at least 1'


def listen_address(value: str) -> str | None:
    try:
        parse_listen(value)
    except ValueError as exc:
        return str(exc).split(": ", 1)[-1]  # drop parse_listen's "--listen 'x': " prefix
    return None


def toml_number(raw: Any) -> float:
    # bool is an int in Python; in a config file `true` is never a number.
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError("must be a number")
    return float(raw)


def toml_point(raw: Any) -> tuple[float, float]:
    if not isinstance(raw, list) or len(raw) != 2:
        raise ValueError("must be a point [x, y]")
    try:
        return toml_number(raw[0]), toml_number(raw[1])
    except ValueError:
        raise ValueError("must be a point [x, y] of two numbers") from None


def convert_toml(kind: str, choices: tuple[str, ...], raw: Any) -> Any:
    """A TOML value as the pipeline takes it, by the key's kind; ValueError says why not."""
    if kind == "bool":
        if not isinstance(raw, bool):
            raise ValueError("must be true or false (no quotes)")
        return raw
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError("must be a whole number")
        return raw
    if kind == "threads":
        if raw == "auto" or (isinstance(raw, int) and not isinstance(raw, bool)):
            return raw
        raise ValueError('must be "auto" or a whole number of threads')
    if kind == "float":
        return toml_number(raw)
    if kind in ("str", "path", "choice"):
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("must be a non-empty string in quotes")
        if choices and raw not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return Path(raw) if kind == "path" else raw
    if kind == "strings":
        if not isinstance(raw, list) or not all(isinstance(s, str) and s.strip() for s in raw):
            raise ValueError("must be a list of strings")
        return tuple(s.strip() for s in raw)
    if kind == "range":
        low, high = toml_point(raw)
        if high <= low:
            raise ValueError("needs [low, high] with low < high")
        return low, high
    if kind == "point":
        return toml_point(raw)
    if kind == "points":
        if not isinstance(raw, list):
            raise ValueError("must be a list of points [[x, y], ...]")
        return tuple(toml_point(p) for p in raw)
    raise AssertionError(f"unknown kind {kind}")
