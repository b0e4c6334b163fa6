"""scripts/pisight.service: the live view's password never reaches a process's arguments.

The unit is parsed, its EnvironmentFile= and paths pointed at a temporary tree, its
`${VAR}` references expanded as systemd expands them, and its ExecStart= started as
systemd starts it (the environment file's values in the environment). Every process of
that service (the server and the probe child it starts) has its /proc/PID/cmdline read
while the password still opens the live view on loopback.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shlex
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from pisight.device.sources.testpattern import write_video
from tests.helpers import REPO, free_port, wait_until

UNIT = REPO / "scripts" / "pisight.service"
DEMO_BUNDLE = REPO / "models" / "demo" / "bundle"
UNIT_PISIGHT = "/opt/pisight/venv/bin/pisight"
UNIT_ENV_FILE = "/etc/pisight/pisight.env"
UNIT_CONFIG = "/etc/pisight/pisight.toml"
VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def service_settings(path: Path) -> dict[str, list[str]]:
    """[Service] of a unit file: key -> every value given (systemd allows repeats)."""
    section, found = "", {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def read_environment_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def expand(command: str, environment: dict[str, str]) -> list[str]:
    """systemd's ExecStart= rules: split like a shell, then ${VAR} and $VAR substituted."""
    return [
        VARIABLE.sub(lambda m: environment.get(m.group(1) or m.group(2), ""), word)
        for word in shlex.split(command)
    ]


def as_here(command: list[str], tree: dict[str, str]) -> list[str]:
    """The unit's absolute paths pointed at this machine's temporary stand-ins."""
    return [tree.get(word, word) for word in command]


def get(url: str, auth: str | None) -> int:
    request = urllib.request.Request(url)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0  # not listening yet


def service_cmdlines(pid: int) -> list[bytes]:
    """/proc/PID/cmdline of the process and all its children, as any local user reads it."""
    try:
        pids = [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.NoSuchProcess:
        return []
    lines = []
    for each in pids:
        try:
            lines.append(Path(f"/proc/{each}/cmdline").read_bytes())
        except OSError:
            continue  # exited between the listing and the read
    return lines


@pytest.fixture
def unit_tree(tmp_path: Path) -> dict[str, str]:
    """The files the unit names, in a temporary tree, with a fresh password."""
    port = free_port()
    password = secrets.token_urlsafe(12)
    env_file = tmp_path / "pisight.env"
    env_file.write_text(f"PISIGHT_AUTH=viewer:{password}\n")
    env_file.chmod(0o600)
    video = write_video(tmp_path / "clip.avi", frames=30, width=320, height=240)
    config = tmp_path / "pisight.toml"
    config.write_text(
        f'[model]\npath = "{DEMO_BUNDLE}"\n[source]\nspec = "{video}"\nloop = true\n'
        f'realtime = true\n[live]\nlisten = "127.0.0.1:{port}"\noverlay = false\n'
    )
    return {
        UNIT_PISIGHT: str(Path(sys.executable).with_name("pisight")),
        UNIT_ENV_FILE: str(env_file),
        UNIT_CONFIG: str(config),
        "port": str(port),
        "password": password,
    }


def test_password_is_in_no_process_argument_and_still_opens_the_live_view(
    unit_tree: dict[str, str],
) -> None:
    unit = service_settings(UNIT)
    assert unit["EnvironmentFile"] == [UNIT_ENV_FILE]
    environment = read_environment_file(Path(unit_tree[UNIT_ENV_FILE]))
    password = unit_tree["password"]
    assert password in environment["PISIGHT_AUTH"]
    commands = [as_here(expand(line, environment), unit_tree)
                for key in ("ExecStartPre", "ExecStart") for line in unit[key]]  # fmt: skip
    for command in commands:
        assert password not in " ".join(command), command
    process_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/"), **environment}
    pre, start = commands
    checked = subprocess.run(pre, env=process_env, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stderr

    service = subprocess.Popen(start, env=process_env, cwd="/", stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{unit_tree['port']}/healthz"
    seen: list[bytes] = []
    try:
        # Read every process's arguments while the service starts (the model probe is a
        # child that lives about half a second) until frames flow.
        def serving() -> bool:
            seen.extend(service_cmdlines(service.pid))
            return service.poll() is not None or get(url, environment["PISIGHT_AUTH"]) == 200

        assert wait_until(serving, timeout=60, interval=0.02) and service.poll() is None
        seen.extend(service_cmdlines(service.pid))
        assert get(url, None) == 401
        assert get(url, f"viewer:wrong-{password}") == 401
        assert get(url, environment["PISIGHT_AUTH"]) == 200
    finally:
        service.terminate()
        _, stderr = service.communicate(timeout=20)
    assert service.returncode == 0, stderr.decode()
    assert any(b"pisight.device.model.probe" in line for line in seen), "probe child not seen"
    assert any(b"--config" in line for line in seen)
    for line in seen:
        assert password.encode() not in line, line.replace(b"\0", b" ")
