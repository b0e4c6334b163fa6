"""The loopback sshd every fleet test deploys through (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.device.fleet.sshd import SSHD, LoopbackSshd, start_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSshd]:
    if not SSHD.exists():
        pytest.skip("OpenSSH server not installed (apt-get install openssh-server)")
    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
