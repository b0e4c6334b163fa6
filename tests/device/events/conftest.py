"""What the events tests share: the shipped demo detector and a synthetic crossing video."""

from __future__ import annotations

from pathlib import Path

import pytest

from pisight.convert.data.synth_video import generate_video
from tests.conftest import REPO

DEMO = REPO / "models" / "demo" / "bundle"
SIZE = (320, 240)
FRAMES = 150  # 5 s at 30 fps; looped, every loop ends its tracks and starts new ones


@pytest.fixture(scope="session")
def crossing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two pairs heading at each other up and down the frame: four crossings of y = 0.5."""
    return generate_video(tmp_path_factory.mktemp("video") / "crossing.avi", FRAMES, 3, SIZE,
                          scenario="crossing")  # fmt: skip
