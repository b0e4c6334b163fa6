"""Compare two `pisight run --detections` logs: x86 (reference) against arm64 (emulated).

    python compare_detections.py x86.jsonl arm64.jsonl [--box-px 1] [--score 0.02]
        [--name "png frames"] [--informational]

Same frames, the same labels per frame, each box within --box-px pixels (every corner) and
each score within --score. Detections are paired per frame by label and nearest box, so a
different order of near-equal scores is not a difference. Prints one line starting with
`x86 vs arm64 (NAME): OK` or `... DIFFERENT` (then the first differences); exit 0, or 1 when
they differ, unless --informational (the figures are reported, not checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def read(path: Path) -> dict[int, list[dict]]:
    frames = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            frames[record["frame"]] = record["detections"]
    return frames


def box_gap(a: dict, b: dict) -> float:
    return max(abs(x - y) for x, y in zip(a["box"], b["box"], strict=True))


def compare(ref: dict[int, list[dict]], got: dict[int, list[dict]], box_px: float, score: float):
    problems: list[str] = []
    worst_box = worst_score = 0.0
    count = 0
    if sorted(ref) != sorted(got):
        problems.append(f"frames differ: x86 {sorted(ref)} arm64 {sorted(got)}")
    for frame in sorted(set(ref) & set(got)):
        want, have = ref[frame], got[frame]
        labels_want = sorted(d["label"] for d in want)
        labels_have = sorted(d["label"] for d in have)
        if labels_want != labels_have:
            problems.append(f"frame {frame}: labels x86 {labels_want} arm64 {labels_have}")
            continue
        left = list(have)
        for det in want:
            same = [d for d in left if d["label"] == det["label"]]
            match = min(same, key=lambda d, det=det: box_gap(det, d))
            left.remove(match)
            count += 1
            gap, diff = box_gap(det, match), abs(det["score"] - match["score"])
            worst_box, worst_score = max(worst_box, gap), max(worst_score, diff)
            if gap > box_px:
                problems.append(f"frame {frame} {det['label']}: box {det['box']} vs {match['box']}")
            if diff > score:
                problems.append(
                    f"frame {frame} {det['label']}: score {det['score']} vs {match['score']}"
                )
    figures = (
        f"frames={len(ref)} detections={count} max_box_px={worst_box:.2f} "
        f"max_score_diff={worst_score:.4f} (limits {box_px:g} px, {score:g})"
    )
    return problems, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("x86", type=Path)
    parser.add_argument("arm64", type=Path)
    parser.add_argument("--box-px", type=float, default=1.0)
    parser.add_argument("--score", type=float, default=0.02)
    parser.add_argument("--name", default="detections", help="what was compared, for the line")
    parser.add_argument("--informational", action="store_true", help="report, never fail")
    args = parser.parse_args(argv)
    ref, got = read(args.x86), read(args.arm64)
    problems, figures = compare(ref, got, args.box_px, args.score)
    if not ref:
        problems.append("the x86 log has no frames")
    verdict = "DIFFERENT" if problems else "OK"
    note = " [informational, not checked]" if args.informational else ""
    print(f"x86 vs arm64 ({args.name}): {verdict} {figures}{note}")
    for problem in problems[:10]:
        print(f"  {problem}")
    if len(problems) > 10:
        print(f"  ... {len(problems) - 10} more")
    return 1 if problems and not args.informational else 0


if __name__ == "__main__":
    sys.exit(main())
