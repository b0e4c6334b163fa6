"""Representative frames for INT8 calibration, prepared exactly as the device does.

    frames = load_calibration_frames("data/frames/", width=300, height=300, count=200, seed=0)
    frames.batches()        # generator of float32 (1, h, w, 3) batches for the converter

A source is an image directory, a video file (frames sampled evenly) or a detection
dataset (VOC, COCO or YOLO). Every frame goes through device.preprocess, the very
function the Pi runs, then through the model's pixel normalisation (mean, std), so
the ranges the converter measures are the ranges the model will see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pisight.convert.data.datasets import load_dataset
from pisight.convert.data.formats import DatasetError
from pisight.device.model.preprocess import frame_to_model_pixels
from pisight.device.sources.files import IMAGE_EXTENSIONS

log = logging.getLogger("pisight.calibration")
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mjpg", ".mjpeg"}
RECOMMENDED_MINIMUM = 100


class CalibrationError(ValueError):
    """Calibration data is missing, unreadable or of the wrong shape."""


@dataclass(frozen=True)
class CalibrationFrames:
    pixels: np.ndarray
    """(n, h, w, 3) uint8 RGB, as the device prepares them."""
    source: str
    mean: float = 0.0
    std: float = 1.0

    def batches(self) -> Iterator[np.ndarray]:
        for frame in self.pixels:
            yield ((frame.astype(np.float32) - self.mean) / self.std)[np.newaxis]

    def __len__(self) -> int:
        return len(self.pixels)


def check_calibration_source(source: str | Path) -> None:
    """Cheap checks before the (slow) model load, so bad data fails in a second."""
    path = Path(source)
    if not path.exists():
        raise CalibrationError(
            f"no such calibration source: {path} (give images, a video or a dataset)"
        )
    if path.is_file() and path.suffix.lower() not in {*IMAGE_EXTENSIONS, *VIDEO_SUFFIXES, ".json"}:
        raise CalibrationError(
            f"{path} is not an image, a video or a COCO .json; give calibration images or a video"
        )
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise CalibrationError(f"{path} is empty: put calibration images in it")


def load_calibration_frames(
    source: str | Path,
    width: int,
    height: int,
    count: int = 200,
    seed: int = 0,
    mean: float = 0.0,
    std: float = 1.0,
    warn: bool = True,
) -> CalibrationFrames:
    """warn=False for held-out comparison frames, where few is fine."""
    if count < 1:
        raise CalibrationError("--calib-samples must be at least 1")
    check_calibration_source(source)
    path = Path(source)
    images = _read_source(path, count, seed)
    if not images:
        raise CalibrationError(f"{path} holds no readable images or frames for calibration")
    pixels = np.stack([frame_to_model_pixels(image, width, height) for image in images])
    if warn:
        _warn_if_few(len(pixels), count, path)
    return CalibrationFrames(pixels, f"{path} ({len(pixels)} frames, seed {seed})", mean, std)


def _warn_if_few(found: int, count: int, path: Path) -> None:
    if found < min(count, RECOMMENDED_MINIMUM):
        log.warning(
            "only %d calibration frames from %s (asked for %d); fewer than %d often "
            "misjudges activation ranges", found, path, count, RECOMMENDED_MINIMUM,
        )  # fmt: skip
    elif count < RECOMMENDED_MINIMUM:
        log.warning("calibrating on %d frames; %d or more is safer", count, RECOMMENDED_MINIMUM)


def _read_source(path: Path, count: int, seed: int) -> list[np.ndarray]:
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return _video_frames(path, count, seed)
    if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:
        return _images([path], 1, seed)
    if path.is_dir():
        direct = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if direct:
            return _images(direct, count, seed)
    return _images(_dataset_images(path), count, seed)


def _dataset_images(path: Path) -> list[Path]:
    try:
        dataset = load_dataset(path)
    except DatasetError as exc:
        raise CalibrationError(
            f"{path} is not an image directory, a video or a dataset: {exc}"
        ) from exc
    return [sample.image for sample in dataset.samples]


def _images(paths: list[Path], count: int, seed: int) -> list[np.ndarray]:
    """Up to count images drawn without replacement, in a seed-determined order."""
    order = np.random.default_rng(seed).permutation(len(paths))
    images = []
    for index in order:
        image = cv2.imread(str(paths[index]), cv2.IMREAD_COLOR)
        if image is None:
            log.warning("skipping unreadable calibration image %s", paths[index])
            continue
        images.append(image)
        if len(images) == count:
            break
    return images


def _video_frames(path: Path, count: int, seed: int) -> list[np.ndarray]:
    """count frames spread evenly over the video, offset by the seed."""
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise CalibrationError(f"cannot open calibration video {path}")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if total <= 0:
        raise CalibrationError(f"{path} reports no frames")
    step = max(1, total // count)
    start = int(np.random.default_rng(seed).integers(0, step))
    wanted = set(range(start, total, step)[:count])
    frames = []
    for index in range(total):
        ok, frame = capture.read()
        if not ok:
            break
        if index in wanted:
            frames.append(frame)
    capture.release()
    return frames
