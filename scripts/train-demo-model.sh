#!/usr/bin/env bash
# Rebuild the shipped demo detector from scratch, exactly:
#   models/demo/demo.keras (+ .json)  the FP32 checkpoint; its .json records the training
#                                     command, seed and time
#   models/demo/bundle/               its INT8 bundle; report.md repeats that record
# Training data seed 1, validation seed 2; the bundle is calibrated on seed 101 and
# evaluated on seed 202, the held-out seeds `pisight demo` uses too. A third of the
# synthetic objects are under 30 pixels: the input is 288 (the 320x240 images keep their
# detail) and the finest feature map has stride 8. Width alpha 0.5, not 0.35: the 7,000
# float32 anchors, 32-bit biases and tensor names are ~220 KB in both FP32 and INT8 files,
# so the INT8 file reaches 0.30x FP32 only with enough weights around them (alpha 0.35:
# 0.311x). The bundle is per-tensor INT8: as accurate as per-channel on this detector,
# and per-channel scales (one float per output channel) would add to the file.
# Takes about 50 minutes on 2 cores.
#   scripts/train-demo-model.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "device,convert"
work="${1:-build/demo-training}"
mkdir -p "$work"
synth() {  # OUT IMAGES SEED, reused when an earlier run made it
    [ -d "$work/$1" ] || "$VENV/bin/pisight" synth --out "$work/$1" --images "$2" --seed "$3"
}
synth train 1500 1
synth val 300 2
synth calib 200 101
synth eval 300 202
"$VENV/bin/pisight" train --data "$work/train" --val-data "$work/val" \
    --out models/demo/demo.keras --input-size 288 --alpha 0.5 --epochs 50 \
    --batch-size 16 --lr 0.003 --backbone-weights none --seed 0 --eval-every 5 \
    --patience 50 --finest-stride 8 --anchor-scales 0.07 0.6 \
    --anchor-ratios 1.0 0.6 1.6 --full-first-layer --crop 0.3
"$VENV/bin/pisight" convert models/demo/demo.keras --out models/demo/bundle --per-tensor \
    --calib "$work/calib" --eval-data "$work/eval"
grep -A12 "^| | FP32" models/demo/bundle/report.md
