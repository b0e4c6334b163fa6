"""Home Assistant MQTT discovery: every field Home Assistant requires per entity type, the
topics it reads from, and removal when discovery is turned off (real mosquitto)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pisight.device.events.discovery import discovery_configs
from pisight.device.events.mqtt_options import MqttOptions
from pisight.device.events.publisher import MqttPublisher
from pisight.device.zones.counting import Counts, LineCount, ZoneCount
from tests.broker import Broker, retained
from tests.helpers import wait_until

# What Home Assistant's documentation marks required, per entity type we announce:
# - binary_sensor: state_topic (Required) -
#   https://www.home-assistant.io/integrations/binary_sensor.mqtt/ ("Configuration Variables")
# - sensor: state_topic (Required) - https://www.home-assistant.io/integrations/sensor.mqtt/
# - camera: topic (Required, "The MQTT topic to subscribe to") -
#   https://www.home-assistant.io/integrations/camera.mqtt/, and Home Assistant's own
#   schema, homeassistant/components/mqtt/camera.py: vol.Required(CONF_TOPIC)
# - every entity that joins a device: unique_id ("device ... Only works when unique_id is
#   set") and a device with identifiers ("At least one of identifiers or connections must
#   be present to identify the device") - the device block of each page above and
#   https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery
# - availability tied to the last will: availability_topic, whose payloads default to
#   payload_available "online" / payload_not_available "offline" (each page above)
REQUIRED = {
    "binary_sensor": {"state_topic"},
    "sensor": {"state_topic"},
    "camera": {"topic"},
}
COMMON_REQUIRED = {"unique_id", "device", "availability_topic"}
# <discovery_prefix>/<component>/[<node_id>/]<object_id>/config, ids of [a-zA-Z0-9_-]
# (https://www.home-assistant.io/integrations/mqtt/#discovery-topic)
TOPIC = re.compile(
    r"^homeassistant/(binary_sensor|sensor|camera)/[a-zA-Z0-9_-]+/[a-zA-Z0-9_-]+/config$"
)


def options(tmp_path: Path, port: int = 1883, discovery: bool = True) -> MqttOptions:
    return MqttOptions(host="127.0.0.1", port=port, name="Front porch", discovery=discovery,
                       spool=tmp_path / "spool.sqlite", reconnect_max_s=1)  # fmt: skip


def test_every_config_carries_what_home_assistant_requires(tmp_path: Path) -> None:
    opts = options(tmp_path)
    configs = discovery_configs(opts, ("person", "car"), ("front door",), ("street",), "demo")
    components = [TOPIC.match(topic).group(1) for topic, _ in configs]
    assert sorted(components) == ["binary_sensor"] * 2 + ["camera"] + ["sensor"] * 3
    for (topic, config), component in zip(configs, components, strict=True):
        missing = (REQUIRED[component] | COMMON_REQUIRED) - set(config)
        assert not missing, f"{topic} lacks {missing}"
        assert config["device"]["identifiers"] == ["pisight_front_porch"]
        assert (
            config["availability_topic"]
            == opts.topics.availability
            == ("pisight/front_porch/availability")
        )
        assert (config["payload_available"], config["payload_not_available"]) == (
            "online", "offline",
        )  # fmt: skip
    assert len({config["unique_id"] for _, config in configs}) == len(configs)
    read = {config.get("state_topic") or config["topic"] for _, config in configs}
    assert read == {
        opts.topics.objects("person"), opts.topics.objects("car"), opts.topics.zone("front door"),
        opts.topics.line("street", "in"), opts.topics.line("street", "out"), opts.topics.snapshot,
    }  # fmt: skip


def test_discovery_on_announces_and_off_removes_the_entities(
    tmp_path: Path, broker: Broker
) -> None:
    counts = Counts((ZoneCount("front door", {"person": 1}),), (LineCount("street"),))
    on = MqttPublisher(options(tmp_path, broker.port), ("person",), ("front door",), ("street",))
    on.watch_counts(lambda: counts)
    on.start()
    on.publish_snapshot(b"\xff\xd8snapshot")
    assert wait_until(lambda: len(retained(broker.port, "homeassistant/#", 0.3)) == 5, timeout=10)
    on.close()
    held = retained(broker.port, "#")
    configs = {t: json.loads(p) for t, p in held.items() if t.startswith("homeassistant/")}
    # Every topic an entity reads holds a retained value Home Assistant shows at once.
    for config in configs.values():
        assert (config.get("state_topic") or config["topic"]) in held
    assert held["pisight/front_porch/zones/front_door/occupancy"] == b"1"
    assert held["pisight/front_porch/availability"] == b"offline"  # closed: unavailable

    off = MqttPublisher(options(tmp_path, broker.port, discovery=False), ("person",),
                        ("front door",), ("street",))  # fmt: skip
    off.start()
    assert wait_until(lambda: not retained(broker.port, "homeassistant/#", 0.3), timeout=10)
    off.close()
    assert retained(broker.port, "pisight/front_porch/availability")  # the rest stays


def test_entities_of_zones_and_lines_taken_out_of_the_config_are_removed(
    tmp_path: Path, broker: Broker
) -> None:
    before = MqttPublisher(options(tmp_path, broker.port), ("person",), ("front door", "yard"),
                           ("street",))  # fmt: skip
    before.start()
    assert wait_until(lambda: len(retained(broker.port, "homeassistant/#", 0.3)) == 6, timeout=10)
    before.close()
    kept = {t for t in retained(broker.port, "homeassistant/#") if "yard" not in t}
    kept = {t for t in kept if "street" not in t}
    after = MqttPublisher(options(tmp_path, broker.port), ("person",), ("front door",), ())
    after.start()
    assert wait_until(lambda: set(retained(broker.port, "homeassistant/#", 0.3)) == kept,
                      timeout=10)  # fmt: skip
    after.close()
    assert len(kept) == 3  # objects, the front door zone, the snapshot camera
