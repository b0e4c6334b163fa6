"""The device side of `pisight deploy`: one POSIX shell script run over SSH, and the
ssh/scp command lines that reach it.

    Ssh(target, options).script("activate", dest, release)   # -> CompletedProcess

The script is fed to `sh -s` on stdin, so nothing has to be installed on the Pi first
and the device-side logic ships inside the wheel. Layout on the device::

    DEST/releases/NAME/     one directory per deployed bundle
    DEST/current -> releases/NAME      what the service runs (ExecStart=... DEST/current)
    DEST/previous -> releases/OLD      exactly one earlier bundle, kept for rollback
    DEST/.staging/NAME/     uploads land here and move to releases/ only once verified
                            and probed (the device's runtime loaded and invoked the model)
    CONFIG (/etc/pisight/pisight.toml)    the settings, when a deploy brings them
    CONFIG.previous                       the settings before, kept for rollback
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Each verb is one step of a deploy; all of them leave DEST consistent when they fail.
# Links are swapped with `ln -s new tmp; mv -T tmp link`: rename(2) is atomic, so the
# service sees either the old bundle or the new one, never a missing or half-made link.
REMOTE_SCRIPT = r"""
set -eu
fail() { echo "$*" >&2; exit 1; }
swap_link() { ln -sfn "$1" "$dest/.$2.tmp" && mv -T "$dest/.$2.tmp" "$dest/$2"; }
# as_root DIR CMD...: CMD as this user where it can write DIR, else through sudo -n
# (/etc/pisight belongs to root; the deploy user has passwordless sudo on a flashed Pi).
as_root() {
    probe=$1; shift
    while [ ! -e "$probe" ]; do probe=$(dirname "$probe"); done
    if [ -w "$probe" ]; then "$@"; else sudo -n "$@" || fail "cannot write $probe (no sudo -n)"; fi
}
# The new settings are copied beside the live file before the link swap, so installing
# them is one rename right after it; the live file is kept as CONFIG.previous.
stage_config() {
    new=$1; config=$2; dir=$(dirname "$config")
    [ -f "$new" ] || fail "the release has no pisight.toml"
    [ -d "$dir" ] || as_root "$dir" mkdir -p "$dir"
    as_root "$dir" cp "$new" "$config.new"
    as_root "$dir" chmod 644 "$config.new"
    if [ -f "$config" ]; then
        as_root "$dir" cp -p "$config" "$config.previous"
        echo "config_old=1"
    else
        echo "config_old=0"
    fi
}
# Checks the upload against its SHA256SUMS; a damaged copy is removed, never activated.
verify_staging() {
    staging=$1
    if ! report=$(cd "$staging" && sha256sum --strict -c SHA256SUMS 2>&1); then
        rm -rf "$staging"
        bad=$(printf '%s\n' "$report" | grep -v ': OK$' | head -n 3 | tr '\n' ' ')
        fail "checksum mismatch on the device: $bad"
    fi
}
verb=$1; dest=$2; shift 2
case $verb in
prepare)
    command -v sha256sum >/dev/null || fail "sha256sum is missing (apt-get install coreutils)"
    mkdir -p "$dest/releases" "$dest/.staging"
    rm -rf "$dest/.staging/$1"
    mkdir "$dest/.staging/$1"
    ;;
verify)
    verify_staging "$dest/.staging/$1"
    ;;
probe)
    # Before the swap: the service's own Python (so its runtime) loads and invokes the
    # staged model in the sandboxed probe; the settings that will be live pick the runtime.
    staging="$dest/.staging/$1"; python=$2; config=${3:-}
    if [ -f "$staging/pisight.toml" ]; then config="$staging/pisight.toml"; fi
    if [ ! -x "$python" ]; then
        rm -rf "$staging"
        fail "no $python on the device: install pisight (install-pi.sh) or give --device-python"
    fi
    if ! said=$("$python" -m pisight.device.fleet.preflight "$staging/model.tflite" \
            --config "$config" 2>&1); then
        rm -rf "$staging"
        fail "$(printf '%s\n' "$said" | tail -n 1)"
    fi
    printf '%s\n' "$said" | tail -n 1
    ;;
activate)
    staging="$dest/.staging/$1"
    verify_staging "$staging"
    mv -T "$staging" "$dest/releases/$1"
    echo "old=$(readlink "$dest/current" 2>/dev/null || true)"
    config=${2:-}
    if [ -n "$config" ]; then stage_config "$dest/releases/$1/pisight.toml" "$config"; fi
    swap_link "releases/$1" current
    if [ -n "$config" ]; then as_root "$(dirname "$config")" mv -f "$config.new" "$config"; fi
    ;;
commit)
    old=${1:-}
    now=$(readlink "$dest/current")
    if [ -n "$old" ] && [ "$old" != "$now" ]; then swap_link "$old" previous; fi
    keep=$(readlink "$dest/previous" 2>/dev/null || true)
    for release in "$dest"/releases/*; do
        name="releases/${release##*/}"
        [ "$name" = "$now" ] || [ "$name" = "$keep" ] || rm -rf "$release"
    done
    rm -rf "$dest/.staging"
    ;;
rollback)
    old=$1; new=$2
    swap_link "$old" current
    rm -rf "$dest/$new"
    ;;
restore-config)
    # Back to the settings before this deploy: the kept copy, or none if there was none.
    config=$1; had=$2; dir=$(dirname "$config")
    if [ "$had" = 1 ]; then
        as_root "$dir" cp -p "$config.previous" "$config.new"
        as_root "$dir" mv -f "$config.new" "$config"
    else
        as_root "$dir" rm -f "$config"
    fi
    ;;
health)
    url=$1; seconds=$2; env_file=$3; config=${4:-}
    # The live view asks for Basic auth; its credentials live in the service's 0600 file.
    PISIGHT_AUTH=$( (cat "$env_file" 2>/dev/null || sudo -n cat "$env_file" 2>/dev/null || true) \
        | sed -n 's/^PISIGHT_AUTH=//p' | head -n 1)
    export PISIGHT_AUTH
    python3 -c "$HEALTH_PY" "$url" "$seconds" "$config"
    ;;
restart)
    sh -c "$1"
    ;;
bench)
    # After the bundle went live: the bare interpreter on the device (`pisight bench`),
    # kept as DEST/bench.json beside the releases (the CPU it ran on is in it).
    # $3: the runtime the probe loaded the model in (the service's), empty for the default.
    python=$1; runs=$2; runtime=${3:-}
    "$python" -m pisight.device.cli bench "$dest/current" --runs "$runs" \
        ${runtime:+--runtime "$runtime"} --json "$dest/.bench.json.tmp" >/dev/null 2>&1 \
        || fail "pisight bench failed there"
    mv -f "$dest/.bench.json.tmp" "$dest/bench.json"
    cat "$dest/bench.json"
    ;;
*)
    fail "unknown step $verb"
    ;;
esac
"""

# Polls /healthz until it answers 200 (frames flow) or the time is up; prints the last answer.
# The credentials are found as `pisight run` finds them: the settings' [live] auth_file
# first, else PISIGHT_AUTH (which the health verb read from the service's env file).
HEALTH_PY = r"""
import base64, os, subprocess, sys, time, urllib.request
url, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])

def read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        done = subprocess.run(["sudo", "-n", "cat", path], capture_output=True)
        return done.stdout if done.returncode == 0 else b""

def auth_file(config):
    try:
        import tomllib
        return tomllib.loads(read(config).decode()).get("live", {}).get("auth_file") or ""
    except Exception:
        return ""  # no settings file, or no tomllib (Python < 3.11)

path = auth_file(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] else ""
first = (read(path).decode(errors="replace").splitlines() or [""])[0] if path else ""
auth = first.strip().removeprefix("PISIGHT_AUTH=") or os.environ.get("PISIGHT_AUTH", "")
last = "no answer"
while time.monotonic() < deadline:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=3) as answer:
            if answer.status == 200:
                sys.exit(0)
    except Exception as exc:
        last = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    time.sleep(1)
print(last, file=sys.stderr)
sys.exit(1)
"""


@dataclass(frozen=True)
class Target:
    """One device: USER@HOST[:PORT]."""

    user_host: str
    port: int = 22

    @classmethod
    def parse(cls, spec: str, default_port: int) -> Target:
        user_host, _, port = spec.strip().rpartition(":") if ":" in spec else (spec, "", "")
        if "@" not in user_host or user_host.startswith("@") or user_host.endswith("@"):
            raise ValueError(f"--host {spec!r} must look like USER@HOST or USER@HOST:PORT")
        if port and not port.isdigit():
            raise ValueError(f"--host {spec!r} has a bad port {port!r}")
        return cls(user_host, int(port) if port else default_port)

    def __str__(self) -> str:
        return self.user_host if self.port == 22 else f"{self.user_host}:{self.port}"


@dataclass(frozen=True)
class SshOptions:
    identity: Path | None = None
    known_hosts: Path | None = None
    connect_timeout_s: int = 10


class Ssh:
    """ssh/scp to one target, never prompting: BatchMode fails instead of asking."""

    def __init__(self, target: Target, options: SshOptions) -> None:
        self.target = target
        self.options = options

    def _common(self) -> list[str]:
        args = ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new",
                "-o", f"ConnectTimeout={self.options.connect_timeout_s}"]  # fmt: skip
        if self.options.identity:
            args += ["-o", "IdentitiesOnly=yes", "-i", str(self.options.identity)]
        if self.options.known_hosts:
            args += ["-o", f"UserKnownHostsFile={self.options.known_hosts}"]
        return args

    def script(self, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """Run one step of REMOTE_SCRIPT on the device."""
        remote = f"HEALTH_PY={shlex.quote(HEALTH_PY)} sh -s -- " + shlex.join(args)
        command = ["ssh", *self._common(), "-p", str(self.target.port), self.target.user_host]
        return subprocess.run(
            [*command, remote], input=REMOTE_SCRIPT, capture_output=True, text=True,
            timeout=timeout_s, check=False,
        )  # fmt: skip

    def run(self, remote: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
        """One shell command line on the device (`pisight tune --bench-host`)."""
        command = ["ssh", *self._common(), "-p", str(self.target.port), self.target.user_host]
        return subprocess.run(
            [*command, remote], capture_output=True, text=True, timeout=timeout_s, check=False
        )

    def upload(self, files: Sequence[Path], remote_dir: str) -> subprocess.CompletedProcess[str]:
        destination = f"{self.target.user_host}:{remote_dir}/"
        command = ["scp", "-q", *self._common(), "-P", str(self.target.port)]
        return subprocess.run(
            [*command, *map(str, files), destination],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
