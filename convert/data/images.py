"""Image sizes without decoding: read from PNG and JPEG headers, decoded only for other formats.

image_size(Path("JPEGImages/000017.jpg"))       # (320, 240), or None if unreadable
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

import cv2


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from the PNG/JPEG header, else by decoding; None if unreadable."""
    with path.open("rb") as stream:
        head = stream.read(26)
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if head.startswith(b"\xff\xd8"):
            stream.seek(2)
            size = _jpeg_size(stream)
            if size is not None:
                return size
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return None if image is None else (image.shape[1], image.shape[0])


def _jpeg_size(stream: BinaryIO) -> tuple[int, int] | None:
    """Walk the JPEG markers to the frame header (SOFn), skipping the segments before it."""
    while True:
        marker = stream.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        code = marker[1]
        if code == 0xFF:  # fill byte before the real marker
            stream.seek(-1, 1)
            continue
        if code == 0xD8 or 0xD0 <= code <= 0xD7 or code == 0x01:
            continue  # markers without a length
        length_bytes = stream.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            frame = stream.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return width, height
        stream.seek(length - 2, 1)
