"""The loopback sshd every fleet test deploys through (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.device.fleet.sshd import LoopbackSshd, serve_sshd


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackSshd]:
    yield from serve_sshd(tmp_path_factory, "sshd")
