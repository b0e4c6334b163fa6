#!/usr/bin/env bash
# The whole kit on this machine: synthetic data, INT8 conversion of the shipped demo
# detector, FP32-vs-INT8 evaluation, then the live annotated stream at
# http://127.0.0.1:8080/ until Ctrl-C (or --frames N). Writes demo-out/report.md.
#   scripts/demo.sh                 # Ctrl-C to stop
#   scripts/demo.sh --frames 200    # stop by itself
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "device,convert"
exec "$VENV/bin/pisight" demo "$@"
