"""The [mqtt] table and --mqtt into MqttOptions: the URL over the file, the password kept off
the command line.

    options = mqtt_options(settings)     # None when neither [mqtt] host nor --mqtt is given
    options.host, options.port, options.password

--mqtt mqtt://[USER@]HOST[:PORT] (mqtts:// for TLS) overrides host, port, tls and
username of the file; the password comes from [mqtt] password_file or
$PISIGHT_MQTT_PASSWORD, never from a flag (ps would show it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pisight.device.config.merge import Settings, read_auth_file
from pisight.device.events.mqtt_options import (
    DEFAULT_PORT,
    PASSWORD_ENV,
    TLS_PORT,
    MqttOptions,
    parse_mqtt_url,
)


def _file_values(settings: Settings) -> dict[str, Any]:
    config = settings.config
    if config is None:
        return {}
    return {name: value for (section, name), value in config.values.items() if section == "mqtt"}


def _password(settings: Settings, path: Path | None) -> str | None:
    if path is not None:
        try:
            # The same reader as the live view's auth file: first line, a warning if others
            # can read it.
            text = read_auth_file(path).removeprefix(f"{PASSWORD_ENV}=")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            problem = f"cannot read it ({reason}); write the password into it, chmod 600"
            raise _error(settings, "password_file", problem, path) from None
        if not text:
            raise _error(settings, "password_file", "its first line is empty", path)
        return text
    return os.environ.get(PASSWORD_ENV) or None


def _error(settings: Settings, key: str, problem: str, raw: Any = None) -> ValueError:
    if settings.config is not None:
        shown = str(raw) if isinstance(raw, Path) else raw
        return settings.config.error(problem, "mqtt", key, raw=shown)
    return ValueError(f"[mqtt] {key}: {problem}")


def mqtt_options(settings: Settings) -> MqttOptions | None:
    """The broker settings of this run, or None when it publishes nothing."""
    values = _file_values(settings)
    url = settings.values.get("mqtt")
    if url is None and "host" not in values:
        return None
    if url is not None:
        username, host, port, tls = parse_mqtt_url(url)
        values.update(host=host, port=port, tls=tls)
        if username:
            values["username"] = username
    tls = values.get("tls", False)
    port = values.get("port") or (TLS_PORT if tls else DEFAULT_PORT)
    known = {k: values[k] for k in ("ca_file", "username", "client_id", "name", "topic_prefix",
                                    "discovery", "discovery_prefix", "spool", "spool_max")
             if k in values}  # fmt: skip
    try:
        return MqttOptions(
            host=values["host"], port=port, tls=tls,
            password=_password(settings, values.get("password_file")), **known,
        )  # fmt: skip
    except ValueError as exc:
        key = "topic_prefix" if "topic_prefix" in str(exc) else "spool_max"
        raise _error(settings, key, str(exc), values.get(key)) from None
