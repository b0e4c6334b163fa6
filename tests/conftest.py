"""Shared fixtures: real tiny models built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cache import built_once

REPO = Path(__file__).resolve().parents[1]


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
