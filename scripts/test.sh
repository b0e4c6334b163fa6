#!/usr/bin/env bash
# Run the test suite. Creates (or reuses) .venv with every extra the tests need.
#   scripts/test.sh                 # everything, on every core (pytest-xdist)
#   scripts/test.sh tests/device -k live    # pytest arguments pass through
#   PISIGHT_TEST_WORKERS=1 scripts/test.sh  # one process, e.g. to debug
# The time of each part goes to stdout at the end, and to $PISIGHT_TIMES when set
# (.ci/run collects it); docs/TESTING.md has the budget.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
times="${PISIGHT_TIMES:-$(mktemp)}"
part() { # part NAME COMMAND...: run it, note its wall time
    local name="$1" start=$SECONDS status=0
    shift
    "$@" || status=$?
    printf '%-28s %5d s\n' "$name" $((SECONDS - start)) >>"$times"
    return $status
}
part "install (.venv, pip)" ensure_venv "dev"
part "ruff" bash -c "'$VENV/bin/ruff' check . && '$VENV/bin/ruff' format --check ."
status=0
part "pytest" "$VENV/bin/python" -m pytest -n "${PISIGHT_TEST_WORKERS:-auto}" --dist worksteal "$@" \
    || status=$?
if [ -z "${PISIGHT_TIMES:-}" ]; then
    echo "--- time per part"
    cat "$times"
    rm -f "$times"
fi
exit $status
