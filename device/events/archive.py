"""The folder of event records, snapshots and clips: atomic writes, retention, lookups.

    archive = EventArchive(Path("/var/lib/pisight/events"), Retention(max_events=500))
    archive.write_record(state)              # <id>.json, the event's latest state
    archive.write_snapshot(event_id, jpeg)   # <id>.jpg
    clip = archive.open_clip(event_id, fps=15.0, size=(640, 480)); clip.add(image); clip.finish()
    archive.enforce()                        # oldest events go until every limit holds
    archive.recent(20), archive.file(event_id, "clip")

Every file is written under a hidden temporary name and renamed into place (os.replace,
atomic on one file system), so a reader never sees half a clip; a crash leaves only
hidden temporaries, which the next start removes. Retention counts an event's files
together and removes the oldest events (by start time, which leads the id) first.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pisight.device.events.event import EventState

log = logging.getLogger("pisight.events")
EVENT_ID = re.compile(r"^\d+\.\d+-[a-z0-9]{6}$")
SUFFIXES = {"record": ".json", "snapshot": ".jpg", "clip": ".mp4"}


@dataclass(frozen=True)
class Retention:
    max_events: int = 500
    max_mb: float = 1000.0
    max_age_days: float = 7.0

    def __post_init__(self) -> None:
        if self.max_events < 1 or self.max_mb <= 0 or self.max_age_days <= 0:
            raise ValueError("retention limits must be positive")


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


class ClipFile:
    """An MP4 being written under a hidden name; finish() renames it into place."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        # OpenCV picks the container by the extension: the temporary keeps .mp4.
        self._temporary = path.with_name(f".{path.stem}.tmp{path.suffix}")
        self._size = size
        self.frames = 0
        self._writer = cv2.VideoWriter(
            str(self._temporary), cv2.VideoWriter_fourcc(*"mp4v"), fps, size
        )
        if not self._writer.isOpened():
            raise OSError(f"cannot write {self._temporary} (no mp4v encoder, or no room)")

    def add(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self._size:  # the camera changed resolution
            image = cv2.resize(image, self._size)
        self._writer.write(image)
        self.frames += 1

    def finish(self) -> None:
        self._writer.release()
        if self.frames and self._temporary.stat().st_size:
            os.replace(self._temporary, self.path)
        else:
            self._temporary.unlink(missing_ok=True)

    def abandon(self) -> None:
        self._writer.release()
        self._temporary.unlink(missing_ok=True)


class EventArchive:
    def __init__(self, folder: Path, retention: Retention | None = None) -> None:
        self.folder = Path(folder)
        self.retention = retention or Retention()
        self.folder.mkdir(parents=True, exist_ok=True)
        for leftover in self.folder.glob(".*.tmp*"):  # a crash mid-write
            leftover.unlink(missing_ok=True)

    def path(self, event_id: str, kind: str) -> Path:
        if not EVENT_ID.match(event_id):
            raise ValueError(f"not an event id: {event_id!r}")
        return self.folder / f"{event_id}{SUFFIXES[kind]}"

    def write_record(self, state: EventState, extra: dict[str, Any] | None = None) -> None:
        document = {**state.to_json(), **(extra or {})}
        _write_atomically(self.path(state.id, "record"), json.dumps(document).encode())

    def write_snapshot(self, event_id: str, jpeg: bytes) -> None:
        _write_atomically(self.path(event_id, "snapshot"), jpeg)

    def open_clip(self, event_id: str, fps: float, size: tuple[int, int]) -> ClipFile:
        return ClipFile(self.path(event_id, "clip"), fps, size)

    def file(self, event_id: str, kind: str) -> Path | None:
        """The finished file of an event, or None (unknown id, not written yet, removed).
        Events that overlapped share the clip of the first: their records say which."""
        try:
            path = self.path(event_id, kind)
            if kind == "clip":
                path = self.path(self._clip_id(event_id), "clip")
        except ValueError:
            return None
        return path if path.is_file() else None

    def _clip_id(self, event_id: str) -> str:
        try:
            record = json.loads(self.path(event_id, "record").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return event_id
        return str(record.get("clip") or event_id)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        """The latest event records, newest first."""
        documents = []
        for path in sorted(self.folder.glob("*.json"), reverse=True)[:limit]:
            try:
                documents.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # removed meanwhile by retention
        return documents

    def _events(self) -> dict[str, list[Path]]:
        grouped: dict[str, list[Path]] = {}
        for path in self.folder.iterdir():
            event_id = path.name.rsplit(".", 1)[0]
            if not path.name.startswith(".") and EVENT_ID.match(event_id):
                grouped.setdefault(event_id, []).append(path)
        return grouped

    def enforce(self, keep: frozenset[str] = frozenset()) -> int:
        """Remove the oldest events until count, size and age are within the limits;
        `keep` (events still open) is never removed. Returns how many went."""
        limits, grouped = self.retention, self._events()
        sizes = {event_id: sum(_size(p) for p in paths) for event_id, paths in grouped.items()}
        total, count = sum(sizes.values()), len(grouped)
        oldest_allowed = time.time() - limits.max_age_days * 86400
        removed = 0
        for event_id in sorted(grouped, key=lambda e: float(e.split("-")[0])):
            too_old = float(event_id.split("-")[0]) < oldest_allowed
            over = count > limits.max_events or total > limits.max_mb * 2**20
            if event_id in keep or not (too_old or over):
                continue
            for path in grouped[event_id]:
                heir = self._hand_over_clip(event_id, grouped) if path.suffix == ".mp4" else None
                if heir is None:
                    path.unlink(missing_ok=True)
                else:  # the clip lives on under the next event that shows it
                    sizes[event_id] -= _size(heir)
                    sizes[heir.name.rsplit(".", 1)[0]] += _size(heir)
            total -= sizes[event_id]
            count -= 1
            removed += 1
        return removed

    def _hand_over_clip(self, event_id: str, grouped: dict[str, list[Path]]) -> Path | None:
        """Events that overlapped share the first one's clip (their records name it): when
        retention removes that first event, its clip moves to the oldest event still naming
        it, and their records are rewritten to name that one. The new path, or None when no
        other event shows the clip."""
        sharing = []
        for other in sorted(grouped, key=lambda e: float(e.split("-")[0])):
            if other != event_id and self._clip_id(other) == event_id:
                sharing.append(other)
        if not sharing:
            return None
        heir = self.path(sharing[0], "clip")
        os.replace(self.path(event_id, "clip"), heir)
        grouped[sharing[0]].append(heir)
        for other in sharing:
            record_path = self.path(other, "record")
            record = json.loads(record_path.read_text(encoding="utf-8"))
            record["clip"] = sharing[0]
            _write_atomically(record_path, json.dumps(record).encode())
        return heir


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
