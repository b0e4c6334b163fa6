"""A synthetic test pattern: moving coloured shapes, for benchmarks, demos and tests
on machines with no camera.

    frame = render_frame(17, width=640, height=480)
    write_video("clip.avi", frames=300)
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def render_frame(index: int, width: int = 640, height: int = 480) -> np.ndarray:
    """Frame `index` of the pattern: a red disc and a blue square crossing a grey field."""
    image = np.full((height, width, 3), 90, np.uint8)
    cv2.line(image, (0, height // 4), (width, height // 4), (120, 120, 120), 2)
    x = 80 + (index * 7) % max(1, width - 160)
    cv2.circle(image, (x, height // 2), height // 10, (0, 0, 255), -1)
    side = height // 12
    cv2.rectangle(image, (width - x - side, 60), (width - x + side, 60 + 2 * side), (255, 0, 0), -1)
    return image


def write_video(
    path: str | Path, frames: int = 30, width: int = 640, height: int = 480, fps: float = 30.0
) -> Path:
    """An MJPG .avi of the pattern (MJPG decodes everywhere OpenCV runs)."""
    path = Path(path)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}: OpenCV has no MJPG encoder")
    for index in range(frames):
        writer.write(render_frame(index, width, height))
    writer.release()
    return path
