#!/usr/bin/env bash
# Rebuild the shipped demo detector (models/demo/demo.keras + .json) from scratch:
# synthetic training and validation sets, then CPU training with these exact settings.
# Seeds: training data 1, validation 2 (the demo calibrates, evaluates and plays on
# seeds 101, 202 and 303, which the detector never saw). Takes about 35 minutes on a
# 2-core machine; the time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "device,convert"
work="${1:-build/demo-training}"
mkdir -p "$work"
started=$(date +%s)
"$VENV/bin/pisight" synth --out "$work/train" --images 1500 --seed 1
"$VENV/bin/pisight" synth --out "$work/val" --images 300 --seed 2
"$VENV/bin/pisight" train --data "$work/train" --val-data "$work/val" \
    --out models/demo/demo.keras --input-size 224 --alpha 0.35 --epochs 50 \
    --batch-size 16 --lr 0.003 --backbone-weights none --seed 0 --eval-every 2 \
    --patience 50 --anchor-scales 0.12 0.7 --anchor-ratios 1.0 0.6 1.6 \
    --full-first-layer --crop 0.3
echo "trained in $(( $(date +%s) - started )) s"
"$VENV/bin/pisight" eval models/demo/demo.keras --data "$work/val"
