"""Live cameras: the Raspberry Pi camera, USB webcams and network streams.

Each is a ``BaseSource`` (live=True) that raises ``SourceError`` when the device or
stream fails, so the capture worker can reopen it. Pick one by name through
``pisight.device.sources.files.open_source``::

    source = open_source("picamera", width=640, height=480)  # or "0", "rtsp://user:pw@cam/"
"""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from pisight.device.sources.base import DEFAULT_OPTIONS, BaseSource, SourceError, SourceOptions


class Picamera2Source(BaseSource):
    """The Raspberry Pi camera through picamera2 (libcamera)."""

    live = True

    def __init__(self, target: str = "", options: SourceOptions = DEFAULT_OPTIONS) -> None:
        super().__init__()
        self.description = "picamera"
        try:
            from picamera2 import Picamera2  # only on a Pi; keeps the import cheap elsewhere
        except ImportError as exc:
            raise SourceError(
                "picamera2 is not importable: on Raspberry Pi OS install python3-picamera2 "
                "and create the venv with --system-site-packages"
            ) from exc
        try:
            self._camera = Picamera2()
        except Exception as exc:  # picamera2 raises IndexError/RuntimeError with no camera
            raise SourceError(
                f"picamera2 found no usable camera ({exc}): check the ribbon cable "
                "and run `rpicam-hello --list-cameras`"
            ) from exc
        size = (options.width or 640, options.height or 480)
        # picamera2's "RGB888" is BGR-ordered in memory, exactly what OpenCV expects.
        controls = {"FrameRate": options.fps} if options.fps else {}
        try:
            config = self._camera.create_video_configuration(
                main={"size": size, "format": "RGB888"}, controls=controls
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as exc:
            self._camera.close()
            raise SourceError(f"picamera2 could not start at {size[0]}x{size[1]}: {exc}") from exc

    def _read_raw(self) -> object:
        try:
            image = self._camera.capture_array("main")
        except Exception as exc:
            raise SourceError(f"picamera2 capture failed: {exc}") from exc
        # XRGB8888-style buffers carry a padding channel; as_bgr would treat it as alpha.
        if isinstance(image, np.ndarray) and image.ndim == 3 and image.shape[2] == 4:
            return image[:, :, :3]
        return image

    def close(self) -> None:
        try:
            self._camera.stop()
        finally:
            self._camera.close()


class _CaptureSource(BaseSource):
    """Common cv2.VideoCapture handling for webcams and network streams."""

    live = True

    def _configure(self, capture: cv2.VideoCapture, options: SourceOptions) -> None:
        self._capture = capture
        if options.width:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, options.width)
        if options.height:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, options.height)
        if options.fps:
            capture.set(cv2.CAP_PROP_FPS, options.fps)
        # A deep driver buffer would hand us frames that are already seconds old.
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def _read_raw(self) -> object:
        ok, image = self._capture.read()
        if not ok:
            raise SourceError(f"{self.description} stopped delivering frames")
        return image

    def close(self) -> None:
        self._capture.release()


class WebcamSource(_CaptureSource):
    """A USB/V4L2 camera given as an index ("0") or a device path ("/dev/video0")."""

    def __init__(self, target: str, options: SourceOptions = DEFAULT_OPTIONS) -> None:
        super().__init__()
        self.description = f"webcam:{target}"
        device: int | str = int(target) if target.isdigit() else target
        capture = cv2.VideoCapture()
        # V4L2 directly avoids GStreamer surprises on a Pi; other platforms use the default.
        if sys.platform.startswith("linux"):
            capture.open(device, cv2.CAP_V4L2)
        if not capture.isOpened():
            capture.open(device)
        if not capture.isOpened():
            raise SourceError(
                f"cannot open webcam {target}: check it is plugged in and not used by "
                "another program (`v4l2-ctl --list-devices` lists cameras)"
            )
        self._configure(capture, options)


def redact_url(url: str) -> str:
    """Hide a password in a URL so descriptions can be logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class StreamSource(_CaptureSource):
    """A network stream (RTSP or HTTP MJPEG/HLS) decoded by OpenCV's FFmpeg backend."""

    OPEN_TIMEOUT_MS = 10_000
    # A hung stream must fail the read so the capture worker can reopen it.
    READ_TIMEOUT_MS = 10_000

    def __init__(self, target: str, options: SourceOptions = DEFAULT_OPTIONS) -> None:
        super().__init__()
        self.description = f"stream:{redact_url(target)}"
        if target.lower().startswith(("rtsp://", "rtsps://")):
            # UDP loses packets on Wi-Fi and smears frames; TCP is the robust default.
            os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
        timeouts = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self.OPEN_TIMEOUT_MS,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self.READ_TIMEOUT_MS,
        ]
        capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, timeouts)
        if not capture.isOpened():
            raise SourceError(
                f"cannot open stream {redact_url(target)}: check the URL, the credentials "
                "and that the camera is reachable from here"
            )
        self._configure(capture, options)
