"""The tuned inference setting, kept per model, runtime and CPU.

    key = cache_key(Path("models/current/model.tflite"), "litert")
    setting = load_setting(key)            # None: not tuned here yet (or unreadable)
    store_setting(key, choice)             # best effort: a read-only home only costs time

The file is `$CACHE_DIRECTORY/inference.json` under systemd (the unit's CacheDirectory=),
else `$XDG_CACHE_HOME/pisight/` or `~/.cache/pisight/`. A new model (another sha256), a
runtime update or another CPU is another key, so a deploy never reuses a stale choice.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from pisight.device.model.bundle import sha256_file
from pisight.device.model.cpu import this_cpu
from pisight.device.pipeline.autotune import Choice
from pisight.device.pipeline.cores import usable_cores
from pisight.device.pipeline.inference import InferenceSetting

log = logging.getLogger("pisight.tuning")
CACHE_NAME = "inference.json"


def cache_file() -> Path:
    if os.environ.get("CACHE_DIRECTORY"):  # systemd may list several, colon-separated
        return Path(os.environ["CACHE_DIRECTORY"].split(":")[0]) / CACHE_NAME
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pisight" / CACHE_NAME


def cache_key(model: Path, runtime: str) -> str:
    digest = sha256_file(model)[:16]
    return f"{digest} {runtime} {this_cpu().model} / {usable_cores()} cores"


def _entries(path: Path) -> dict:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return entries if isinstance(entries, dict) else {}


def load_setting(key: str) -> tuple[InferenceSetting, str] | None:
    """The setting tuned for key and what it measured then, or None."""
    entry = _entries(cache_file()).get(key)
    try:
        setting = InferenceSetting(int(entry["threads"]), int(entry["interpreters"]))
        return setting, str(entry.get("reason", ""))
    except (TypeError, KeyError, ValueError):
        return None


def store_setting(key: str, choice: Choice) -> Path | None:
    """Write the choice (atomically: a crash leaves the old file); the file, or None."""
    path = cache_file()
    entries = _entries(path)
    entries[key] = {
        "threads": choice.setting.threads,
        "interpreters": choice.setting.interpreters,
        "reason": choice.reason(),
        "measured": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_name(f".{path.name}.{os.getpid()}")
        scratch.write_text(json.dumps(entries, indent=2) + "\n")
        os.replace(scratch, path)
    except OSError as exc:
        log.info("cannot keep the tuned setting in %s (%s): the next run tunes again", path, exc)
        return None
    return path
