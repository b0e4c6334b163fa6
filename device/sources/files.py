"""Frame sources: cameras, streams, videos and images behind one small Protocol.

Every source returns BGR uint8 arrays of shape (h, w, 3) from ``read()``, ``None``
once a finite source has ended, and raises ``SourceError`` when a device or stream
fails (the capture worker then reopens it). The kind is resolved from the spec
string and the class is picked from the explicit ``SOURCE_KINDS`` dict.
Files and directories live here, live cameras in cameras.py, and what every source
shares in base.py.

Usage::

    from pisight.device.sources.files import open_source

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

import re
import time
from pathlib import Path

import cv2

from pisight.device.sources.base import (
    DEFAULT_OPTIONS,
    BaseSource,
    FrameSource,
    SourceError,
    SourceOptions,
)
from pisight.device.sources.cameras import Picamera2Source, StreamSource, WebcamSource

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
_WEBCAM_SPEC = re.compile(r"\d+|/dev/video\d+")


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


class VideoFileSource(BaseSource):
    """A video file; every frame is delivered (live=False)."""

    def __init__(self, target: str, options: SourceOptions = DEFAULT_OPTIONS) -> None:
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


class ImageSource(BaseSource):
    """One still image: delivered once, or forever with loop=True."""

    def __init__(self, target: str, options: SourceOptions = DEFAULT_OPTIONS) -> None:
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


class ImageDirSource(BaseSource):
    """The images of a directory in natural name order, read one at a time.

    Files with an image extension that fail to decode are skipped and counted in
    bad_frames; other files (notes, JSON) are not images and are ignored silently.
    """

    def __init__(self, target: str, options: SourceOptions = DEFAULT_OPTIONS) -> None:
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


SOURCE_KINDS: dict[str, type[BaseSource]] = {
    "picamera": Picamera2Source,
    "webcam": WebcamSource,
    "video": VideoFileSource,
    "stream": StreamSource,
    "image": ImageSource,
    "images": ImageDirSource,
}


def source_class(kind: str) -> type[BaseSource]:
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
