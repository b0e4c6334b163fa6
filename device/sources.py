"""Frame sources: cameras, streams, videos and images behind one small Protocol.

Every source returns BGR uint8 arrays of shape (h, w, 3) from ``read()``, ``None``
once a finite source has ended, and raises ``SourceError`` when a device or stream
fails (the capture worker then reopens it). The kind is resolved from the spec
string and the class is picked from the explicit ``SOURCE_KINDS`` dict.

Usage::

    from pisight.device.sources import open_source

    source = open_source("clip.mp4", loop=True, realtime=True)  # or "0", "picamera", "rtsp://..."
    try:
        while (image := source.read()) is not None:
            ...  # image is BGR uint8 (h, w, 3)
    finally:
        source.close()

A spec may also name its kind explicitly, as ``description`` prints it:
``"video:/data/x.mp4"``, ``"webcam:2"``, ``"images:/dir"``, ``"stream:rtsp://..."``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
# A camera that keeps sending unusable frames is broken, not noisy: give up and reopen.
MAX_BAD_FRAMES_IN_A_ROW = 100
_WEBCAM_SPEC = re.compile(r"\d+|/dev/video\d+")


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


class _Source:
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

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _Pacer:
    """Sleeps so that ticks come no faster than rate_hz; never bursts to catch up."""

    def __init__(self, rate_hz: float) -> None:
        self._period = 1.0 / rate_hz
        self._due = time.monotonic()

    def wait(self) -> None:
        now = time.monotonic()
        if self._due > now:
            time.sleep(self._due - now)
        # After a slow consumer, start from now rather than replaying missed ticks fast.
        self._due = max(self._due, now) + self._period


def _existing_path(target: str, wanted: str) -> Path:
    path = Path(target).expanduser()
    if not path.exists():
        raise SourceError(
            f"no such {wanted}: {target!r} (give a video file, an image directory, "
            "a webcam index like 0, rtsp://..., or picamera)"
        )
    return path


class Picamera2Source(_Source):
    """The Raspberry Pi camera through picamera2 (libcamera)."""

    live = True

    def __init__(self, target: str = "", options: SourceOptions = SourceOptions()) -> None:
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


class _CaptureSource(_Source):
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

    def __init__(self, target: str, options: SourceOptions = SourceOptions()) -> None:
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

    def __init__(self, target: str, options: SourceOptions = SourceOptions()) -> None:
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


class VideoFileSource(_Source):
    """A video file; every frame is delivered (live=False)."""

    def __init__(self, target: str, options: SourceOptions = SourceOptions()) -> None:
        super().__init__()
        self._path = _existing_path(target, "video file")
        self.description = f"video:{self._path}"
        self._loop = options.loop
        self._capture = self._open()
        file_fps = self._capture.get(cv2.CAP_PROP_FPS)
        # Containers sometimes report 0 or absurd rates; 30 is the common camera rate.
        rate = options.fps or (file_fps if 0 < file_fps <= 240 else 30.0)
        self._pacer = _Pacer(rate) if options.realtime else None

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self._path))
        if not capture.isOpened():
            raise SourceError(
                f"cannot open video file '{self._path}': OpenCV has no decoder for it "
                "(convert it to MP4/H.264 or MJPG AVI)"
            )
        return capture

    def _read_raw(self) -> object | None:
        if self._pacer is not None:
            self._pacer.wait()
        ok, image = self._capture.read()
        if not ok and self._loop:
            # Reopening rewinds reliably; seeking to frame 0 fails on some containers.
            self._capture.release()
            self._capture = self._open()
            ok, image = self._capture.read()
        return image if ok else None

    def close(self) -> None:
        self._capture.release()


class ImageSource(_Source):
    """One still image: delivered once, or forever with loop=True."""

    def __init__(self, target: str, options: SourceOptions = SourceOptions()) -> None:
        super().__init__()
        path = _existing_path(target, "image file")
        self.description = f"image:{path}"
        self._image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if self._image is None:
            raise SourceError(f"cannot read image '{path}': the file is corrupt or not an image")
        self._loop = options.loop
        self._pacer = _Pacer(options.fps or 30.0) if options.realtime else None
        self._delivered = False

    def _read_raw(self) -> object | None:
        if self._delivered and not self._loop:
            return None
        if self._pacer is not None:
            self._pacer.wait()
        self._delivered = True
        # A copy, so an annotator drawing on one frame never marks the next one.
        return self._image.copy()


def _natural_key(path: Path) -> list[int | str]:
    # frame2.png sorts before frame10.png, as a person numbering files expects.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


class ImageDirSource(_Source):
    """The images of a directory in natural name order, read one at a time.

    Files with an image extension that fail to decode are skipped and counted in
    bad_frames; other files (notes, JSON) are not images and are ignored silently.
    """

    def __init__(self, target: str, options: SourceOptions = SourceOptions()) -> None:
        super().__init__()
        directory = _existing_path(target, "image directory")
        self.description = f"images:{directory}"
        self._files = sorted(
            (p for p in directory.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS),
            key=_natural_key,
        )
        if not self._files:
            raise SourceError(
                f"no images ({' '.join(IMAGE_EXTENSIONS)}) in directory '{directory}'"
            )
        self._loop = options.loop
        self._pacer = _Pacer(options.fps or 30.0) if options.realtime else None
        self._index = 0
        self._good_this_pass = 0

    def _read_raw(self) -> object | None:
        while True:
            if self._index == len(self._files):
                # Stop looping when a whole pass yielded nothing, instead of spinning.
                if not self._loop or self._good_this_pass == 0:
                    return None
                self._index, self._good_this_pass = 0, 0
            path = self._files[self._index]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                self._good_this_pass += 1
                if self._pacer is not None:
                    self._pacer.wait()
                return image
            self.bad_frames += 1


SOURCE_KINDS: dict[str, type[_Source]] = {
    "picamera": Picamera2Source,
    "webcam": WebcamSource,
    "video": VideoFileSource,
    "stream": StreamSource,
    "image": ImageSource,
    "images": ImageDirSource,
}


def source_class(kind: str) -> type[_Source]:
    """The class for a kind name; an unknown name lists the valid ones."""
    try:
        return SOURCE_KINDS[kind]
    except KeyError:
        valid = ", ".join(sorted(SOURCE_KINDS))
        raise SourceError(f"unknown source kind {kind!r} (valid: {valid})") from None


def split_spec(spec: str) -> tuple[str, str]:
    """Resolve a spec into (kind, target), e.g. "0" -> ("webcam", "0")."""
    spec = spec.strip()
    kind, sep, target = spec.partition(":")
    if sep and kind in SOURCE_KINDS and kind != "picamera" and target:
        return kind, target
    if spec.lower() == "picamera":
        return "picamera", ""
    if _WEBCAM_SPEC.fullmatch(spec):
        return "webcam", spec
    if spec.lower().startswith(STREAM_SCHEMES):
        return "stream", spec
    path = _existing_path(spec, "file or camera")
    if path.is_dir():
        return "images", spec
    if path.is_char_device():  # e.g. /dev/v4l/by-id/... symlinks to a camera
        return "webcam", spec
    return ("image" if path.suffix.lower() in IMAGE_EXTENSIONS else "video"), spec


def resolve_kind(spec: str) -> str:
    """The SOURCE_KINDS name a spec resolves to, without opening anything."""
    return split_spec(spec)[0]


def open_source(
    spec: str,
    *,
    loop: bool = False,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
    realtime: bool = False,
) -> FrameSource:
    """Open the source a spec names; raises SourceError with a one-line fix."""
    kind, target = split_spec(spec)
    options = SourceOptions(loop=loop, width=width, height=height, fps=fps, realtime=realtime)
    return source_class(kind)(target, options)
