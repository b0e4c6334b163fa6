"""Shared fixtures (real tiny models, built once per run) and the per-part time summary."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import budget
from tests.cache import built_once

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """A cache folder of the test run's own (children inherit it): a setting --threads auto
    tuned on this machine earlier must not change what the tests run."""
    saved = {name: os.environ.get(name) for name in ("XDG_CACHE_HOME", "CACHE_DIRECTORY")}
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    os.environ.pop("CACHE_DIRECTORY", None)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def ssd_int8(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.models import build_tiny_ssd

    return built_once(tmp_path_factory, "ssd-int8", lambda root: build_tiny_ssd(root, mode="int8"))


@pytest.fixture(scope="session")
def ssd_bundle(model_dir: Path, ssd_int8: Path) -> Path:
    from pisight.device.model.bundle import write_model_dir
    from tests.models import SSD_LABELS

    metadata = {"format_version": 1, "task": "detection", "input": {"mean": 0.0, "std": 1.0}}
    return write_model_dir(model_dir / "bundle", ssd_int8.read_bytes(), SSD_LABELS, metadata)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    budget.record(report)  # under xdist, the controller sees every worker's reports


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if budget.tests:
        terminalreporter.section("test seconds per part (budget: docs/TESTING.md)")
        for line in budget.summary_lines():
            terminalreporter.write_line(line)


@pytest.fixture
def broker(tmp_path: Path):
    """A mosquitto broker on a free loopback port (tests/broker.py), killed at the end."""
    from tests.broker import Broker, have_mosquitto

    if not have_mosquitto():
        pytest.skip("needs Debian's mosquitto (.ci/run installs it)")
    running = Broker(tmp_path)
    running.start()
    yield running
    running.stop()
