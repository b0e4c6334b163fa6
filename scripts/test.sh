#!/usr/bin/env bash
# Run the test suite. Creates (or reuses) .venv with every extra the tests need.
#   scripts/test.sh                 # everything
#   scripts/test.sh tests/device -k live    # pytest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv "dev"
"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .
exec "$VENV/bin/python" -m pytest "$@"
