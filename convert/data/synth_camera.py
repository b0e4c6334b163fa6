"""The synthetic camera: blur, colour cast, gamma, contrast and sensor grain over a composed scene.

    look = random_look(rng)                          # one per still, one per video
    frame = finish(canvas.image, look, rng)          # uint8 BGR, as a camera would give it

A look is one random camera: Gaussian, motion or no blur, then one per-channel tone curve
(gamma, contrast, brightness, colour cast) and grey sensor grain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Look:
    """Camera and light: one per still, one per video."""

    kernel: np.ndarray | None  # blur, Gaussian or motion
    gain: np.ndarray  # per-channel colour cast
    contrast: float
    brightness: float
    gamma: float
    noise: float


def random_look(rng: np.random.Generator) -> Look:
    kind, kernel = rng.integers(3), None
    if kind == 1:
        sigma = rng.uniform(0.5, 1.6)
        column = cv2.getGaussianKernel(2 * math.ceil(3 * sigma) + 1, sigma)
        kernel = (column @ column.T).astype(np.float32)
    elif kind == 2:
        kernel = motion_kernel(int(rng.integers(3, 10)), rng.uniform(0, 180))
    return Look(
        kernel,
        rng.uniform(0.85, 1.15, 3).astype(np.float32),
        rng.uniform(0.65, 1.3),
        rng.uniform(-35, 35),
        rng.uniform(0.65, 1.5),
        rng.uniform(0, 10),
    )


def motion_kernel(length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1
    middle = ((length - 1) / 2, (length - 1) / 2)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(middle, angle, 1.0), kernel.shape)
    return kernel / kernel.sum()


def finish(image: np.ndarray, look: Look, rng: np.random.Generator) -> np.ndarray:
    """Blur, light and noise a composed float image into the uint8 a camera would give."""
    if look.kernel is not None:
        image = cv2.filter2D(image, -1, look.kernel)
    # Gamma, contrast, brightness and colour cast are one per-channel curve: a table is fast.
    levels = 255 * (np.arange(256, dtype=np.float32) / 255) ** look.gamma
    curve = ((levels - 128) * look.contrast + 128 + look.brightness)[:, None] * look.gain
    table = np.clip(curve, 0, 255).astype(np.uint8).reshape(256, 1, 3)
    lit = cv2.LUT(cv2.convertScaleAbs(image), table)  # convertScaleAbs: round + saturate
    # Grey sensor grain: a third of the random draws of colour noise, and they dominate.
    grain = look.noise * rng.standard_normal((*lit.shape[:2], 1), np.float32)
    return cv2.convertScaleAbs(lit.astype(np.float32) + grain)
