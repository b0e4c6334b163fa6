#!/usr/bin/env bash
# Device-only install of pisight on Raspberry Pi OS Bookworm (Python 3.11) or Trixie (3.13).
#
#   sudo scripts/install-pi.sh --wheel pisight-0.1.0-py3-none-any.whl --bundle out/bundle
#   scripts/install-pi.sh --check          # what is missing; changes nothing
#
# Idempotent: every step looks first and only does what is missing; the settings file
# (--config, default pisight.toml beside this script) becomes /etc/pisight/pisight.toml
# only if there is none: an edited one is never overwritten. --root/--prefix point it at
# another tree (tests use a temporary root; nothing outside it is touched).
set -euo pipefail

ROOT=/
PREFIX=/opt/pisight
WHEEL=""
BUNDLE=""
UNIT="$(cd "$(dirname "$0")" && pwd)/pisight.service"
CONFIG="$(cd "$(dirname "$0")" && pwd)/pisight.toml"
CHECK=0
TFLITE_RUNTIME=0
SERVICE_USER=pisight

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    echo "options: --check --root DIR --prefix DIR --wheel FILE --bundle DIR --unit FILE" \
        "--config FILE --tflite-runtime"
}

while [ $# -gt 0 ]; do
    case $1 in
        --check) CHECK=1 ;;
        --root) ROOT=$2; shift ;;
        --prefix) PREFIX=$2; shift ;;
        --wheel) WHEEL=$2; shift ;;
        --bundle) BUNDLE=$2; shift ;;
        --unit) UNIT=$2; shift ;;
        --config) CONFIG=$2; shift ;;
        --tflite-runtime) TFLITE_RUNTIME=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-pi.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

R=${ROOT%/}   # "" for the real system, so "$R/etc" is "/etc"
VENV="$R$PREFIX/venv"
MODELS="$R$PREFIX/models"
UNIT_DEST="$R/etc/systemd/system/pisight.service"
WANTS="$R/etc/systemd/system/multi-user.target.wants/pisight.service"
ENV_FILE="$R/etc/pisight/pisight.env"
CONFIG_DEST="$R/etc/pisight/pisight.toml"
MISSING=0

missing() { echo "missing: $*"; MISSING=$((MISSING + 1)); }

have_user() { grep -q "^$SERVICE_USER:" "$R/etc/passwd" 2>/dev/null; }
in_video() { grep -Eq "^video:[^:]*:[^:]*:(.*,)?$SERVICE_USER(,|$)" "$R/etc/group" 2>/dev/null; }
have_venv() { grep -qs '^include-system-site-packages = true' "$VENV/pyvenv.cfg"; }
env_ok() { [ -f "$ENV_FILE" ] && [ "$(stat -c %a "$ENV_FILE")" = 600 ]; }

# The service runs the same check as ExecStartPre=; a bad file would keep it from starting.
check_config() {
    local auth="" out
    if [ -r "$ENV_FILE" ]; then
        auth=$(sed -n 's/^PISIGHT_AUTH=//p' "$ENV_FILE" | head -n 1)
    elif [ -f "$ENV_FILE" ]; then
        # Only root and pisight may read the password; its file's presence is checked
        # apart, so stand in for it to check the rest of the settings.
        auth="unchecked:unchecked"
    fi
    if ! out=$(PISIGHT_AUTH=$auth "$VENV/bin/pisight" run --config "$CONFIG_DEST" \
            --check-config 2>&1); then
        missing "a valid /etc/pisight/pisight.toml ($(printf '%s\n' "$out" | tail -n 1))"
    fi
}

check() {
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
        || missing "python3 >= 3.11 (Raspberry Pi OS Bookworm or newer)"
    have_user || missing "system user $SERVICE_USER"
    in_video || missing "$SERVICE_USER in group video (camera access)"
    have_venv || missing "venv $PREFIX/venv with --system-site-packages (for python3-picamera2)"
    [ -x "$VENV/bin/pisight" ] || missing "pisight[device] in $PREFIX/venv"
    [ -e "$MODELS/current" ] || missing "a bundle at $PREFIX/models/current (pisight deploy)"
    [ -f "$UNIT_DEST" ] || missing "unit /etc/systemd/system/pisight.service"
    [ -L "$WANTS" ] || missing "pisight.service enabled"
    env_ok || missing "/etc/pisight/pisight.env with PISIGHT_AUTH, mode 0600"
    if [ ! -f "$CONFIG_DEST" ]; then
        missing "settings /etc/pisight/pisight.toml"
    elif [ -x "$VENV/bin/pisight" ]; then
        check_config
    fi
    [ -d "$R/usr/lib/python3/dist-packages/picamera2" ] \
        || echo "note: python3-picamera2 not installed; only USB cameras and files will work"
    if [ "$MISSING" -gt 0 ]; then
        echo "$MISSING item(s) missing; run scripts/install-pi.sh as root to install them"
        return 1
    fi
    echo "pisight is installed"
}

# chroot-aware user management: useradd/usermod take --root for a non-/ tree.
root_args() { if [ -n "$R" ]; then echo "--root $R"; fi; }

install_user() {
    # shellcheck disable=SC2046  # root_args is empty or two words on purpose
    have_user || useradd $(root_args) --system --home-dir "$PREFIX" --shell /usr/sbin/nologin \
        --user-group "$SERVICE_USER"
    # shellcheck disable=SC2046
    in_video || usermod $(root_args) --append --groups video "$SERVICE_USER"
}

install_venv() {
    have_venv || python3 -m venv --system-site-packages "$VENV"
    local package="pisight[device]"
    if [ -n "$WHEEL" ]; then package="${WHEEL}[device]"; fi
    "$VENV/bin/pip" install --quiet --upgrade "$package"
    if [ "$TFLITE_RUNTIME" = 1 ]; then
        # tflite-runtime stops at 2.14 / Python 3.11 and breaks beside numpy 2
        # (docs/ARCHITECTURE.md, "Known ground truth").
        "$VENV/bin/pip" install --quiet "tflite-runtime==2.14.*" "numpy<2"
    fi
}

install_bundle() {
    [ -n "$BUNDLE" ] || return 0
    [ -e "$MODELS/current" ] && return 0   # later bundles arrive with `pisight deploy`
    mkdir -p "$MODELS/releases"
    rm -rf "$MODELS/releases/initial"
    cp -r "$BUNDLE" "$MODELS/releases/initial"
    ln -sfn releases/initial "$MODELS/.current.tmp"
    mv -T "$MODELS/.current.tmp" "$MODELS/current"
}

install_env() {
    env_ok && return 0
    install -d -m 755 "$R/etc/pisight"
    local password
    password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(12))')
    # umask first: the password must never sit in a world-readable file, even briefly.
    (umask 077 && echo "PISIGHT_AUTH=pisight:$password" > "$ENV_FILE")
    chmod 600 "$ENV_FILE"
    chown "$SERVICE_USER:" "$ENV_FILE" 2>/dev/null || chown "$(grep "^$SERVICE_USER:" \
        "$R/etc/passwd" | cut -d: -f3)" "$ENV_FILE"
    echo "live view login is in /etc/pisight/pisight.env (sudo cat it)"
}

install_config() {
    # 755: the service user reads pisight.toml here; the password file is 0600 itself.
    install -d -m 755 "$R/etc/pisight"
    chmod 755 "$R/etc/pisight"
    [ -f "$CONFIG_DEST" ] && return 0   # never overwrite the user's edits
    [ -f "$CONFIG" ] || { echo "install-pi.sh: no settings file $CONFIG (--config)" >&2; exit 2; }
    install -m 644 "$CONFIG" "$CONFIG_DEST"
    echo "settings are in /etc/pisight/pisight.toml (edit, then sudo systemctl restart pisight)"
}

install_unit() {
    install -D -m 644 "$UNIT" "$UNIT_DEST"
    if [ -z "$R" ]; then
        systemctl daemon-reload
        systemctl enable pisight.service
        if [ -e "$MODELS/current" ]; then systemctl restart pisight.service; fi
    else
        mkdir -p "$(dirname "$WANTS")"
        ln -sfn /etc/systemd/system/pisight.service "$WANTS"
    fi
}

if [ "$CHECK" = 1 ]; then
    check
    exit $?
fi
[ "$(id -u)" = 0 ] || { echo "install-pi.sh: run as root (sudo), or use --check" >&2; exit 2; }
install_user
install_venv
install_bundle
install_env
install_config
install_unit
check
