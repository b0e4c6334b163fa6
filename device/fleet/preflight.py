"""The device side of `pisight deploy`'s probe: can this Pi's runtime run the staged model?

    /opt/pisight/venv/bin/python -m pisight.device.fleet.preflight STAGED/model.tflite \\
        --config /etc/pisight/pisight.toml
    # stdout: "ok litert 2.3.0"; or stderr, exit 1:
    # "tflite-runtime 2.14.0 cannot run it: it has no FULLY_CONNECTED version 12"

Runs with the service's own Python (so its own runtime), before the swap, through the
same sandboxed probe `pisight run` starts with (`model/probe.py`: parsed in Python, then
loaded and invoked once in a limited child process). The runtime is the one the service
would pick: `[model] runtime` of the settings file when it names one, else the first
that imports.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from pathlib import Path

from pisight.device.model.compatibility import cannot_run, installed_runtime, runtime_version
from pisight.device.model.probe import probe_model

RUNTIME_NAMED = re.compile(r"the (\S+) runtime cannot load it")  # model/runtime.py's words


def configured_runtime(config: Path | None) -> str | None:
    """[model] runtime of the settings the service will read; None picks the first importable.

    The file itself is checked by the service's ExecStartPre, not here: an unreadable or
    broken one only means no runtime is forced."""
    if config is None or not config.is_file():
        return None
    try:
        settings = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    runtime = settings.get("model", {}).get("runtime")
    return runtime if isinstance(runtime, str) else None


def preflight(model: Path, config: Path | None) -> tuple[bool, str]:
    """(runs, one line): the runtime and version that ran it, or why it cannot.

    Only the probe's child imports a runtime (a second import here would double the cost
    on a Pi); which one it was comes from its answer, its version from package metadata."""
    forced = configured_runtime(config)
    result = probe_model(model, forced)
    if result.outcome == "loaded":
        name = result.detail
        return True, f"ok {name} {runtime_version(name) or ''}".strip()
    named = RUNTIME_NAMED.search(result.detail)
    name = forced or (named.group(1) if named else installed_runtime())
    if name is None:
        return False, result.detail
    return False, cannot_run(name, runtime_version(name), result.detail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pisight.device.fleet.preflight")
    parser.add_argument("model", type=Path)
    parser.add_argument("--config", type=Path, default=None)
    args = parser.parse_args(argv)
    runs, line = preflight(args.model, args.config)
    print(line, file=sys.stdout if runs else sys.stderr, flush=True)
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
