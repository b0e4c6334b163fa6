"""What every frame source shares: the Protocol, its options, its error and BGR checking.

files.py (files, directories, spec resolution) and cameras.py (Pi camera, webcams,
streams) both build on this module; import each name from the module that defines it::

    class MySource(BaseSource):
        def _read_raw(self) -> object | None:
            return grab()  # anything as_bgr accepts; None once the source has ended
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

# A camera that keeps sending unusable frames is broken, not noisy: give up and reopen.
MAX_BAD_FRAMES_IN_A_ROW = 100


class SourceError(Exception):
    """A source cannot be opened or stopped working; the message names the fix."""


class FrameSource(Protocol):
    description: str
    live: bool

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SourceOptions:
    """What open_source passes to every source class; each uses the fields it needs."""

    loop: bool = False  # files/dirs/images: start again at the end instead of ending
    width: int | None = None  # cameras: requested frame width in pixels
    height: int | None = None  # cameras: requested frame height in pixels
    fps: float | None = None  # cameras: requested rate; files with realtime: pacing rate
    realtime: bool = False  # files: deliver at the file's frame rate, not as fast as consumed


# The one default every source class shares; frozen, so sharing it is safe.
DEFAULT_OPTIONS = SourceOptions()


def as_bgr(image: object) -> np.ndarray | None:
    """Return image as contiguous BGR uint8 (h, w, 3), or None when it cannot be one."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        return None
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3 and image.size > 0:
        return np.ascontiguousarray(image)
    return None


class BaseSource:
    """Shared frame validation: subclasses implement _read_raw (None means ended)."""

    description = ""
    live = False

    def __init__(self) -> None:
        self.bad_frames = 0

    def _read_raw(self) -> object | None:
        raise NotImplementedError

    def read(self) -> np.ndarray | None:
        for _ in range(MAX_BAD_FRAMES_IN_A_ROW):
            raw = self._read_raw()
            if raw is None:
                return None
            image = as_bgr(raw)
            if image is not None:
                return image
            self.bad_frames += 1  # a corrupt frame is skipped, never fatal
        raise SourceError(
            f"{self.description} gave {MAX_BAD_FRAMES_IN_A_ROW} unusable frames in a row "
            "(expected 8-bit gray, BGR or BGRA images)"
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> BaseSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
