"""The one definition of how a camera frame becomes model input.

The converter calibrates with exactly these functions and records the parameters in
pisight.json, so calibration data and live frames go through identical arithmetic.

    pixels = frame_to_model_pixels(frame_bgr, width=300, height=300)   # RGB uint8
    table = input_lookup_table(mean=127.5, std=127.5, dtype="uint8", scale=1.0, zero_point=0)
"""

from __future__ import annotations

import cv2
import numpy as np

RESIZE_MODE = "stretch"  # SSD anchors are trained on the stretched full frame


def frame_to_model_pixels(frame_bgr: np.ndarray, width: int, height: int) -> np.ndarray:
    """Stretch-resize a BGR frame and return RGB uint8 (height, width, 3)."""
    if frame_bgr.shape[0] != height or frame_bgr.shape[1] != width:
        # INTER_AREA would alias less when shrinking, but costs 3x; LINEAR matches training.
        frame_bgr = cv2.resize(frame_bgr, (width, height), interpolation=cv2.INTER_LINEAR)
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)


def input_lookup_table(
    mean: float, std: float, dtype: str, scale: float, zero_point: int
) -> np.ndarray | None:
    """Pixel value (0..255) -> input tensor value, or None when that is the identity.

    The model sees real = (pixel - mean) / std; a quantized input stores
    round(real / scale + zero_point). One 256-entry table does both at once.
    """
    real = (np.arange(256, dtype=np.float64) - mean) / std
    if dtype == "float32":
        return real.astype(np.float32)
    info = np.iinfo(np.dtype(dtype))
    if scale <= 0:
        raise ValueError(f"a {dtype} input needs a positive quantization scale, got {scale}")
    quantized = np.clip(np.round(real / scale + zero_point), info.min, info.max)
    table = quantized.astype(dtype)
    if dtype == "uint8" and np.array_equal(table, np.arange(256, dtype=np.uint8)):
        return None
    return table


def apply_lookup_table(pixels: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    if table is None:
        return pixels
    if table.dtype == np.uint8:
        return cv2.LUT(pixels, table)  # several times faster than numpy fancy indexing
    return table[pixels]
