"""Converter fixtures: a tiny detector on disk and calibration frames, built once."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from pisight.device.sources.testpattern import render_frame
from tests.cache import built_once


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight SSD-MobileNetV2 (alpha 0.35, 96x96, 3 classes) as MODEL.keras."""
    from pisight.convert.ssd.model import save_detector
    from tests.models import live_random_ssd

    def build(root: Path) -> Path:
        model, config = live_random_ssd()
        save_detector(model, config, root / "tiny.keras")
        return root / "tiny.keras"

    return built_once(tmp_path_factory, "tiny-detector", build)


@pytest.fixture(scope="session")
def tiny_saved_model(tiny_detector: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pisight.convert.ssd.export import export_saved_model
    from pisight.convert.ssd.model import load_detector

    def build(root: Path) -> Path:
        model, config = load_detector(tiny_detector)
        return export_saved_model(model, config, root / "saved_model")

    return built_once(tmp_path_factory, "tiny-saved-model", build)


@pytest.fixture(scope="session")
def calibration_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("calibration")
    for index in range(24):
        cv2.imwrite(str(directory / f"{index:03d}.jpg"), render_frame(index * 5))
    return directory


@pytest.fixture(scope="session")
def finetune_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight small synthetic images with boxes: enough for one fine-tuning step."""
    from pisight.convert.data.synth import generate_dataset

    directory = tmp_path_factory.mktemp("finetune") / "data"
    generate_dataset(directory, images=8, seed=7, size=(128, 96))
    return directory
