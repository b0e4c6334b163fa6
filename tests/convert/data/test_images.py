"""Image sizes from headers (PNG, JPEG) or by decoding, and None for unreadable files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pisight.convert.data.images import image_size


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".bmp"])
def test_image_size_from_header_or_decoder(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"x{suffix}"
    cv2.imwrite(str(path), np.zeros((37, 91, 3), np.uint8))
    assert image_size(path) == (91, 37)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    assert image_size(tmp_path / "bad.jpg") is None
