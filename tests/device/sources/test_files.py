"""Frame sources on generated videos and images, and a fake picamera2; no camera needed."""

from __future__ import annotations

import os
import sys
import time
import types
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
import pytest

from pisight.device.sources import files as sources
from pisight.device.sources.base import SourceError, as_bgr
from pisight.device.sources.cameras import Picamera2Source, StreamSource, WebcamSource
from pisight.device.sources.files import (
    SOURCE_KINDS,
    ImageDirSource,
    ImageSource,
    VideoFileSource,
    open_source,
    resolve_kind,
    source_class,
)

N_FRAMES = 10


def level(i: int) -> int:
    """Background gray level of frame i; survives JPEG compression so order can be checked."""
    return 10 + 20 * i


def frame_index(image: np.ndarray) -> int:
    """Recover i from a frame made by make_frame, reading the untouched top-left corner."""
    return round((float(image[:8, :8].mean()) - 10) / 20)


def make_frame(i: int, size: tuple[int, int] = (640, 480)) -> np.ndarray:
    width, height = size
    image = np.full((height, width, 3), level(i), np.uint8)
    scale = height / 120  # the number stays clear of the top-left corner frame_index reads
    origin = (width // 3, height // 2)
    cv2.putText(image, str(i), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
    return image


def write_video(path: Path, fourcc: str, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (640, 480))
    if not writer.isOpened():
        pytest.skip(f"OpenCV here cannot write {fourcc} video")
    for i in range(N_FRAMES):
        writer.write(make_frame(i))
    writer.release()
    return path


@pytest.fixture(params=[("avi", "MJPG"), ("mp4", "mp4v")], ids=["mjpg-avi", "mp4v-mp4"])
def video(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    ext, fourcc = request.param
    return write_video(tmp_path / f"clip.{ext}", fourcc)


@pytest.fixture
def image_dir(tmp_path: Path) -> Path:
    """3 good PNGs named so that only natural order is right, a corrupt PNG, a text file."""
    directory = tmp_path / "images"
    directory.mkdir()
    for i, name in enumerate(["frame2.png", "frame10.png", "frame11.png"]):
        cv2.imwrite(str(directory / name), make_frame(i, (64, 48)))
    (directory / "frame3.png").write_bytes(b"\x89PNG not really")
    (directory / "notes.txt").write_text("not an image")
    return directory


def read_all(source: sources.FrameSource, limit: int = 100) -> list[np.ndarray]:
    images = []
    while (image := source.read()) is not None and len(images) < limit:
        images.append(image)
    return images


# --- videos ---------------------------------------------------------------------------


def test_video_reads_every_frame_in_order_then_none(video: Path) -> None:
    source = open_source(str(video))
    images = read_all(source)
    assert source.read() is None
    source.close()
    assert isinstance(source, VideoFileSource)
    assert source.live is False
    assert source.description == f"video:{video}"
    assert [frame_index(im) for im in images] == list(range(N_FRAMES))
    assert all(im.dtype == np.uint8 and im.shape == (480, 640, 3) for im in images)


def test_video_loop_rewinds_past_the_end(video: Path) -> None:
    with open_source(str(video), loop=True) as source:
        images = [source.read() for _ in range(2 * N_FRAMES + 5)]
    assert all(im is not None for im in images)
    assert [frame_index(im) for im in images[N_FRAMES - 1 : N_FRAMES + 2]] == [9, 0, 1]


def test_video_realtime_paces_at_file_fps(tmp_path: Path) -> None:
    path = write_video(tmp_path / "clip.avi", "MJPG", fps=20.0)
    with open_source(str(path), realtime=True) as source:
        start = time.monotonic()
        for _ in range(5):
            source.read()
        elapsed = time.monotonic() - start
    # 5 frames at 20 fps: the first is immediate, then 4 periods of 50 ms.
    assert elapsed >= 0.19


def test_unopenable_video_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(SourceError, match=r"cannot open video file .*broken\.mp4"):
        open_source(str(path))


# --- images -----------------------------------------------------------------------------


def test_image_dir_yields_good_images_in_natural_order(image_dir: Path) -> None:
    source = open_source(str(image_dir))
    images = read_all(source)
    assert isinstance(source, ImageDirSource)
    assert [frame_index(im) for im in images] == [0, 1, 2]  # frame2, frame10, frame11
    # Only the corrupt PNG counts: a .txt file is not an image, so it is not a bad frame.
    assert source.bad_frames == 1


def test_image_dir_loop_cycles(image_dir: Path) -> None:
    source = open_source(str(image_dir), loop=True)
    images = [source.read() for _ in range(7)]
    assert [frame_index(im) for im in images] == [0, 1, 2, 0, 1, 2, 0]
    assert source.bad_frames == 2  # the corrupt file, met once per pass


def test_image_dir_with_only_unreadable_images_ends_even_when_looping(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"garbage")
    source = open_source(str(tmp_path), loop=True)
    assert source.read() is None
    assert source.bad_frames == 1


@pytest.mark.parametrize("files", [[], ["readme.txt"]], ids=["empty", "no-images"])
def test_image_dir_without_images_is_an_error(tmp_path: Path, files: list[str]) -> None:
    for name in files:
        (tmp_path / name).write_text("x")
    with pytest.raises(SourceError, match=r"no images \(\.jpg .*\) in directory"):
        open_source(str(tmp_path))


def test_single_image_once(tmp_path: Path) -> None:
    path = tmp_path / "one.png"
    cv2.imwrite(str(path), make_frame(3, (64, 48)))
    source = open_source(str(path))
    assert isinstance(source, ImageSource)
    assert frame_index(source.read()) == 3
    assert source.read() is None


def test_single_image_loop_gives_independent_copies(tmp_path: Path) -> None:
    path = tmp_path / "one.jpg"
    cv2.imwrite(str(path), make_frame(3, (64, 48)))
    source = open_source(str(path), loop=True)
    first = source.read()
    first[:] = 0  # an annotator drawing on a frame must not change the next one
    assert all(frame_index(source.read()) == 3 for _ in range(5))


def test_gray_image_becomes_bgr(tmp_path: Path) -> None:
    path = tmp_path / "gray.png"
    cv2.imwrite(str(path), np.full((20, 30), 77, np.uint8))
    image = open_source(str(path)).read()
    assert image.shape == (20, 30, 3)
    assert image.dtype == np.uint8


def test_corrupt_single_image_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.png"
    path.write_bytes(b"nope")
    with pytest.raises(SourceError, match=r"cannot read image .*bad\.png"):
        open_source(str(path))


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected_shape"),
    [
        (np.zeros((4, 5), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 1), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 3), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 4), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 3), np.float32), None),
        (np.zeros((4, 5, 2), np.uint8), None),
        (np.zeros((0, 5, 3), np.uint8), None),
        (np.zeros((2, 4, 5, 3), np.uint8), None),
        ("not an array", None),
    ],
)
def test_as_bgr(image: Any, expected_shape: tuple[int, ...] | None) -> None:
    result = as_bgr(image)
    if expected_shape is None:
        assert result is None
    else:
        assert result.shape == expected_shape
        assert result.dtype == np.uint8


# --- spec resolution and errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("picamera", "picamera"),
        ("0", "webcam"),
        ("9", "webcam"),
        ("/dev/video0", "webcam"),
        ("/dev/video12", "webcam"),
        ("webcam:3", "webcam"),
        ("rtsp://192.168.1.10:554/stream1", "stream"),
        ("rtsps://cam.local/live", "stream"),
        ("http://cam.local:8081/video.mjpg", "stream"),
        ("https://example.com/live.m3u8", "stream"),
        ("stream:rtsp://cam/x", "stream"),
    ],
)
def test_resolve_kind_without_opening(spec: str, kind: str) -> None:
    assert resolve_kind(spec) == kind


def test_resolve_kind_for_paths(tmp_path: Path, image_dir: Path) -> None:
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.JPG").write_bytes(b"x")
    assert resolve_kind(str(image_dir)) == "images"
    assert resolve_kind(str(tmp_path / "a.mp4")) == "video"
    assert resolve_kind(str(tmp_path / "b.JPG")) == "image"
    assert resolve_kind(f"video:{tmp_path / 'b.JPG'}") == "video"


def test_missing_path_explains_what_to_give() -> None:
    with pytest.raises(SourceError) as info:
        open_source("x.mp4")
    message = str(info.value)
    assert "no such file or camera: 'x.mp4'" in message
    assert all(hint in message for hint in ("webcam index like 0", "rtsp://", "picamera"))


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(SourceError, match="unknown source kind 'kinect'") as info:
        source_class("kinect")
    assert all(kind in str(info.value) for kind in SOURCE_KINDS)


# --- webcam and stream, with OpenCV's capture faked or refused -------------------------------


class FakeCapture:
    """Stands in for cv2.VideoCapture: records settings, serves frames from a list."""

    def __init__(self, frames: list[Any], opens: bool = True) -> None:
        self.frames = frames
        self.opens = opens
        self.opened_with: list[tuple[Any, ...]] = []
        self.props: dict[int, float] = {}
        self.released = False

    def open(self, *args: Any) -> bool:
        self.opened_with.append(args)
        return self.opens

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return self.opens and bool(self.opened_with)

    def set(self, prop: int, value: float) -> bool:
        self.props[prop] = value
        return True

    def read(self) -> tuple[bool, Any]:
        return (True, self.frames.pop(0)) if self.frames else (False, None)

    def release(self) -> None:
        self.released = True


def test_webcam_applies_settings_and_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCapture([np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64), np.float32)])
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda: fake)
    source = open_source("/dev/video0", width=64, height=48, fps=15)
    assert isinstance(source, WebcamSource)
    assert source.live is True
    assert source.description == "webcam:/dev/video0"
    assert fake.props[cv2.CAP_PROP_FRAME_WIDTH] == 64
    assert fake.props[cv2.CAP_PROP_FRAME_HEIGHT] == 48
    assert fake.props[cv2.CAP_PROP_FPS] == 15
    assert fake.props[cv2.CAP_PROP_BUFFERSIZE] == 1
    assert source.read().shape == (48, 64, 3)
    with pytest.raises(SourceError, match="stopped delivering frames"):
        source.read()  # the float frame is skipped (bad_frames), then the camera fails
    assert source.bad_frames == 1
    source.close()
    assert fake.released


def test_webcam_that_cannot_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources.cv2, "VideoCapture", lambda: FakeCapture([], opens=False))
    with pytest.raises(SourceError, match="cannot open webcam 7: check it is plugged in"):
        open_source("7")


def test_rtsp_uses_tcp_and_hides_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    # Port 1 on loopback refuses at once: a real FFmpeg open that fails fast, no network.
    with pytest.raises(
        SourceError, match=r"cannot open stream rtsp://cam:\*\*\*@127\.0\.0\.1:1/"
    ) as info:
        StreamSource("rtsp://cam:secret@127.0.0.1:1/live")
    assert "secret" not in str(info.value)
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "rtsp_transport;tcp"


def test_rtsp_keeps_user_ffmpeg_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;udp")
    with pytest.raises(SourceError):
        open_source("rtsp://127.0.0.1:1/live")
    assert os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] == "rtsp_transport;udp"


def test_http_stream_that_cannot_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", raising=False)
    with pytest.raises(SourceError, match=r"cannot open stream http://127\.0\.0\.1:1/video"):
        open_source("http://127.0.0.1:1/video.mjpg")
    assert "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ  # TCP forcing is RTSP-only


# --- picamera2, faked --------------------------------------------------------------------------


class FakePicamera2:
    instances: ClassVar[list[FakePicamera2]] = []

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.config: dict[str, Any] = {}
        self.frames: list[Any] = []
        FakePicamera2.instances.append(self)

    def create_video_configuration(self, main: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {"main": main, **kwargs}

    def configure(self, config: dict[str, Any]) -> None:
        self.config = config
        self.calls.append("configure")

    def start(self) -> None:
        self.calls.append("start")

    def capture_array(self, name: str = "main") -> np.ndarray:
        if self.frames:
            return self.frames.pop(0)
        width, height = self.config["main"]["size"]
        # XBGR8888-like: B, G, R, padding. The padding must be dropped, nothing reordered.
        image = np.empty((height, width, 4), np.uint8)
        image[:] = (10, 20, 30, 255)
        return image

    def stop(self) -> None:
        self.calls.append("stop")

    def close(self) -> None:
        self.calls.append("close")


@pytest.fixture
def fake_picamera2(monkeypatch: pytest.MonkeyPatch) -> type[FakePicamera2]:
    FakePicamera2.instances = []
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    return FakePicamera2


def test_picamera2_gives_bgr_and_closes_the_camera(fake_picamera2: type[FakePicamera2]) -> None:
    source = open_source("picamera", width=320, height=240)
    camera = fake_picamera2.instances[0]
    assert isinstance(source, Picamera2Source)
    assert source.live is True
    assert source.description == "picamera"
    assert camera.config["main"] == {"size": (320, 240), "format": "RGB888"}
    image = source.read()
    assert image.shape == (240, 320, 3)
    assert image.dtype == np.uint8
    assert tuple(image[0, 0]) == (10, 20, 30)
    source.close()
    assert camera.calls == ["configure", "start", "stop", "close"]


def test_picamera2_defaults_to_640x480_and_skips_bad_frames(
    fake_picamera2: type[FakePicamera2],
) -> None:
    source = open_source("picamera")
    camera = fake_picamera2.instances[0]
    camera.frames = [np.zeros((480, 640, 3), np.float32)]
    assert source.read().shape == (480, 640, 3)
    assert source.bad_frames == 1


def test_picamera2_capture_failure_is_a_source_error(fake_picamera2: type[FakePicamera2]) -> None:
    source = open_source("picamera")

    def broken(name: str = "main") -> np.ndarray:
        raise RuntimeError("camera frontend timeout")

    fake_picamera2.instances[0].capture_array = broken  # type: ignore[method-assign]
    with pytest.raises(SourceError, match="picamera2 capture failed: camera frontend timeout"):
        source.read()


def test_picamera2_missing_explains_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "picamera2", None)  # makes the import raise ImportError
    with pytest.raises(SourceError, match=r"install python3-picamera2 .*--system-site-packages"):
        open_source("picamera")


def test_picamera2_without_a_camera(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("picamera2")

    def no_camera() -> None:
        raise IndexError("list index out of range")

    module.Picamera2 = no_camera  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "picamera2", module)
    with pytest.raises(SourceError, match="found no usable camera"):
        open_source("picamera")
