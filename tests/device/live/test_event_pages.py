"""/events, /events/<id>/snapshot.jpg and /events/<id>/clip.mp4 on a real server, behind
the live view's auth; and the live page listing them (headless Chromium)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pisight.device.events.archive import EventArchive
from pisight.device.events.event import EventState
from pisight.device.live.broadcast import FrameBroadcast
from pisight.device.live.options import ServerOptions
from pisight.device.live.server import LiveServer
from pisight.device.pipeline.status import RunStatus
from tests.device.live.test_server import basic, request

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from browser import chromium_path, dump_dom

AUTH = basic("pi", "s3cret")


def archive_with_events(folder: Path, count: int = 3) -> tuple[EventArchive, list[str]]:
    archive = EventArchive(folder)
    ids = []
    for index in range(count):
        start = time.time() - 100 + index
        state = EventState(f"{start:.6f}-abc{index:03d}", "cam", "person", index + 1, 0.9, 0.9,
                           (1, 2, 3, 4), (), (), start, start, start + 2, True, True)  # fmt: skip
        archive.write_record(state, {"clip_start": start - 5, "clip_end": start + 7})
        archive.write_snapshot(state.id, b"\xff\xd8snapshot" + bytes([index]))
        clip = archive.open_clip(state.id, 10.0, (64, 48))
        clip.add(np.zeros((48, 64, 3), np.uint8))
        clip.finish()
        ids.append(state.id)
    return archive, ids


def serve(archive: EventArchive | None, auth: tuple[str, str] | None = ("pi", "s3cret")):
    server = LiveServer(ServerOptions(port=0, auth=auth), FrameBroadcast(),
                        lambda: RunStatus(), archive)  # fmt: skip
    server.start()
    return server


def test_events_snapshots_and_clips_behind_auth(tmp_path: Path) -> None:
    archive, ids = archive_with_events(tmp_path)
    server = serve(archive)
    try:
        for path in ("/events", f"/events/{ids[0]}/snapshot.jpg", f"/events/{ids[0]}/clip.mp4"):
            assert request(server, path=path)[0] == 401
        code, headers, body = request(server, path="/events", headers=AUTH)
        assert code == 200 and headers["Content-Type"] == "application/json"
        listed = json.loads(body)["events"]
        assert [e["id"] for e in listed] == ids[::-1]  # newest first
        assert listed[0]["has_clip"] and "clip_start" in listed[0]
        assert [
            e["id"]
            for e in json.loads(request(server, path="/events?limit=1", headers=AUTH)[2])["events"]
        ] == [ids[-1]]
        code, headers, body = request(server, path=f"/events/{ids[1]}/snapshot.jpg", headers=AUTH)
        assert (code, headers["Content-Type"], body) == (200, "image/jpeg", b"\xff\xd8snapshot\x01")
        clip = archive.file(ids[1], "clip")
        code, headers, body = request(server, path=f"/events/{ids[1]}/clip.mp4", headers=AUTH)
        assert (code, headers["Content-Type"]) == (200, "video/mp4") and body == clip.read_bytes()
        code, headers, body = request(server, "HEAD", f"/events/{ids[1]}/clip.mp4", AUTH)
        assert code == 200 and int(headers["Content-Length"]) == clip.stat().st_size and not body
        for path in ("/events/nope/clip.mp4", f"/events/{ids[0]}/other.txt",
                     "/events/..%2F..%2Fetc/snapshot.jpg", f"/events/{ids[0]}"):  # fmt: skip
            assert request(server, path=path, headers=AUTH)[0] == 404
        assert request(server, "POST", "/events", AUTH)[0] == 405
    finally:
        server.stop()


def test_without_event_media_the_routes_say_how_to_get_them(tmp_path: Path) -> None:
    server = serve(None, auth=None)
    try:
        code, _, body = request(server, path="/events")
        assert code == 404 and b"--snapshots or --clips" in body
    finally:
        server.stop()


@pytest.mark.slow
def test_the_live_page_lists_recent_events_with_their_snapshots(tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.skip("no chromium: install Debian's chromium")
    archive, ids = archive_with_events(tmp_path, 2)
    server = serve(archive, auth=None)
    try:
        dom = dump_dom(f"http://127.0.0.1:{server.address[1]}/", wait_ms=2500)
    finally:
        server.stop()
    assert '<section id="events">' in dom  # no longer hidden
    for event_id in ids:
        assert f'src="/events/{event_id}/snapshot.jpg"' in dom
        assert f'href="/events/{event_id}/clip.mp4"' in dom
