"""MqttPublisher: events through the on-disk spool to the broker, states, discovery; its own
thread, so the pipeline never waits for a network or a disk.

    publisher = MqttPublisher(options, labels=("person",), zones=("door",), lines=("street",))
    publisher.watch_counts(pipeline.counts)   # zone and line states, polled twice a second
    publisher.start()
    publisher.send(message)                   # EventSink: from the decode thread, returns at once
    publisher.publish_snapshot(jpeg)          # the latest event snapshot (any thread)
    publisher.close()                         # drains what it can, then "offline"

Delivery: every event message goes into the spool first (durable), then out at QoS 1,
oldest first, at most WINDOW unacknowledged; a row leaves the spool only when the broker's
PUBACK for it arrives (on_publish with its mid). While the broker is away nothing is sent
and rows wait; on reconnect paho resends what was in flight (clean session) and the spool
sends the rest. So a subscriber may see a message twice (QoS 1 is at least once) but never
misses one: deduplicate by event id. States (objects/<label>, zones, lines, snapshot) are
retained latest values, sent on change and again after every reconnect, not spooled.
Reconnects back off from 1 s to options.reconnect_max_s (paho's loop).
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from pisight.device.events.discovery import discovery_configs
from pisight.device.events.event import EventMessage
from pisight.device.events.mqtt_options import MqttOptions
from pisight.device.events.spool import Spool
from pisight.device.zones.counting import Counts

log = logging.getLogger("pisight.events")
WINDOW = 20  # unacknowledged events at most: paho's own in-flight limit
RESEND_S = 30.0  # an event unacknowledged this long on a live connection is sent again
# paho resends what was in flight right after on_connect returns, on its own thread: new
# rows wait this long after a reconnect so they cannot overtake those resends. Not after
# the first connect: nothing was in flight, and the events spooled at start would wait.
SETTLE_S = 0.2
COUNTS_EVERY_S = 0.5
TICK_S = 0.1


@dataclass
class _Flight:
    row: int
    sent_at: float


class MqttPublisher:
    def __init__(
        self, options: MqttOptions, labels: Sequence[str] = (), zones: Sequence[str] = (),
        lines: Sequence[str] = (), model: str = "", camera: bool = True,
    ) -> None:  # fmt: skip
        """camera: announce the snapshot camera to Home Assistant (snapshots are kept)."""
        self.options = options
        self.labels, self.zones, self.lines = tuple(labels), tuple(zones), tuple(lines)
        self.model, self.camera = model, camera
        self._spool = Spool(options.spool, options.spool_max)  # a bad path fails here
        self._inbox: queue.SimpleQueue[EventMessage] = queue.SimpleQueue()
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._wake, self._stop = threading.Event(), threading.Event()
        self._connected = threading.Event()
        self._fresh = threading.Event()  # a connection came up: announce everything again
        self._connected_at = 0.0
        self._settled_at = 0.0  # monotonic time from which new rows may go out
        self._in_flight: dict[int, _Flight] = {}  # mid -> spool row
        self._states: dict[str, bytes] = {}  # retained topic -> payload last sent
        self._open: dict[str, set[str]] = {}  # label -> open event ids
        self._counts: Callable[[], Counts | None] = lambda: None
        self._snapshot: bytes | None = None
        self._snapshot_sent: bytes | None = None
        self._thread: threading.Thread | None = None
        self._drain_until = 0.0
        self.published = 0
        """Events the broker acknowledged since this process started."""
        self._client = self._make_client()
        log.info("event spool %s: %d waiting, bound %d", options.spool, len(self._spool),
                 options.spool_max)  # fmt: skip

    # -- any thread ------------------------------------------------------------------

    def send(self, message: EventMessage) -> None:
        self._inbox.put(message)
        self._wake.set()

    def publish_snapshot(self, jpeg: bytes) -> None:
        self._snapshot = jpeg  # one reference swap: the latest wins
        self._wake.set()

    def watch_counts(self, counts: Callable[[], Counts | None]) -> None:
        self._counts = counts

    def readings(self) -> dict[str, Any]:
        """RunStatus fields: events waiting, dropped, acknowledged; broker connected."""
        return {
            "events_spooled": len(self._spool), "events_dropped": self._spool.dropped,
            "events_published": self.published, "mqtt_connected": self._connected.is_set(),
        }  # fmt: skip

    def start(self) -> None:
        options = self.options
        self._client.connect_async(options.host, options.port, keepalive=options.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, name="mqtt-publish", daemon=True)
        self._thread.start()

    def close(self, drain_s: float = 1.5) -> None:
        """Send what can be sent within drain_s; the rest stays spooled for the next run."""
        self._drain_until = time.monotonic() + drain_s
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=drain_s + 2.0)
        else:
            self._spool.close()

    # -- paho's network thread: only flags and queues -----------------------------------

    def _make_client(self) -> mqtt.Client:
        options = self.options
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=options.client_id,
            protocol=mqtt.MQTTv311, clean_session=True,
        )  # fmt: skip
        if options.username:
            client.username_pw_set(options.username, options.password)
        if options.tls:
            try:
                client.tls_set(ca_certs=str(options.ca_file) if options.ca_file else None)
            except OSError as exc:  # ssl.SSLError is one too
                raise ValueError(
                    f"[mqtt] ca_file {options.ca_file}: cannot load it as a CA certificate "
                    f"({exc}); give a PEM file, or leave ca_file out for the system's CAs"
                ) from None
        client.will_set(options.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(1, options.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.options.host, reason)
            return
        log.info("connected to the broker %s:%d", self.options.host, self.options.port)
        first = self._connected_at == 0.0
        self._connected_at = time.monotonic()
        self._settled_at = self._connected_at + (0.0 if first else SETTLE_S)
        self._connected.set()
        self._fresh.set()
        self._wake.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any,
                       props: Any) -> None:  # fmt: skip
        if self._connected.is_set() and not self._stop.is_set():
            log.warning("lost the broker %s (%s); events wait in the spool, reconnecting",
                        self.options.host, reason)  # fmt: skip
        self._connected.clear()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._acks.put(mid)
        self._wake.set()

    # -- the publisher's thread ----------------------------------------------------------

    def _run(self) -> None:
        next_counts = 0.0
        try:
            while True:
                news = self._take_inbox()
                self._take_acks()
                if self._connected.is_set():
                    if self._fresh.is_set():
                        self._fresh.clear()
                        self._announce()
                    self._send_spooled()
                    if news or time.monotonic() >= next_counts:  # ON with the new event
                        next_counts = time.monotonic() + COUNTS_EVERY_S
                        self._send_states()
                if self._stop.is_set() and self._drained():
                    break
                self._wake.wait(TICK_S)
                self._wake.clear()
        finally:
            self._finish()

    def _drained(self) -> bool:
        """Closing: done when all is sent, or at the deadline (the rest stays spooled). A
        short run may end before its first connect: it waits for that, too."""
        if time.monotonic() >= self._drain_until:
            return True
        return self._connected.is_set() and not len(self._spool) and self._inbox.empty()

    def _take_inbox(self) -> bool:
        """Spool every waiting message; whether there were any."""
        news = False
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return news
            news = True
            self._spool.add(self.options.topics.events, message.payload())
            for label in {message.before.label, message.after.label}:
                self._open.setdefault(label, set()).discard(message.id)
            if message.type != "end":
                self._open.setdefault(message.after.label, set()).add(message.id)

    def _take_acks(self) -> None:
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                return
            flight = self._in_flight.pop(mid, None)
            if flight is not None:  # else a retained state or a resend's twin
                # Counted first: a reader that sees the spool empty sees every ack counted.
                self.published += 1
                self._spool.remove(flight.row)

    def _send_spooled(self) -> None:
        now = time.monotonic()
        if now < self._settled_at:
            return  # the loop's next tick (TICK_S) comes back
        for mid, flight in list(self._in_flight.items()):
            if now - max(flight.sent_at, self._connected_at) > RESEND_S:
                del self._in_flight[mid]  # lost somewhere: send it again (dedupe by id)
        room = WINDOW - len(self._in_flight)
        if room <= 0:
            return
        flying = {flight.row for flight in self._in_flight.values()}
        for row, topic, payload in self._spool.oldest(room, flying):
            info = self._client.publish(topic, payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return  # the connection just went; the row stays for the next one
            self._in_flight[info.mid] = _Flight(row, now)

    def _announce(self) -> None:
        """After each connect: online, discovery (or its removal), every state again."""
        topics = self.options.topics
        self._client.publish(topics.availability, "online", qos=1, retain=True)
        configs = discovery_configs(self.options, self.labels, self.zones, self.lines,
                                    self.model, self.camera)  # fmt: skip
        for topic, config in configs:
            payload = json.dumps(config) if self.options.discovery else b""
            self._client.publish(topic, payload, qos=1, retain=True)
        # A zone, line or label taken out of the config since the last announcement: an
        # empty retained payload removes its entity, as for discovery turned off.
        current = {topic for topic, _ in configs}
        for topic in sorted(self._spool.announced() - current):
            self._client.publish(topic, b"", qos=1, retain=True)
        self._spool.remember_announced(current if self.options.discovery else set())
        self._states.clear()
        self._snapshot_sent = None
        self._send_states()

    def _send_states(self) -> None:
        topics = self.options.topics
        states = {topics.objects(label): "ON" if self._open.get(label) else "OFF"
                  for label in self.labels}  # fmt: skip
        counts = self._counts()
        if counts is not None:
            states |= {topics.zone(zone.name): str(zone.total) for zone in counts.zones}
            for line in counts.lines:
                states[topics.line(line.name, "in")] = str(line.total_in)
                states[topics.line(line.name, "out")] = str(line.total_out)
        for topic, text in states.items():
            payload = text.encode()
            if self._states.get(topic) != payload:
                self._client.publish(topic, payload, qos=1, retain=True)
                self._states[topic] = payload
        snapshot = self._snapshot
        if snapshot is not None and snapshot is not self._snapshot_sent:
            self._client.publish(topics.snapshot, snapshot, qos=1, retain=True)
            self._snapshot_sent = snapshot

    def _finish(self) -> None:
        self._take_inbox()  # whatever came last is spooled, never lost
        if self._connected.is_set():
            self._send_states()
            info = self._client.publish(self.options.topics.availability, "offline", qos=1,
                                        retain=True)  # fmt: skip
            # A clean exit sends no last will; if the connection went meanwhile, it does.
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=0.5)
            self._take_acks()
        self._client.disconnect()
        self._client.loop_stop()
        self._spool.close()
