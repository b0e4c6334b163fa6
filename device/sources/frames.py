"""The frame value that flows from a source through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured picture.

    image: BGR uint8 array of shape (height, width, 3), as OpenCV gives it.
    t_capture: wall-clock time (time.time()) when the source delivered it.
    seq: capture counter, starting at 0; gaps mean frames were dropped.
    """

    image: np.ndarray
    t_capture: float
    seq: int

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"a frame must be BGR uint8 (h, w, 3), got {self.image.dtype} {self.image.shape}"
            )

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
