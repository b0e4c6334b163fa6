# shellcheck shell=bash
# Sourced by the scripts: create or reuse .venv and install pisight with the given extras.
# Debian's system Python refuses pip outside a venv (PEP 668), so everything lives in .venv.
VENV="${PISIGHT_VENV:-$PWD/.venv}"

ensure_venv() {
    local extras="$1"
    local python="${PYTHON:-python3}"
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "pisight needs Python 3.11 or newer; found $("$python" --version 2>&1)" >&2
        exit 2
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$python" -m venv "$VENV"; then
            echo "could not create $VENV: install the venv module (apt-get install python3-venv)" >&2
            exit 2
        fi
    fi
    # Reinstall only when pyproject.toml changed since the last install.
    local stamp="$VENV/.pisight-$extras.stamp"
    if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip
        # pip 26 shows the build backend's warnings even with --quiet: setuptools' boxed
        # "Editable installation ... folders with the same name as your package" (our
        # package maps onto the checkout itself) is nothing a user can act on.
        PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet -e ".[$extras]"
        touch "$stamp"
    fi
}
