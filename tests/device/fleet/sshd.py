"""A real OpenSSH server on loopback for deploy tests, in a temporary directory.

Runs as the current user with its own host key, client key and authorized_keys, so it
neither needs nor touches the machine's sshd configuration.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import free_port

SSHD = Path("/usr/sbin/sshd")


@dataclass
class LoopbackSshd:
    process: subprocess.Popen
    port: int
    identity: Path
    known_hosts: Path
    user: str

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def ssh_args(self) -> list[str]:
        return ["--identity", str(self.identity), "--known-hosts", str(self.known_hosts)]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def _keygen(path: Path) -> None:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True, timeout=30
    )


def start_sshd(directory: Path) -> LoopbackSshd:
    _keygen(directory / "host_ed25519")
    _keygen(directory / "client_ed25519")
    (directory / "authorized_keys").write_text((directory / "client_ed25519.pub").read_text())
    port = free_port()
    config = directory / "sshd_config"
    config.write_text(
        f"ListenAddress 127.0.0.1\nHostKey {directory / 'host_ed25519'}\n"
        f"PidFile {directory / 'sshd.pid'}\nAuthorizedKeysFile {directory / 'authorized_keys'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation dir
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config), "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=(directory / "sshd.log").open("w"),
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    if process.poll() is not None:
        raise RuntimeError(f"sshd did not start: {(directory / 'sshd.log').read_text()}")
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    )
    return LoopbackSshd(
        process, port, directory / "client_ed25519", directory / "known_hosts", user
    )


def serve_sshd(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[LoopbackSshd]:
    """The body of a module-scoped sshd fixture: skip without OpenSSH, stop at the end."""
    if not SSHD.exists():
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    server = start_sshd(tmp_path_factory.mktemp(name))
    yield server
    server.stop()
