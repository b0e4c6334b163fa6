"""MqttOptions: defaults from the device name, topic names, where the spool lives."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisight.device.events.mqtt_options import MqttOptions, default_spool, slug


def test_names_become_safe_topic_levels() -> None:
    assert slug("Front Door #2") == "front_door_2" and slug("///") == "x"
    topics = MqttOptions(host="b", name="Porch").topics
    assert topics.availability == "pisight/porch/availability"
    assert topics.objects("Traffic light") == "pisight/porch/objects/traffic_light"
    assert topics.zone("drive way") == "pisight/porch/zones/drive_way/occupancy"
    assert topics.line("street", "out") == "pisight/porch/lines/street/out"


def test_the_spool_goes_where_systemd_or_the_user_keeps_state(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/pisight:/var/lib/other")
    assert default_spool() == Path("/var/lib/pisight/events.sqlite")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_spool() == tmp_path / "pisight" / "events.sqlite"


@pytest.mark.parametrize("prefix", ["a/#", "a/+/b", "a/"])
def test_a_prefix_that_is_no_topic_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError, match="topic_prefix"):
        MqttOptions(host="b", topic_prefix=prefix)
