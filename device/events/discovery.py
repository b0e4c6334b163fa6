"""Home Assistant MQTT discovery: the retained config messages that make the device appear in
Home Assistant with nothing to install there.

    for topic, config in discovery_configs(options, labels, zones, lines, model="demo"):
        client.publish(topic, json.dumps(config), qos=1, retain=True)   # b"" removes one

Entities (one device, `pisight <name>`, every entity tied to the availability topic,
so the last will marks them all unavailable when the Pi drops off):
- binary_sensor per watched class, "<label> detected": ON while an event of it is open;
- sensor per zone, its occupancy now; sensors per line, crossings in and out;
- camera, fed by the snapshot topic (JPEG bytes).
Topics: <discovery_prefix>/<component>/<node>/<object>/config (Home Assistant's
discovery documentation, https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pisight.device.events.mqtt_options import MqttOptions, slug

Config = dict[str, Any]


def _device(options: MqttOptions, node: str, model: str) -> Config:
    return {
        "identifiers": [f"pisight_{node}"], "name": f"pisight {options.name}",
        "manufacturer": "pisight", "model": model or "detector",
    }  # fmt: skip


def discovery_configs(
    options: MqttOptions, labels: Sequence[str], zones: Sequence[str] = (),
    lines: Sequence[str] = (), model: str = "", camera: bool = True,
) -> list[tuple[str, Config]]:  # fmt: skip
    """(config topic, config) for every entity of this device, in a stable order."""
    topics, node = options.topics, slug(options.name)
    common: Config = {
        "availability_topic": topics.availability, "payload_available": "online",
        "payload_not_available": "offline", "qos": 1, "device": _device(options, node, model),
    }  # fmt: skip
    prefix = options.discovery_prefix

    def entity(component: str, object_id: str, name: str, **fields: Any) -> tuple[str, Config]:
        unique = f"pisight_{node}_{object_id}"
        config = {"name": name, "unique_id": unique, "object_id": unique, **fields, **common}
        return f"{prefix}/{component}/{node}/{object_id}/config", config

    configs = [
        entity(
            "binary_sensor",
            f"{slug(label)}_detected",
            f"{label} detected",
            state_topic=topics.objects(label),
            payload_on="ON",
            payload_off="OFF",
            device_class="occupancy",
        )
        for label in labels
    ]
    configs += [
        entity(
            "sensor",
            f"zone_{slug(zone)}",
            f"{zone} occupancy",
            state_topic=topics.zone(zone),
            state_class="measurement",
            unit_of_measurement="objects",
        )
        for zone in zones
    ]
    configs += [
        entity(
            "sensor",
            f"line_{slug(line)}_{direction}",
            f"{line} {direction}",
            state_topic=topics.line(line, direction),
            state_class="total_increasing",
            unit_of_measurement="objects",
        )
        for line in lines
        for direction in ("in", "out")
    ]
    if camera:  # only with snapshots kept: an empty camera helps nobody
        configs.append(entity("camera", "snapshot", "snapshot", topic=topics.snapshot))
    return configs
