"""[mqtt] and --mqtt: every key reaches MqttOptions, the URL wins, the password stays off
the command line, bad values name their line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pisight.device.cli import build_parser
from pisight.device.config.keys import TABLES
from pisight.device.events.mqtt_options import MqttOptions, parse_mqtt_url
from pisight.device.pipeline.run import RunPlan, plan

# key, file value, what MqttOptions holds
ROWS: list[tuple[str, Any, Any]] = [
    ("host", "broker.lan", "broker.lan"),
    ("port", 1884, 1884),
    ("tls", True, True),
    ("ca_file", "/etc/ca.pem", Path("/etc/ca.pem")),
    ("username", "pi", "pi"),
    ("client_id", "cam-1", "cam-1"),
    ("name", "porch", "porch"),
    ("topic_prefix", "home/cam", "home/cam"),
    ("discovery", False, False),
    ("discovery_prefix", "ha", "ha"),
    ("spool", "/var/lib/x.sqlite", Path("/var/lib/x.sqlite")),
    ("spool_max", 50, 50),
]
SPECIAL = {"password_file"}  # below: it needs a file


def toml(values: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else (
            str(v) if isinstance(v, int) else f'"{v}"')  # fmt: skip

    return "".join(f"{key} = {value(v)}\n" for key, v in values.items())


def make_plan(tmp_path: Path, mqtt: dict[str, Any] | None, *flags: str) -> RunPlan:
    text = '[model]\npath = "m"\n' + (f"[mqtt]\n{toml(mqtt)}" if mqtt is not None else "")
    (tmp_path / "p.toml").write_text(text)
    return plan(build_parser().parse_args(["run", "--config", str(tmp_path / "p.toml"), *flags]))


def test_the_rows_cover_every_mqtt_key() -> None:
    assert {row[0] for row in ROWS} | SPECIAL == set(TABLES["mqtt"])


@pytest.mark.parametrize(("key", "value", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_each_key_reaches_the_options(tmp_path: Path, key: str, value: Any, expected: Any) -> None:
    options = make_plan(tmp_path, {"host": "broker.lan", key: value}).mqtt
    assert getattr(options, key) == expected


def test_no_host_no_mqtt_and_the_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PISIGHT_MQTT_PASSWORD", raising=False)
    assert make_plan(tmp_path, None).mqtt is None
    assert make_plan(tmp_path, {"discovery": False}).mqtt is None  # keys but no host
    options = make_plan(tmp_path, {"host": "b", "name": "Front Door"}).mqtt
    assert (options.port, options.tls, options.password) == (1883, False, None)
    assert (options.client_id, options.topic_prefix) == ("pisight-front_door", "pisight/front_door")
    assert options.topics.events == "pisight/front_door/events"
    assert make_plan(tmp_path, {"host": "b", "tls": True}).mqtt.port == 8883
    plan_ = make_plan(tmp_path, {"host": "b", "name": "porch"})
    assert plan_.pipeline.events.camera == "porch"  # the events carry the device name


def test_the_url_overrides_host_port_tls_and_user(tmp_path: Path) -> None:
    file = {"host": "old", "port": 1, "username": "old", "name": "n"}
    options = make_plan(tmp_path, file, "--mqtt", "mqtts://cam@new.lan:9999").mqtt
    assert (options.host, options.port, options.tls, options.username) == (
        "new.lan", 9999, True, "cam",
    )  # fmt: skip
    assert make_plan(tmp_path, None, "--mqtt", "mqtt://b").mqtt.port == 1883


def test_password_from_the_file_or_the_environment(tmp_path: Path, monkeypatch) -> None:
    secret = tmp_path / "mqtt.password"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    monkeypatch.setenv("PISIGHT_MQTT_PASSWORD", "from-env")
    assert make_plan(tmp_path, {"host": "b"}).mqtt.password == "from-env"
    file = {"host": "b", "password_file": str(secret)}
    assert make_plan(tmp_path, file).mqtt.password == "s3cret"  # the file wins
    assert "s3cret" not in repr(make_plan(tmp_path, file).mqtt)


@pytest.mark.parametrize(
    ("mqtt", "flags", "message"),
    [
        (None, ["--mqtt", "mqtt://u:pw@b"], "no password on the command line"),
        (None, ["--mqtt", "http://b"], r"give mqtt://\[USER@\]HOST\[:PORT\]"),
        (None, ["--mqtt", "mqtt://b:99999"], "port must be a number"),
        ({"host": "b", "port": 0}, [], r"p.toml:\d+: \[mqtt\] port = 0: must be between 1"),
        ({"host": "b", "password_file": "/nope"}, [], r"\[mqtt\] password_file .*cannot read"),
        ({"host": "b", "topic_prefix": "a/#"}, [], r"\[mqtt\] topic_prefix .*must not hold #"),
        ({"host": "b"}, ["--no-events"], "MQTT publishes events, and --no-events"),
        ({"host": "b"}, ["--no-track"], "MQTT publishes events, and --no-track"),
    ],
)
def test_bad_settings_are_one_line_with_the_fix(
    tmp_path: Path, mqtt: dict | None, flags: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_plan(tmp_path, mqtt, *flags)


def test_parse_mqtt_url_and_options_checks() -> None:
    assert parse_mqtt_url("mqtt://broker") == (None, "broker", 1883, False)
    assert parse_mqtt_url("mqtt://[::1]:1884") == (None, "::1", 1884, False)
    with pytest.raises(ValueError, match="no path"):
        parse_mqtt_url("mqtt://b/topic")
    with pytest.raises(ValueError, match="spool_max"):
        MqttOptions(host="b", spool_max=0)
