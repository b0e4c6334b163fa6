"""scripts/ansible/deploy.yml against two real OpenSSH servers on loopback, one made to fail.

Each host runs its own service: a real `pisight run --config` on its own port, started by
the restart command (tests/device/fleet/deploying.py), with the live view's password in
that host's env file. The first run makes both live; then host cam2's camera is unplugged
(its settings name a video that is gone), so the second run's health check fails there and
cam2 alone is rolled back while cam1 goes live on the new release. A third run brings a
model no runtime can load: the probe refuses it on both hosts before anything is swapped.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pisight.device.sources.testpattern import write_video
from tests.device.fleet.deploying import DEMO_BUNDLE, make_bundle, restart_command, settings
from tests.device.fleet.sshd import LoopbackSshd, serve_sshd
from tests.helpers import REPO, free_port

PLAYBOOK = REPO / "scripts" / "ansible" / "deploy.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).with_name("ansible-playbook")
RECAP = re.compile(r"^(\w+)\s+:\s+ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture(scope="module")
def second_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSshd]:
    yield from serve_sshd(tmp_path_factory, "sshd2")


class Pi:
    """One loopback host: its models directory, settings, env file and service."""

    def __init__(self, name: str, server: LoopbackSshd, root: Path, video: Path) -> None:
        self.name, self.server, self.root = name, server, root
        self.dest, self.port = root / "models", free_port()
        root.mkdir()
        self.pidfile, self.log = root / "run.pid", root / "run.log"
        self.env_file = settings(root / "pisight.env", f"PISIGHT_AUTH=viewer:{name}-pw\n")
        self.env_file.chmod(0o600)
        self.config = root / "pisight.toml"
        self.plug(video)

    def plug(self, video: Path) -> None:
        settings(self.config, (
            f'[model]\npath = "{self.dest}/current"\n[source]\nspec = "{video}"\n'
            f'loop = true\nrealtime = true\n[live]\nlisten = "127.0.0.1:{self.port}"\n'
            f'auth_file = "{self.env_file}"\noverlay = false\n'
        ))  # fmt: skip

    def host_vars(self) -> dict[str, object]:
        known = f"-o UserKnownHostsFile={self.server.known_hosts} -o StrictHostKeyChecking=no"
        return {
            "ansible_host": "127.0.0.1", "ansible_port": self.server.port,
            "ansible_user": self.server.user,
            "ansible_ssh_private_key_file": str(self.server.identity),
            "ansible_ssh_common_args": known, "ansible_python_interpreter": sys.executable,
            "pisight_dest": str(self.dest), "pisight_python": sys.executable,
            "pisight_config": str(self.config), "pisight_auth_file": str(self.env_file),
            "pisight_restart_command": restart_command(self.config, self.pidfile, self.log),
            "pisight_health_url": f"http://127.0.0.1:{self.port}/healthz",
            "pisight_health_timeout": 8, "pisight_become": False,
        }  # fmt: skip

    def current(self) -> str:
        return os.readlink(self.dest / "current")

    def healthz(self) -> int:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/healthz")
        token = base64.b64encode(f"viewer:{self.name}-pw".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status

    def stop(self) -> None:
        if self.pidfile.exists():
            subprocess.run(["kill", self.pidfile.read_text().strip()], check=False)


def playbook(inventory: Path, bundle: Path, work: Path) -> tuple[int, str, dict[str, tuple]]:
    env = {
        **os.environ,
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": str(work / "local"),
        "ANSIBLE_REMOTE_TMP": str(work / "remote"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(work / "cp"),
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PIPELINING": "1",  # one SSH round trip per task (README)
    }
    done = subprocess.run(
        [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(PLAYBOOK),
         "-e", f"pisight_bundle={bundle}"],
        capture_output=True, text=True, env=env, timeout=600, cwd=work,
    )  # fmt: skip
    recap = {m[0]: tuple(map(int, m[1:])) for m in RECAP.findall(done.stdout)}
    return done.returncode, done.stdout + done.stderr, recap


@pytest.mark.slow
def test_two_hosts_one_fails_health_and_alone_is_rolled_back(
    sshd: LoopbackSshd, second_sshd: LoopbackSshd, tmp_path: Path
) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core not installed (pip install 'pisight[fleet]')")
    video = write_video(tmp_path / "clip.avi", frames=30, width=320, height=240)
    pis = {name: Pi(name, server, tmp_path / name, video)
           for name, server in (("cam1", sshd), ("cam2", second_sshd))}  # fmt: skip
    inventory = tmp_path / "inventory.json"  # JSON is YAML to Ansible's yaml inventory
    groups = {"pisight": {"hosts": {name: pi.host_vars() for name, pi in pis.items()}}}
    inventory.write_text(json.dumps({"all": {"children": groups}}))
    first = make_bundle(tmp_path / "first", DEMO_BUNDLE)
    second = make_bundle(tmp_path / "second", DEMO_BUNDLE)
    try:
        code, output, recap = playbook(inventory, first, tmp_path)
        assert code == 0, output[-4000:]
        assert {name: row[1:] for name, row in recap.items()} == {"cam1": (0, 0), "cam2": (0, 0)}
        before = {name: pi.current() for name, pi in pis.items()}
        assert all(pi.healthz() == 200 for pi in pis.values())

        pis["cam2"].plug(tmp_path / "unplugged.avi")
        code, output, recap = playbook(inventory, second, tmp_path)
        assert code == 2, output[-4000:]
        assert recap["cam1"][1:] == (0, 0) and recap["cam2"][1:] == (0, 1), output[-4000:]
        # cam1: the new release is live and serving.
        assert pis["cam1"].current() != before["cam1"] and pis["cam1"].healthz() == 200
        assert os.readlink(pis["cam1"].dest / "previous") == before["cam1"]
        # cam2: back on the release before, the new one gone, and the play says why.
        assert pis["cam2"].current() == before["cam2"]
        kept = sorted(p.name for p in (pis["cam2"].dest / "releases").iterdir())
        assert kept == [before["cam2"].split("/")[1]]
        failure = [line for line in output.splitlines() if "fatal: [cam2]" in line][-1]
        assert "health check failed" in failure and f"rolled back to {before['cam2']}" in failure
        assert "fatal: [cam1]" not in output

        # A model no host's runtime can run is refused before the swap, everywhere.
        live = {name: pi.current() for name, pi in pis.items()}
        broken = make_bundle(tmp_path / "broken", DEMO_BUNDLE, model=b"not a tflite model" * 4)
        code, output, recap = playbook(inventory, broken, tmp_path)
        assert code == 2 and all(row[1:] == (0, 1) for row in recap.values()), output[-4000:]
        for name, pi in pis.items():
            failure = [line for line in output.splitlines() if f"fatal: [{name}]" in line][-1]
            assert "refused before the swap" in failure and "cannot run it" in failure
            assert pi.current() == live[name] and not any((pi.dest / ".staging").iterdir())
        assert pis["cam1"].healthz() == 200
    finally:
        for pi in pis.values():
            pi.stop()
