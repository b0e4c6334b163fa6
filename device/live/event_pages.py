"""The live view's event routes, behind the same auth as the stream:

    /events                       recent events as JSON, newest first (?limit=N, 1-200)
    /events/<id>/snapshot.jpg     the event's best frame, boxes drawn
    /events/<id>/clip.mp4         its clip, pre-roll to post-roll

    answer = event_answer(archive, "/events/1732269000.123456-k3x9qa/clip.mp4", "")
    answer.code, answer.content_type, answer.body or answer.file

Served from the EventArchive folder (events/archive.py): only finished files are there,
and an id must look like one, so no path leaves the folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from pisight.device.events.archive import EventArchive

_KINDS = {"snapshot.jpg": ("snapshot", "image/jpeg"), "clip.mp4": ("clip", "video/mp4")}


@dataclass(frozen=True)
class EventAnswer:
    code: int
    content_type: str = "text/plain; charset=utf-8"
    body: bytes = b""
    file: Path | None = None
    """Sent in chunks instead of body: a clip can be megabytes."""


def is_event_path(path: str) -> bool:
    return path == "/events" or path.startswith("/events/")


def _limit(query: str) -> int:
    values = parse_qs(query).get("limit", ["50"])
    return min(200, max(1, int(values[0]))) if values[0].isdigit() else 50


def event_answer(archive: EventArchive | None, path: str, query: str) -> EventAnswer:
    if archive is None:
        return EventAnswer(404, body=b"no event media: run with --snapshots or --clips\n")
    if path == "/events":
        body = json.dumps({"events": archive.recent(_limit(query))}).encode()
        return EventAnswer(200, "application/json", body)
    parts = path.removeprefix("/events/").split("/")
    if len(parts) == 2 and parts[1] in _KINDS:
        kind, content_type = _KINDS[parts[1]]
        found = archive.file(parts[0], kind)
        if found is not None:
            return EventAnswer(200, content_type, file=found)
    return EventAnswer(404, body=b"no such event file\n")
