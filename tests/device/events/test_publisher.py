"""MqttPublisher against a real mosquitto: delivery in order, outages, the spool's bound and
its survival across restarts, retained states. tests/broker.py starts the broker."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from pisight.device.events.event import EventMessage, EventState
from pisight.device.events.mqtt_options import MqttOptions
from pisight.device.events.publisher import SETTLE_S, MqttPublisher
from pisight.device.events.spool import Spool, SpoolError
from pisight.device.zones.counting import Counts, LineCount, ZoneCount
from tests.broker import Broker, Subscriber, retained
from tests.helpers import wait_until

EVENTS = "pisight/cam/events"


def message(index: int, kind: str = "new", label: str = "person") -> EventMessage:
    state = EventState(f"{index}.0-test{index:02d}", "cam", label, index, 0.9, 0.9,
                       (0, 0, 10, 10), (), (), float(index), float(index))  # fmt: skip
    return EventMessage(kind, state, state)  # type: ignore[arg-type]


def options(tmp_path: Path, port: int, **more) -> MqttOptions:
    return MqttOptions(host="127.0.0.1", port=port, name="cam", spool=tmp_path / "spool.sqlite",
                       reconnect_max_s=1, **more)  # fmt: skip


def ids(payloads: list[bytes]) -> list[str]:
    return [json.loads(p)["after"]["id"] for p in payloads]


def unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def test_events_arrive_in_order_and_leave_the_spool(tmp_path: Path, broker: Broker) -> None:
    publisher = MqttPublisher(options(tmp_path, broker.port), labels=("person",))
    with Subscriber(broker.port, "pisight/#") as sub:
        publisher.start()
        sent = [message(i) for i in range(30)]
        for m in sent:
            publisher.send(m)
        assert sub.wait_for(lambda _: len(unique(ids(sub.payloads(EVENTS)))) == 30)
        assert wait_until(lambda: publisher.readings()["events_spooled"] == 0)
        assert unique(ids(sub.payloads(EVENTS))) == [m.id for m in sent]
        readings = publisher.readings()
        assert readings["events_published"] == 30 and readings["mqtt_connected"] is True
        assert sub.payloads("pisight/cam/availability")[-1] == b"online"
        publisher.close()
        assert sub.wait_for(lambda _: sub.payloads("pisight/cam/availability")[-1] == b"offline")
    assert len(Spool(tmp_path / "spool.sqlite", 10)) == 0


def test_an_outage_loses_nothing_and_order_holds(tmp_path: Path, broker: Broker) -> None:
    publisher = MqttPublisher(options(tmp_path, broker.port))
    publisher.start()
    sent = [message(i) for i in range(40)]
    # A persistent subscriber session would lose what the broker held when it died; a
    # subscriber that reconnects to the new broker sees what the publisher sends again.
    with Subscriber(broker.port, EVENTS) as sub:
        for m in sent[:10]:
            publisher.send(m)
        assert sub.wait_for(lambda _: len(sub.payloads(EVENTS)) >= 10)
        broker.stop()
        assert wait_until(lambda: not publisher.readings()["mqtt_connected"], timeout=5)
        for m in sent[10:]:
            publisher.send(m)  # the broker is away: they wait on disk
        assert wait_until(lambda: publisher.readings()["events_spooled"] == 30, timeout=5)
        broker.start()
        assert sub.wait_for(lambda _: len(unique(ids(sub.payloads(EVENTS)))) == 40, timeout=30)
        assert unique(ids(sub.payloads(EVENTS))) == [m.id for m in sent]
    publisher.close()


def test_the_spool_bound_drops_the_oldest_and_counts_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(tmp_path)  # not started yet: the broker is away
    publisher = MqttPublisher(options(tmp_path, broker.port, spool_max=3))
    publisher.start()
    with caplog.at_level(logging.WARNING, "pisight.events"):
        for i in range(5):
            publisher.send(message(i))
        assert wait_until(lambda: publisher.readings()["events_dropped"] == 2, timeout=5)
    assert publisher.readings()["events_spooled"] == 3
    assert any("full (3 events)" in r.getMessage() for r in caplog.records)
    broker.start()
    try:
        with Subscriber(broker.port, EVENTS) as sub:
            assert sub.wait_for(lambda _: len(unique(ids(sub.payloads(EVENTS)))) == 3, timeout=20)
            assert unique(ids(sub.payloads(EVENTS))) == [message(i).id for i in (2, 3, 4)]
        publisher.close()
    finally:
        broker.stop()


def test_spooled_events_survive_a_restart(tmp_path: Path) -> None:
    broker = Broker(tmp_path)
    first = MqttPublisher(options(tmp_path, broker.port))
    first.start()
    for i in range(6):
        first.send(message(i))
    first.close()  # the broker never came: all six stay on disk
    assert len(Spool(tmp_path / "spool.sqlite", 100)) == 6
    broker.start()
    try:
        with Subscriber(broker.port, EVENTS) as sub:
            second = MqttPublisher(options(tmp_path, broker.port))
            second.start()
            assert sub.wait_for(lambda _: len(unique(ids(sub.payloads(EVENTS)))) == 6)
            assert unique(ids(sub.payloads(EVENTS))) == [message(i).id for i in range(6)]
            assert wait_until(lambda: second.readings()["events_spooled"] == 0)
            second.close()
    finally:
        broker.stop()


def test_states_are_retained_and_follow_the_events(tmp_path: Path, broker: Broker) -> None:
    counts = Counts((ZoneCount("front door", {"person": 2}),),
                    (LineCount("street", {"car": 3}, {"car": 1}),))  # fmt: skip
    publisher = MqttPublisher(options(tmp_path, broker.port), labels=("person", "car"),
                              zones=("front door",), lines=("street",))  # fmt: skip
    publisher.watch_counts(lambda: counts)
    publisher.start()
    publisher.send(message(1, "new"))
    publisher.publish_snapshot(b"\xff\xd8jpeg")
    assert wait_until(lambda: retained(broker.port, "pisight/#", 0.3).get(
        "pisight/cam/objects/person") == b"ON", timeout=10)  # fmt: skip
    held = retained(broker.port, "pisight/#")
    assert held["pisight/cam/objects/car"] == b"OFF"
    assert held["pisight/cam/zones/front_door/occupancy"] == b"2"
    assert held["pisight/cam/lines/street/in"] == b"3"
    assert held["pisight/cam/lines/street/out"] == b"1"
    assert held["pisight/cam/snapshot"] == b"\xff\xd8jpeg"
    assert held["pisight/cam/availability"] == b"online"
    assert EVENTS not in held  # events are news, not state
    publisher.send(message(1, "end"))
    assert wait_until(lambda: retained(broker.port, "pisight/cam/objects/#", 0.3).get(
        "pisight/cam/objects/person") == b"OFF", timeout=10)  # fmt: skip
    publisher.close()


def test_an_unwritable_spool_is_one_line_with_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpoolError, match=r"\[mqtt\] spool .*cannot open it.*writable"):
        Spool(blocker / "spool.sqlite", 10)


def test_a_bad_ca_file_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"\[mqtt\] ca_file .*cannot load it"):
        MqttPublisher(options(tmp_path, 1, tls=True, ca_file=bad))


def test_only_a_reconnect_holds_new_rows_back(tmp_path: Path) -> None:
    """paho resends what was in flight after a reconnect, so new rows wait SETTLE_S then;
    after the first connect nothing was in flight and the spooled rows go at once (they
    waited 0.2 s each start, which the events benchmark read as detection-to-broker latency)."""
    publisher = MqttPublisher(options(tmp_path, 1))
    connected = SimpleNamespace(is_failure=False)
    try:
        publisher._on_connect(None, None, None, connected, None)
        assert publisher._settled_at == publisher._connected_at
        publisher._on_connect(None, None, None, connected, None)
        assert publisher._settled_at == pytest.approx(publisher._connected_at + SETTLE_S)
    finally:
        publisher.close()
