"""Where annotated frames go: every output of the renderer is a FrameSink.

    class EventClips:                              # a new output is one more sink
        frame_format: FrameFormat = "jpeg"
        def wants_frame(self, stale: bool) -> bool:
            return self.event_running and not stale
        def write(self, frame: AnnotatedFrame) -> None:
            self.clip.append(frame.jpeg)
        def close(self) -> None:
            self.clip.flush()

    StreamRenderer([recorder, live_view, EventClips()], jpeg_quality=80)

The renderer asks every sink before each frame: when none wants it nothing is drawn or
encoded; when some "jpeg" sink wants it, the JPEG is encoded once and all of them get
the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

FrameFormat = Literal["bgr", "jpeg"]


@dataclass(frozen=True)
class AnnotatedFrame:
    image: np.ndarray
    """The annotated picture, BGR uint8. Shared by every sink: read it, never draw on it."""
    jpeg: bytes | None = None
    """The picture encoded once for every "jpeg" sink; None when no such sink wanted this
    frame, or when encoding failed."""
    t_capture: float = 0.0
    """The frame's capture time (Unix s), as its detections and events have it; 0 for a
    re-sent stale picture."""


class FrameSink(Protocol):
    frame_format: FrameFormat
    """What write() reads of the frame: the BGR image or the JPEG."""

    def wants_frame(self, stale: bool) -> bool:
        """Whether to hand this sink the next frame. stale: it is the last picture again,
        marked stale because no new result came (a recording skips those)."""
        ...

    def write(self, frame: AnnotatedFrame) -> None: ...

    def close(self) -> None:
        """The run ended; no more frames come."""
        ...
