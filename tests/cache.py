"""Build a test artifact once per test run, however many xdist workers ask for it.

    path = built_once(tmp_path_factory, "tiny-ssd-int8", lambda root: build_tiny_ssd(root))

Session fixtures are per worker under pytest-xdist, so a model every worker needs
would be built once per core. The first worker to ask builds it under a file lock in
the run's shared temporary directory; the others wait for the lock and reuse it.
Artifacts are deterministic (fixed seeds), so who builds them does not matter.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock

DONE = ".built"


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The temporary directory every worker of this run sees (the run's own one alone)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]
) -> Path:
    """`build(directory)` once per run; returns the path it returned, for every caller."""
    directory = shared_root(tmp_path_factory) / "shared" / name
    directory.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory) + ".lock"):
        done = directory / DONE
        if not done.is_file():
            directory.mkdir(exist_ok=True)
            built = build(directory)
            done.write_text(str(built.relative_to(directory)))
        return directory / done.read_text()
