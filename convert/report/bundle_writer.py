"""Write a bundle atomically: all of it, or nothing.

    write_bundle(Path("out/bundle"), model_bytes, labels, metadata, report_md)

Files go to a temporary directory beside the target, pisight.json gets the sha256 of
every other file, and one rename makes the bundle appear. An existing bundle is
swapped out the same way, so a crash or Ctrl-C at any moment leaves either the old
bundle or the new one, never a mixture or a partial file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pisight.device.model.bundle import LABELS_FILE, METADATA_FILE, MODEL_FILE, sha256_file

FORMAT_VERSION = 1
REPORT_FILE = "report.md"


def write_bundle(
    target: Path,
    model: bytes,
    labels: tuple[str, ...],
    metadata: dict[str, Any],
    report: str,
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise FileExistsError(
            f"{target} exists and is not a bundle directory; choose another --out"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; a bundle is meant to be shared
        files = {MODEL_FILE: model, LABELS_FILE: ("\n".join(labels) + "\n").encode()}
        files[REPORT_FILE] = report.encode()
        files.update(extra_files or {})
        for name, data in files.items():
            _write_synced(staging / name, data)
        metadata = {
            "format_version": FORMAT_VERSION,
            **metadata,
            "files": {name: sha256_file(staging / name) for name in sorted(files)},
        }
        _write_synced(staging / METADATA_FILE, (json.dumps(metadata, indent=2) + "\n").encode())
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _write_synced(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _swap_in(staging: Path, target: Path) -> None:
    """Rename staging to target; an old target is moved aside first, then removed."""
    if not target.exists():
        os.rename(staging, target)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    os.rename(target, retired / target.name)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(retired / target.name, target)  # put the old bundle back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)
