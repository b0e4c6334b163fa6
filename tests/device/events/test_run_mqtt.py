"""`pisight run --mqtt` end to end: the shipped demo detector on a synthetic video with known
crossings, a real mosquitto, a real subscriber; the broker killed for 10 s mid-run, and
`pisight run` killed with events still spooled.

Expected events come from the run's own detections log: with min_hits 1 and min_score 0
every confirmed track id there is exactly one event (new ... end), so nothing here is a
hard-coded count. Line crossings are checked against the video's ground truth.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.broker import Broker, Subscriber, have_mosquitto
from tests.device.events.conftest import DEMO, SIZE
from tests.helpers import wait_until

pytestmark = pytest.mark.skipif(not have_mosquitto(), reason="needs Debian's mosquitto")
EVENTS = "pisight/test/events"


def true_crossings(video: Path) -> tuple[int, int]:
    """(in, out) of the line y = 0.5 drawn left to right: in is downwards (its right)."""
    paths: dict[int, list[float]] = {}
    for frame in json.loads(video.with_suffix(".json").read_text()):
        for obj in frame["objects"]:
            paths.setdefault(obj["object"], []).append(obj["center"][1] / SIZE[1])
    down = sum(1 for ys in paths.values() if ys[0] < 0.4 and ys[-1] > 0.6)
    up = sum(1 for ys in paths.values() if ys[0] > 0.6 and ys[-1] < 0.4)
    return down, up


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "pisight.toml"
    path.write_text(
        f'[model]\npath = "{DEMO}"\nprobe = false\n[live]\nenabled = false\n'
        "[events]\nmin_score = 0.0\nmin_hits = 1\n"
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nname = "test"\n'
        f'spool = "{tmp_path / "spool.sqlite"}"\n'
        '[[lines]]\nname = "middle"\nstart = [0.0, 0.5]\nend = [1.0, 0.5]\nanchor = "center"\n'
    )
    return path


def start_run(config: Path, video: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pisight.device.cli", "run", "--config", str(config),
         "--source", str(video), *flags],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def events_of(sub: Subscriber) -> list[dict]:
    """Every event message received, duplicates (QoS 1 resends) dropped, in arrival order."""
    seen, unique = set(), []
    for payload in sub.payloads(EVENTS):
        if payload not in seen:
            seen.add(payload)
            unique.append(json.loads(payload))
    return unique


def track_ids_logged(detections: Path) -> set[int]:
    return {
        d["track_id"] for line in detections.read_text().splitlines()
        for d in json.loads(line)["detections"] if d.get("track_id") is not None
    }  # fmt: skip


def spooled_ids(spool: Path) -> list[str]:
    """The event ids waiting in a spool file, oldest first ([] while it is being created)."""
    if not spool.exists():
        return []
    try:
        with sqlite3.connect(spool) as db:
            rows = db.execute("SELECT payload FROM spool ORDER BY row").fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        return []
    return [json.loads(payload)["after"]["id"] for (payload,) in rows]


def check_lifecycles(events: list[dict]) -> dict[str, list[dict]]:
    """Per event id: new first, end last, updates between, frame times in order."""
    by_id: dict[str, list[dict]] = {}
    for event in events:
        by_id.setdefault(event["after"]["id"], []).append(event)
    for messages in by_id.values():
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "new" and kinds[-1] == "end" and "new" not in kinds[1:], kinds
        assert kinds.count("end") == 1
        times = [m["after"]["frame_time"] for m in messages]
        assert times == sorted(times)
        assert len({m["after"]["track_id"] for m in messages}) == 1
    return by_id


@pytest.mark.slow  # a 10-second broker outage inside a 16-second run is the point
def test_every_event_arrives_across_a_ten_second_broker_outage(
    tmp_path: Path, crossing: Path
) -> None:
    broker = Broker(tmp_path)
    broker.start()
    config = write_config(tmp_path, broker.port)
    detections, log = tmp_path / "d.jsonl", tmp_path / "m.csv"
    try:
        # A persistent session: what the restarted broker queued for us before we were
        # back still arrives.
        with Subscriber(broker.port, "pisight/#", client_id="pisight-test-outage") as sub:
            run = start_run(config, crossing, "--loop", "--realtime", "--frames", "480",
                            "--detections", str(detections), "--log", str(log))  # fmt: skip
            assert sub.wait_for(lambda _: events_of(sub), timeout=60), "no event before the outage"
            killed_at = time.time()
            broker.stop()
            time.sleep(10)
            broker.start()
            back_at = time.time()
            _, stderr = run.communicate(timeout=90)
            assert run.returncode == 0, stderr
            expected = track_ids_logged(detections)
            assert sub.wait_for(
                lambda _: (
                    {e["after"]["track_id"] for e in events_of(sub) if e["type"] == "end"}
                    >= expected
                ),
                timeout=30,
            )
            events = events_of(sub)
    finally:
        broker.stop()
    by_id = check_lifecycles(events)
    assert {m[0]["after"]["track_id"] for m in by_id.values()} == expected  # one per track
    during = [e for e in events if killed_at < e["after"]["frame_time"] < back_at]
    assert during, "no event happened during the outage: the run was too short"
    assert "lost the broker" in stderr and stderr.count("connected to the broker") >= 2
    labels = {frame["label"] for frame in json.loads(crossing.with_suffix(".json").read_text())
              for frame in frame["boxes"]}  # fmt: skip
    assert {e["after"]["label"] for e in events} <= labels


def test_events_spooled_when_pisight_is_killed_arrive_after_a_restart(
    tmp_path: Path, crossing: Path
) -> None:
    broker = Broker(tmp_path)  # not running: the Pi is offline
    config = write_config(tmp_path, broker.port)
    spool = tmp_path / "spool.sqlite"
    run = start_run(config, crossing, "--loop", "--realtime")
    try:
        assert wait_until(lambda: len(spooled_ids(spool)) >= 4, timeout=60)
    finally:
        run.send_signal(signal.SIGKILL)  # a power cut: no clean shutdown
        run.communicate(timeout=10)
    waiting = spooled_ids(spool)
    assert len(waiting) >= 4
    broker.start()
    try:
        with Subscriber(broker.port, "pisight/#") as sub:
            again = start_run(config, crossing, "--loop", "--realtime")
            try:
                assert sub.wait_for(lambda _: {e["after"]["id"] for e in events_of(sub)}
                                    >= set(waiting), timeout=30)  # fmt: skip
                # The spooled ones come first, oldest first.
                ids = list(dict.fromkeys(e["after"]["id"] for e in events_of(sub)))
                assert ids[: len(set(waiting))] == list(dict.fromkeys(waiting))
                assert sub.payloads("pisight/test/availability")[-1] == b"online"
            finally:
                again.send_signal(signal.SIGKILL)
                again.communicate(timeout=10)
            # The broker tells everyone the Pi is gone: the last will.
            assert sub.wait_for(lambda _: sub.payloads("pisight/test/availability")[-1]
                                == b"offline", timeout=60)  # fmt: skip
    finally:
        broker.stop()


def test_line_counts_reach_the_broker_as_the_video_has_them(
    tmp_path: Path, crossing: Path, broker: Broker
) -> None:
    config = write_config(tmp_path, broker.port)
    with Subscriber(broker.port, "pisight/test/lines/#") as sub:
        result = subprocess.run(
            [sys.executable, "-m", "pisight.device.cli", "run", "--config", str(config),
             "--source", str(crossing)], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        down, up = true_crossings(crossing)
        assert (down, up) == (2, 2)  # the scenario: two pairs, one each way
        assert sub.wait_for(lambda _: sub.payloads("pisight/test/lines/middle/in")[-1:]
                            == [str(down).encode()], timeout=10)  # fmt: skip
        assert sub.payloads("pisight/test/lines/middle/out")[-1] == str(up).encode()
