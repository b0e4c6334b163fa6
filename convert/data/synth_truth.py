"""A synthetic video's ground truth as values: clip.json read back, and MOTChallenge export.

    truth = read_truth(Path("clip.json"))            # [TruthFrame(frame=0, boxes=..., objects=...)]
    write_mot(truth, Path("mot"), "clip", (640, 480), fps=30)  # mot/clip/gt/gt.txt, seqinfo.ini

clip.json is a list with one entry per frame (0-based), pixel boxes [x1, y1, x2, y2]:

    {"frame": 7,
     "boxes": [{"label": "circle", "box": [40, 12, 71, 44], "object": 2}],
     "objects": [{"object": 1, "label": "square", "center": [80.5, 60.25],
                  "box": [61, 41, 100, 80], "visible": 0.2314},
                 {"object": 2, "label": "circle", "center": [55.5, 28.0],
                  "box": [40, 12, 71, 44], "visible": 1.0}]}

`boxes` is what a detector is asked for: the box around the visible pixels of each object
at least VIDEO_MIN_VISIBLE visible. `objects` is the true trajectory, occluded or not:
every object with a pixel inside the frame, its centre (which may lie outside), its whole
shape's box clipped to the frame, and `visible`, the share of its in-frame pixels no later
object hides (rounded down, so `boxes` holds exactly the objects with visible >= 0.5).
`object` ids are 1-based and stable over the video.

The MOTChallenge layout is TrackEval's MotChallenge2DBox: gt.txt rows
`frame,id,bb_left,bb_top,bb_width,bb_height,1,1,visibility` (frames 1-based), one per entry
of `boxes`, in the same 0-based pixels as clip.json; no img1/ is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pisight.convert.data.synth_scene import IntBox


@dataclass(frozen=True)
class TruthBox:
    """What a detector should find: the visible pixels' box of an object visible enough."""

    object_id: int
    label: str
    box: IntBox


@dataclass(frozen=True)
class TruthObject:
    """Where an object truly is, however hidden."""

    object_id: int
    label: str
    center: tuple[float, float]
    box: IntBox
    """The whole shape's box, clipped to the frame."""
    visible: float


@dataclass(frozen=True)
class TruthFrame:
    frame: int
    boxes: tuple[TruthBox, ...]
    objects: tuple[TruthObject, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "frame": self.frame,
            # label and box first, as before ids: readers of old keep working.
            "boxes": [
                {"label": b.label, "box": list(b.box), "object": b.object_id} for b in self.boxes
            ],
            "objects": [
                {
                    "object": o.object_id,
                    "label": o.label,
                    "center": list(o.center),
                    "box": list(o.box),
                    "visible": o.visible,
                }
                for o in self.objects
            ],
        }


def read_truth(path: Path) -> list[TruthFrame]:
    """The frames of a clip.json written by generate_video."""
    path = Path(path)
    try:
        return [_frame(entry) for entry in json.loads(path.read_text())]
    except KeyError as missing:
        # Files from before tracking truth have boxes without ids and no objects.
        raise ValueError(
            f"{path}: no {missing} in its ground truth; write it again with pisight synth --video"
        ) from None


def _frame(entry: dict) -> TruthFrame:
    boxes = (TruthBox(int(b["object"]), str(b["label"]), _box(b["box"])) for b in entry["boxes"])
    objects = (
        TruthObject(
            int(o["object"]),
            str(o["label"]),
            (float(o["center"][0]), float(o["center"][1])),
            _box(o["box"]),
            float(o["visible"]),
        )
        for o in entry["objects"]
    )
    return TruthFrame(int(entry["frame"]), tuple(boxes), tuple(objects))


def _box(values: Sequence[float]) -> IntBox:
    x1, y1, x2, y2 = (int(v) for v in values)
    return x1, y1, x2, y2


def write_mot(
    truth: Sequence[TruthFrame], out: Path, name: str, size: tuple[int, int], fps: float
) -> Path:
    """out/name/gt/gt.txt and out/name/seqinfo.ini for a video of `size` (w, h); -> out/name."""
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise ValueError(f"a MOT sequence name must be a plain file name, got {name!r}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if [frame.frame for frame in truth] != list(range(len(truth))):
        raise ValueError("ground truth must hold frames 0, 1, 2, ... in order")
    rows = []
    for frame in truth:
        visible = {o.object_id: o.visible for o in frame.objects}
        for box in sorted(frame.boxes, key=lambda b: b.object_id):
            x1, y1, x2, y2 = box.box
            row = (frame.frame + 1, box.object_id, x1, y1, x2 - x1, y2 - y1, 1, 1)
            rows.append(",".join(map(str, row)) + f",{visible[box.object_id]:g}\n")
    sequence = Path(out) / name
    (sequence / "gt").mkdir(parents=True, exist_ok=True)
    (sequence / "gt" / "gt.txt").write_text("".join(rows))
    width, height = size
    (sequence / "seqinfo.ini").write_text(
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps:g}\nseqLength={len(truth)}\n"
        f"imWidth={width}\nimHeight={height}\nimExt=.jpg\n"
    )
    return sequence
