#!/usr/bin/env bash
# Distillation measured on the demo data: an alpha 0.35 student (about half the shipped
# alpha 0.5 detector's multiply-accumulates) trained twice with the same data, epochs and
# seed, once from the labels alone and once also from the teacher models/demo/demo.keras
# (pisight train --teacher); both converted to INT8 and scored on images of a seed the
# demo never saw. Training data seed 1 (the teacher's own), validation seed 2,
# calibration seed 101, evaluation seed 4343.
#   scripts/distill-demo-model.sh [WORK_DIR] [IMAGES] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "device,convert"
work="${1:-build/distill}"
images="${2:-500}"
epochs="${3:-30}"
mkdir -p "$work"
synth() {  # OUT IMAGES SEED, reused when an earlier run made it
    [ -d "$work/$1" ] || "$VENV/bin/pisight" synth --out "$work/$1" --images "$2" --seed "$3"
}
synth train "$images" 1
synth val 100 2
synth calib 100 101
synth eval 150 4343
common=(--data "$work/train" --val-data "$work/val" --input-size 288 --alpha 0.35
    --epochs "$epochs" --batch-size 16 --lr 0.003 --backbone-weights none --seed 0
    --eval-every 5 --patience 50 --finest-stride 8 --anchor-scales 0.07 0.6
    --anchor-ratios 1.0 0.6 1.6 --full-first-layer --crop 0.3)
for kind in alone distilled; do
    teacher=()
    [ "$kind" = distilled ] && teacher=(--teacher models/demo/demo.keras)
    [ -f "$work/$kind.keras" ] || "$VENV/bin/pisight" train "${common[@]}" "${teacher[@]}" \
        --out "$work/$kind.keras"
    "$VENV/bin/pisight" convert "$work/$kind.keras" --out "$work/$kind-bundle" --per-tensor \
        --calib "$work/calib" --skip-tflite-runtime-check
    "$VENV/bin/pisight" eval "$work/$kind-bundle" --data "$work/eval" --json "$work/$kind.json"
done
"$VENV/bin/pisight" eval models/demo/bundle --data "$work/eval" --json "$work/teacher.json"
for kind in alone distilled teacher; do
    printf '%-10s ' "$kind"; grep '"map50"' "$work/$kind.json"
done
