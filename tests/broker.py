"""A real MQTT broker (Debian's mosquitto) on a free loopback port, and a real subscriber.

    broker = Broker(tmp_path)          # or the `broker` fixture of tests/conftest.py
    broker.start()
    with Subscriber(broker.port, "pisight/#") as sub:
        ...                            # sub.messages: every (topic, payload, retained)
        sub.wait_for(lambda ms: len(ms) >= 3)
    broker.stop(); broker.start()      # an outage: the same port again

Anonymous, and persistent as Home Assistant's add-on broker is: it saves after every
change, so a broker killed and restarted still holds the retained messages and a
persistent subscriber's session (what was queued for it while it was away), and a test
can tell what the publisher lost from what a dead broker lost. Tests skip where mosquitto
is missing (.ci/run installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from tests.helpers import free_port, wait_until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def have_mosquitto() -> bool:
    return Path(MOSQUITTO).exists()


class Broker:
    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {directory}/\n"
            "autosave_interval 1\nautosave_on_changes true\n"
            f"log_dest file {directory / 'mosquitto.log'}\n"
        )
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.config)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_until(self._listening, timeout=10):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen on port {self.port}")

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Kill it (as a crash or a reboot would), and wait until it is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Subscriber:
    """A paho client subscribed to a filter, collecting every message it gets (QoS 1)."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "") -> None:
        self.port, self.topic = port, topic
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        # A persistent session: what the broker queued for us during our own reconnect
        # still arrives.
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"test-{free_port()}",
            clean_session=not client_id,
        )  # fmt: skip
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = lambda *args: self._subscribed.set()
        self._client.reconnect_delay_set(1, 2)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def __enter__(self) -> Subscriber:
        self._client.connect_async("127.0.0.1", self.port)
        self._client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("the subscriber could not subscribe")
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def wait_for(self, condition: Callable[[list], bool], timeout: float = 20.0) -> bool:
        return wait_until(lambda: condition(self.snapshot()), timeout=timeout, interval=0.05)

    def payloads(self, topic: str) -> list[bytes]:
        return [payload for t, payload, _ in self.snapshot() if t == topic]


def retained(port: int, topic: str, wait_s: float = 1.0) -> dict[str, bytes]:
    """What the broker holds retained under a filter now: a fresh subscriber's first look."""
    with Subscriber(port, topic) as sub:
        time.sleep(wait_s)
        return {t: payload for t, payload, kept in sub.snapshot() if kept}
