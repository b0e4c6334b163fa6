"""Decode a clip into PNG frames, or say how two such decodes differ (scripts/pi-emulated.sh).

    python decode_frames.py decode CLIP.avi DIR      # DIR/frame_0000.png ... (OpenCV, lossless)
    python decode_frames.py diff DIR_A DIR_B         # one line: how far apart the pixels are

PNG decodes to the same pixels on every machine; a video need not (FFmpeg's MJPEG decoder and
swscale's YUV->BGR take different SIMD paths on x86 and aarch64), so the strict x86/arm64
comparison runs on PNG frames decoded once, on the host.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def decode(clip: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    capture = cv2.VideoCapture(str(clip))
    count = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        cv2.imwrite(str(out / f"frame_{count:04d}.png"), image)
        count += 1
    capture.release()
    print(f"{clip.name}: {count} frames -> {out}")
    return 0 if count else 1


def diff(a: Path, b: Path) -> int:
    names = sorted(p.name for p in a.glob("*.png"))
    if names != sorted(p.name for p in b.glob("*.png")):
        print(f"decoded frames: {a} and {b} hold different files")
        return 1
    worst, differing, total = 0, 0, 0
    for name in names:
        x = cv2.imread(str(a / name)).astype(np.int16)
        y = cv2.imread(str(b / name)).astype(np.int16)
        gap = np.abs(x - y)
        worst = max(worst, int(gap.max()))
        differing += int(np.count_nonzero(gap))
        total += gap.size
    share = differing / total if total else 0.0
    print(
        f"decoded frames x86 vs arm64: {len(names)} frames, max {worst} levels apart, "
        f"{share:.1%} of channel values differ"
    )
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("decode", "diff"):
        print(__doc__, file=sys.stderr)
        return 2
    command, first, second = argv
    return decode(Path(first), Path(second)) if command == "decode" else diff(*map(Path, argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
