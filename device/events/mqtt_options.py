"""Where events go over MQTT: MqttOptions, the --mqtt URL, and every topic's name.

    options = MqttOptions(host="broker.lan", name="porch")
    options.topics.events               # "pisight/porch/events"
    options.topics.zone("front door")   # "pisight/porch/zones/front_door/occupancy"
    parse_mqtt_url("mqtt://pi@broker.lan:1884")   # ("pi", "broker.lan", 1884, False)

Topics under the prefix (default pisight/<name>), all QoS 1:

| topic | payload | retained |
|---|---|---|
| availability | online / offline (offline is also the last will) | yes |
| events | an event message, JSON (events/event.py) | no |
| objects/<label> | ON while an event of that class is open, else OFF | yes |
| zones/<zone>/occupancy | tracks inside now | yes |
| lines/<line>/in, lines/<line>/out | crossings so far | yes |
| snapshot | the latest event snapshot, JPEG bytes | yes |
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

PASSWORD_ENV = "PISIGHT_MQTT_PASSWORD"
DEFAULT_PORT, TLS_PORT = 1883, 8883


def slug(text: str) -> str:
    """A name made safe for a topic level and a Home Assistant object id."""
    return re.sub(r"[^a-z0-9_-]+", "_", text.strip().lower()).strip("_") or "x"


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def availability(self) -> str:
        return f"{self.prefix}/availability"

    @property
    def events(self) -> str:
        return f"{self.prefix}/events"

    @property
    def snapshot(self) -> str:
        return f"{self.prefix}/snapshot"

    def objects(self, label: str) -> str:
        return f"{self.prefix}/objects/{slug(label)}"

    def zone(self, name: str) -> str:
        return f"{self.prefix}/zones/{slug(name)}/occupancy"

    def line(self, name: str, direction: str) -> str:
        return f"{self.prefix}/lines/{slug(name)}/{direction}"


def state_path(name: str) -> Path:
    """systemd's StateDirectory= when the service runs us, else the user's state folder."""
    state = os.environ.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / name
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "pisight" / name


def default_spool() -> Path:
    return state_path("events.sqlite")


@dataclass(frozen=True)
class MqttOptions:
    host: str
    port: int = DEFAULT_PORT
    tls: bool = False
    ca_file: Path | None = None
    """A CA certificate for a broker with its own CA; None trusts the system's CAs."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    """From [mqtt] password_file or $PISIGHT_MQTT_PASSWORD, never from a command line."""
    name: str = field(default_factory=socket.gethostname)
    """This device in topics and in Home Assistant."""
    client_id: str = ""
    """Default pisight-<name>: a broker drops an older connection with the same id."""
    topic_prefix: str = ""
    """Default pisight/<name>."""
    discovery: bool = True
    """Publish Home Assistant discovery configs; False publishes empty ones (removal)."""
    discovery_prefix: str = "homeassistant"
    spool: Path = field(default_factory=default_spool)
    spool_max: int = 10000
    """Events kept waiting at most; past it the oldest are dropped, logged and counted."""
    keepalive_s: int = 30
    reconnect_max_s: int = 10
    """Reconnect backoff doubles from 1 s up to this."""

    def __post_init__(self) -> None:
        if not self.client_id:
            object.__setattr__(self, "client_id", f"pisight-{slug(self.name)}")
        if not self.topic_prefix:
            object.__setattr__(self, "topic_prefix", f"pisight/{slug(self.name)}")
        if any(c in self.topic_prefix for c in "#+") or self.topic_prefix.endswith("/"):
            raise ValueError("topic_prefix must not hold # or + nor end with /")
        if self.spool_max < 1:
            raise ValueError("spool_max must be at least 1")

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)


def parse_mqtt_url(url: str) -> tuple[str | None, str, int, bool]:
    """--mqtt mqtt://[USER@]HOST[:PORT] (mqtts:// for TLS) -> (user, host, port, tls)."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ValueError(
            f"--mqtt {url}: give mqtt://[USER@]HOST[:PORT] (mqtts:// for TLS), "
            "e.g. mqtt://pisight@192.168.1.10"
        )
    if parts.password is not None:
        raise ValueError(
            f"--mqtt: no password on the command line (ps shows it); put it in [mqtt] "
            f"password_file or ${PASSWORD_ENV}"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"--mqtt {url}: only mqtt://[USER@]HOST[:PORT], no path or query")
    tls = parts.scheme == "mqtts"
    try:
        port = parts.port or (TLS_PORT if tls else DEFAULT_PORT)
    except ValueError:
        raise ValueError(f"--mqtt {url}: the port must be a number 1-65535") from None
    return parts.username or None, parts.hostname, port, tls
