"""`pisight synth`: write the synthetic shapes dataset (VOC layout) and/or a video.

    pisight synth --out data/shapes --images 500 --seed 0
    pisight synth --out data/shapes --video data/shapes.avi --frames 300 --size 320x240
    pisight synth --video clip.avi --video-size 1280x720      # only the video
    pisight synth --video track.avi --scenario mixed --mot mot  # + mot/track/gt/gt.txt

A video's .json holds per-frame boxes with stable object ids and every object's true
position (synth_truth.py); --scenario picks how the objects move, each hard for a tracker
in its own way (synth_motion.py), and --mot also writes that truth in TrackEval's
MOTChallenge layout. Prints one line per thing written. The same seed writes
byte-identical files.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from pisight.convert.data.synth import generate_dataset
from pisight.convert.data.synth_motion import SCENARIOS
from pisight.convert.data.synth_truth import read_truth, write_mot
from pisight.convert.data.synth_video import generate_video

# The video's frame rate; MOTChallenge's seqinfo.ini records it.
VIDEO_FPS = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="dataset directory to write (VOC layout)")
    parser.add_argument("--images", type=int, default=500, help="still images (default 500)")
    parser.add_argument("--video", type=Path, help="also write this MJPG .avi (+ .json truth)")
    parser.add_argument("--frames", type=int, default=300, help="video frames (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same files (default 0)")
    parser.add_argument("--size", default="320x240", help="image size WxH (default 320x240)")
    parser.add_argument("--video-size", default="640x480", help="video size WxH (default 640x480)")
    parser.add_argument(
        "--scenario", choices=SCENARIOS, default="bounce",
        help="how the video's objects move: bounce (default: every class bouncing off the "
        "edges), crossing (pairs passing each other), occlusion (hidden behind a bigger one "
        "for a while), reentry (out of the picture and back), stopgo (standing still, then "
        "off another way), mixed (all of these, 6-8 objects)",
    )  # fmt: skip
    parser.add_argument(
        "--mot", type=Path, metavar="DIR",
        help="also write the video's truth as MOTChallenge: DIR/<video stem>/gt/gt.txt + "
        "seqinfo.ini (needs --video)",
    )  # fmt: skip


def parse_size(text: str, flag: str) -> tuple[int, int]:
    """'320x240' -> (320, 240)."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"{flag} must look like WIDTHxHEIGHT (e.g. 320x240), got {text!r}")
    return int(match.group(1)), int(match.group(2))


def main(args: argparse.Namespace) -> int:
    if args.mot is not None and args.video is None:
        raise ValueError("--mot exports a video's ground truth: add --video FILE.avi")
    if args.out is None and args.video is None:
        raise ValueError("nothing to write: give --out DIR and/or --video FILE.avi")
    size = parse_size(args.size, "--size")
    video_size = parse_size(args.video_size, "--video-size")
    # Fail before minutes of dataset work, not after.
    if args.video is not None and args.video.suffix.lower() != ".avi":
        raise ValueError(f"--video must name an .avi file (MJPG), got {args.video.name}")
    if args.video is not None and args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    if args.out is not None:
        start = time.perf_counter()
        dataset = generate_dataset(args.out, args.images, args.seed, size)
        boxes = sum(len(sample.boxes) for sample in dataset.samples)
        print(
            f"{args.out}: {len(dataset.samples)} images, {boxes} objects, "
            f"{size[0]}x{size[1]}, {time.perf_counter() - start:.1f} s"
        )
    if args.video is not None:
        start = time.perf_counter()
        path = generate_video(
            args.video, args.frames, args.seed, video_size, VIDEO_FPS, args.scenario
        )
        print(
            f"{path} (+ {path.with_suffix('.json').name}): {args.frames} frames, "
            f"{video_size[0]}x{video_size[1]}, {args.scenario}, "
            f"{time.perf_counter() - start:.1f} s"
        )
        if args.mot is not None:
            truth = read_truth(path.with_suffix(".json"))
            sequence = write_mot(truth, args.mot, path.stem, video_size, VIDEO_FPS)
            ids = {box.object_id for frame in truth for box in frame.boxes}
            rows = sum(len(frame.boxes) for frame in truth)
            print(
                f"{sequence}: MOTChallenge gt/gt.txt + seqinfo.ini, "
                f"{rows} boxes of {len(ids)} objects"
            )
    return 0
