"""Synthetic videos for tests: moving coloured shapes on a grey background."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(
    path: Path, frames: int = 30, size: tuple[int, int] = (640, 480), fps: float = 30.0
) -> Path:
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        image = np.full((height, width, 3), 90, np.uint8)
        x = 80 + (i * 7) % (width - 160)
        cv2.circle(image, (x, height // 2), 50, (0, 0, 255), -1)
        cv2.rectangle(image, (width - x - 40, 60), (width - x + 40, 140), (255, 0, 0), -1)
        writer.write(image)
    writer.release()
    return path
