"""Flags over the file over the defaults: the settings one `pisight run` goes by.

    settings = merge(args, load_config(args.config) if args.config else None)
    settings.threshold, settings.origin["threshold"]     # 0.4, "flag" | "file" | "default"
    raise settings.error("listen", "refusing to serve")  # names the flag or FILE:LINE
    credentials(settings)                                 # ("user", "pass") or None

A flag counts as given when argparse left it other than None, so every flag of
keys.FLAG_KEYS defaults to None. Credentials come from --auth, --auth-file, [live]
auth_file or $PISIGHT_AUTH, in that order: a password never has to be on a command line.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from pisight.device.config.keys import FLAG_KEYS, Key
from pisight.device.config.load import Config
from pisight.device.live.options import parse_auth

log = logging.getLogger("pisight.config")
_BY_DEST: dict[str, Key] = {k.dest: k for k in FLAG_KEYS if k.dest}
AUTH_ENV = "PISIGHT_AUTH"


class Settings:
    """One attribute per key dest (settings.threshold), plus the flags outside the file."""

    def __init__(self, values: dict[str, Any], origin: dict[str, str], config: Config | None):
        self.values = values
        self.origin = origin
        self.config = config

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def error(self, dest: str, problem: str) -> ValueError:
        """A problem with one setting, told where the user wrote it: flag or file line."""
        key, value = _BY_DEST[dest], self.values[dest]
        if self.origin.get(dest) == "file" and self.config is not None:
            shown = str(value) if isinstance(value, Path) else value
            return self.config.error(problem, key.section, key.name, raw=shown)
        if key.kind == "bool":
            return ValueError(f"--{'' if value else 'no-'}{dest.replace('_', '-')}: {problem}")
        return ValueError(f"{key.flag} {value}: {problem}")


def merge(args: argparse.Namespace, config: Config | None) -> Settings:
    """Every key's value: the flag if given, else the file's, else the built-in default."""
    values = {name: value for name, value in vars(args).items() if name not in _BY_DEST}
    origin: dict[str, str] = {}
    for dest, key in _BY_DEST.items():
        given = getattr(args, dest, None)
        if given is not None:
            # The file's values were checked as it loaded; a flag's are checked here.
            problem = key.check(given) if key.check else None
            if problem:
                raise ValueError(f"{key.flag} {problem}, got {given}")
            values[dest], origin[dest] = given, "flag"
        elif config is not None and (key.section, key.name) in config.values:
            values[dest], origin[dest] = config.values[(key.section, key.name)], "file"
        else:
            values[dest], origin[dest] = key.default, "default"
    values["zones"] = config.zones if config else ()
    values["lines"] = config.lines if config else ()
    return Settings(values, origin, config)


def _from(text: str, source: str) -> tuple[str, str]:
    try:
        return parse_auth(text.strip())
    except ValueError:
        raise ValueError(
            f"{source} must hold USER:PASS with a non-empty user and password"
        ) from None


def read_auth_file(path: Path) -> str:
    """The first line of an auth file; a PISIGHT_AUTH= prefix is allowed, so the service's
    environment file (/etc/pisight/pisight.env) works as one too."""
    text = path.read_text(encoding="utf-8")
    if path.stat().st_mode & 0o077:
        log.warning("%s holds a password and others can read it; chmod 600 it", path)
    first = (text.splitlines() or [""])[0].strip()
    return first.removeprefix(f"{AUTH_ENV}=")


def credentials(settings: Settings) -> tuple[str, str] | None:
    """HTTP Basic (user, password) for the live view, or None when none is configured."""
    if settings.values.get("auth"):
        return parse_auth(settings.auth)
    if settings.auth_file is not None:
        path = Path(settings.auth_file)
        try:
            text = read_auth_file(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise settings.error(
                "auth_file", f"cannot read it ({reason}); write USER:PASS into it, chmod 600"
            ) from None
        if settings.origin["auth_file"] == "file" and settings.config is not None:
            try:
                return parse_auth(text)
            except ValueError:
                raise settings.error("auth_file", "its first line must be USER:PASS") from None
        return _from(text, f"--auth-file {path}")
    if os.environ.get(AUTH_ENV, "").strip():
        return _from(os.environ[AUTH_ENV], f"${AUTH_ENV}")
    return None


def validate(s: Settings) -> None:
    """What no single key can check: settings that need each other; ValueError."""
    if s.check_config and s.config is None:
        raise ValueError("--check-config needs --config FILE")
    if s.model is None:
        if s.config is not None:
            raise s.config.error('no model; add path = "BUNDLE" under [model] or give --model',
                                 "model", "path")  # fmt: skip
        raise ValueError("--model is required: give --model BUNDLE or --config FILE")
    if s.frames is not None and s.frames < 1:
        raise ValueError("--frames must be at least 1")
    for dest in ("log", "detections", "record"):
        path = s.values[dest]
        if path is not None and Path(path).is_dir():
            raise s.error(dest, f"{path} is a directory; give a file name")
    if (s.zones or s.lines) and not s.track:
        fix = "drop --no-track" if s.origin["track"] == "flag" else "set enabled = true"
        raise s.error("track", f"the zones and lines of the file count tracks; {fix}")
    if s.events and not s.track and s.origin["events"] != "default":
        raise s.error("events", "events are made from tracks; turn tracking on or events off")
