"""The pisight wheel `pisight flash` puts on a card, and the Pi files that ship inside it.

    wheel = find_wheel(None, scratch)   # --wheel, else this checkout's, else the install's
    payload_bytes("install-pi.sh")      # install-pi.sh, pisight.service, pisight.toml

The Pi files live in scripts/ (the one copy people edit and run); `device/fleet/payload/`
links to them, so the wheel ships them as package data and an installed pisight can
flash without a checkout. Installed from a wheel, pisight carries itself: the installed
files are packed back into a wheel exactly as pip's RECORD lists them.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import logging
import subprocess
import sys
import zipfile
from importlib import metadata, resources
from pathlib import Path

log = logging.getLogger("pisight.flash")
REPO = Path(__file__).resolve().parents[2]  # a source checkout: scripts/ lives beside device/
PAYLOAD = "pisight.device.fleet.payload"
PAYLOAD_FILES = ("install-pi.sh", "pisight.service", "pisight.toml")
# Written by pip at install time, not part of the wheel that was installed.
INSTALL_ONLY = ("INSTALLER", "RECORD", "REQUESTED", "direct_url.json")


def payload_bytes(name: str) -> bytes:
    """One of PAYLOAD_FILES, from the installed package (or the checkout, through its links)."""
    return resources.files(PAYLOAD).joinpath(name).read_bytes()


def is_checkout() -> bool:
    return (REPO / "pyproject.toml").is_file() and (REPO / "device").is_dir()


def find_wheel(explicit: Path | None, scratch: Path) -> Path:
    """The given wheel; in a checkout the newest in dist/ or one built now; installed,
    the installed pisight packed back into a wheel."""
    if explicit:
        if not explicit.is_file() or explicit.suffix != ".whl":
            raise ValueError(f"--wheel {explicit} is not a wheel file")
        return explicit
    if not is_checkout():
        return repack_installed(scratch)
    built = sorted((REPO / "dist").glob("pisight-*.whl"), key=lambda p: p.stat().st_mtime)
    if built:
        return built[-1]
    log.info("building the pisight wheel from %s", REPO)
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(REPO)]
    command += ["-w", str(scratch)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return next(scratch.glob("pisight-*.whl"))


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"


def repack_installed(scratch: Path) -> Path:
    """The installed pisight as a wheel: every file pip's RECORD lists inside site-packages,
    each checked against its recorded hash, with a fresh RECORD."""
    dist = metadata.distribution("pisight")
    wheel_info = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel_info.splitlines()
            if line.startswith("Tag:")]  # fmt: skip
    if not tags or dist.files is None:
        raise ValueError(
            "this pisight was not installed from a wheel (no WHEEL tag or RECORD); "
            "give one with --wheel"
        )
    name = f"pisight-{dist.version}-{tags[0]}.whl"
    rows, target = [], scratch / name
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in dist.files:
            parts = entry.parts
            if parts[0] == ".." or "__pycache__" in parts:
                continue  # console scripts outside site-packages, bytecode: pip makes both
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in INSTALL_ONLY:
                continue
            data = Path(dist.locate_file(entry)).read_bytes()
            if entry.hash is not None and _record_hash(data) != f"sha256={entry.hash.value}":
                raise ValueError(f"installed file {entry} changed since install; give --wheel")
            archive.writestr(str(entry), data)
            rows.append((str(entry), _record_hash(data), str(len(data))))
        info = next(e.parts[0] for e in dist.files if e.parts[0].endswith(".dist-info"))
        record = f"{info}/RECORD"
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows([*rows, (record, "", "")])
        archive.writestr(record, text.getvalue())
    return target
