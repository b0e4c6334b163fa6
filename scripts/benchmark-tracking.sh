#!/usr/bin/env bash
# The tracker benchmark (scripts/benchmark_tracking.py): ours against norfair, SORT,
# ByteTrack and OC-SORT on the demo detector's output, scored with TrackEval.
#   scripts/benchmark-tracking.sh                                  # seeds 101-105, 300 frames
#   scripts/benchmark-tracking.sh --tune --out BENCHMARKS-tracking.md-fragment
# The bench packages are pinned (pyproject.toml, extra track-bench) so the figures can be reproduced. trackers and trackeval
# declare opencv-python, which would sit beside (and fight) the project's
# opencv-python-headless over the same cv2 module: they go in with --no-deps, and the
# pure-Python packages they import are listed by hand. The original norfair 2.3 needs
# numpy<2, which TensorFlow 2.21 cannot live with: the maintained fork norfair-enough.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "device,convert,track-bench"
"$VENV/bin/python" -m pip install --quiet --no-deps "trackers==2.6.1" "trackeval==1.3.0"
exec "$VENV/bin/python" scripts/benchmark_tracking.py "$@"
