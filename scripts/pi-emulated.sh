#!/usr/bin/env bash
# The Pi half installed and run on arm64 Debian under qemu-user emulation (issue 18).
#
#   sudo scripts/pi-emulated.sh bookworm        # Python 3.11, as Raspberry Pi OS Bookworm
#   sudo scripts/pi-emulated.sh trixie          # Python 3.13, as Raspberry Pi OS Trixie
#
# Builds (or unpacks from the cache) an arm64 Debian root with mmdebstrap, installs the
# wheel built from this checkout with scripts/install-pi.sh, runs the demo bundle on a
# synthetic MJPEG clip and on its frames as PNG, and compares with the same runs on this
# machine: on the PNG frames the same labels, boxes within 1 px, scores within 0.02 (the
# clip only reported: FFmpeg decodes MJPEG a level or two apart on x86 and aarch64). Then
# the first boot `pisight flash` writes, on a fresh copy of the root. Exit 0 when every
# check passes; the time of each step at the end.
# Needs root, mmdebstrap, qemu-user-static, binfmt-support and the checkout's .venv.
#   PISIGHT_CACHE=DIR        cache (default ~/.cache/pisight; roots in DIR/roots/)
#   PISIGHT_EMULATED_KEEP=1  keep the work directory (the roots, logs) after the run
#   PISIGHT_DEBIAN_MIRROR    Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail

RELEASE=${1:-}
case $RELEASE in
    bookworm | trixie) ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/pi-emulated.sh bookworm|trixie" >&2; exit 2 ;;
esac
REPO="$(cd "$(dirname "$0")/.." && pwd)"
HELPERS="$REPO/scripts/pi-emulated"
HOST_PY="$REPO/.venv/bin/python"
CACHE="${PISIGHT_CACHE:-$HOME/.cache/pisight}/roots"
MIRROR=${PISIGHT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG="[pi-emulated $RELEASE]"

[ "$(id -u)" = 0 ] || { echo "$TAG run as root (mmdebstrap, chroot, mounts)" >&2; exit 2; }
for tool in mmdebstrap qemu-aarch64-static update-binfmts unshare chroot findmnt; do
    command -v "$tool" >/dev/null || {
        echo "$TAG $tool missing: apt-get install mmdebstrap qemu-user-static binfmt-support" >&2
        exit 2
    }
done
[ -x "$HOST_PY" ] || { echo "$TAG $HOST_PY missing: run scripts/test.sh once" >&2; exit 2; }

# What the root holds. A Pi image has systemd, sshd and sudo (the first boot enables ssh and
# writes /etc/sudoers.d); Trixie's first boot is cloud-init. install-pi.sh needs python3,
# python3-venv (ensurepip), useradd/usermod (passwd) and coreutils.
PACKAGES="python3 python3-venv python3-pip ca-certificates passwd systemd openssh-server sudo"
[ "$RELEASE" = trixie ] && PACKAGES="$PACKAGES cloud-init"
SOURCES=("deb $MIRROR $RELEASE main" "deb $MIRROR $RELEASE-updates main"
    "deb ${MIRROR%/debian}/debian-security $RELEASE-security main")
VARIANT=minbase
KEY=$(printf '%s\n' "v1 $VARIANT" "$PACKAGES" "${SOURCES[@]}" | sha256sum | cut -c1-12)
TARBALL="$CACHE/$RELEASE-arm64-$KEY.tar"

WORK=$(mktemp -d /var/tmp/pisight-emulated-"$RELEASE".XXXXXX)
chmod 755 "$WORK"
MOUNTS=()
TIMES=()
PARTIAL=""
FAILED=""
CURRENT=""
STARTED=0

cleanup() {
    local status=$? i
    if [ -n "$CURRENT" ]; then
        FAILED=$CURRENT
        note_time "$CURRENT" "$STARTED" "  FAILED"
    fi
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" || true
    done
    [ -z "$PARTIAL" ] || rm -f "$PARTIAL"
    if findmnt -rn -o TARGET | grep -qF "$WORK"; then
        echo "$TAG still mounted under $WORK, not deleting it:" >&2
        findmnt -rn -o TARGET | grep -F "$WORK" >&2
    elif [ "${PISIGHT_EMULATED_KEEP:-0}" = 1 ]; then
        echo "$TAG kept $WORK"
    else
        rm -rf --one-file-system "$WORK"
    fi
    echo "--- $TAG time per step"
    printf '%s\n' "${TIMES[@]}"
    if [ "$status" = 0 ]; then
        echo "$TAG all checks passed"
    else
        echo "$TAG FAILED${FAILED:+ in step: $FAILED} (exit $status)"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

usec() { echo "${EPOCHREALTIME/./}"; }
seconds_since() { # seconds_since START_USEC: elapsed, one decimal
    local d=$(($(usec) - $1))
    printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000))
}
note_time() { TIMES+=("$(printf '%-36s %7s s%s' "$1" "$(seconds_since "$2")" "${3:-}")"); }
# step NAME COMMAND...: run it in this shell with errexit in force (never inside `||`, which
# would switch errexit off for the whole function); the EXIT trap notes a failing step.
step() {
    CURRENT=$1
    STARTED=$(usec)
    echo "=== $TAG $1"
    shift
    "$@"
    note_time "$CURRENT" "$STARTED"
    CURRENT=""
}

# Run COMMAND inside ROOT as the Pi would: aarch64 binaries through binfmt + qemu, a clean
# environment, and its own UTS namespace (the first boot sets a hostname: not this host's).
# No systemd runs in the root: SYSTEMD_OFFLINE=1 makes systemctl edit unit links only and
# ignore daemon-reload/restart, as it does in a chroot it recognises. (It recognises one by
# /proc/1/root; where PID 1 is not readable, in VMs and containers, it does not, and fails.)
in_root() { # in_root ROOT [--userspec=UID:GID] COMMAND...
    local root=$1 spec=()
    shift
    if [[ ${1:-} == --userspec=* ]]; then spec=("$1"); shift; fi
    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
        LANG=C.UTF-8 TERM=dumb QEMU_CPU=cortex-a72 SYSTEMD_OFFLINE=1 \
        PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=180 \
        /usr/bin/unshare --uts --ipc chroot "${spec[@]}" "$root" "$@"
}

enable_binfmt() {
    mountpoint -q /proc/sys/fs/binfmt_misc ||
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable qemu-aarch64 2>/dev/null || true
    grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
        echo "qemu-aarch64 binfmt handler not enabled (update-binfmts --enable qemu-aarch64)"
        return 1
    }
    # F (fix binary): the kernel keeps qemu open, so it need not exist inside the root.
    grep -q '^flags: .*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 || {
        echo "qemu-aarch64 binfmt handler lacks the F flag; install qemu-user-static"
        return 1
    }
}

build_root() {
    if [ -f "$TARBALL" ]; then
        echo "cached: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
        return 0
    fi
    mkdir -p "$CACHE"
    PARTIAL="$CACHE/.building-$RELEASE-$KEY-$$.tar" # removed on exit unless it was finished
    echo "building $TARBALL: $VARIANT + $PACKAGES"
    nice -n 10 mmdebstrap --quiet --arch=arm64 --variant=$VARIANT --include="${PACKAGES// /,}" \
        --aptopt='Acquire::Retries "3"' --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        "$RELEASE" "$PARTIAL" "${SOURCES[@]}"
    mv "$PARTIAL" "$TARBALL" # atomic: a concurrent run sees no tarball or a whole one
    PARTIAL=""
    echo "built $TARBALL ($(du -h "$TARBALL" | cut -f1))"
}

# A Pi 4-like cpuinfo, one processor entry per host CPU (LiteRT's cpuinfo reads both it and
# /sys; qemu 7.2 shows the guest the host's x86 /proc/cpuinfo, and LiteRT then segfaults).
write_cpuinfo() {
    local n
    for ((n = 0; n < $(nproc); n++)); do
        sed "s/@N@/$n/" "$HELPERS/cpuinfo-cortex-a72.processor"
    done >"$WORK/cpuinfo"
    cat "$HELPERS/cpuinfo-cortex-a72.board" >>"$WORK/cpuinfo"
}

host_pip_conf() { # the index this host's pip uses, and the host's CA bundle to trust it
    local index
    index=${PIP_INDEX_URL:-$("$HOST_PY" -m pip config get global.index-url 2>/dev/null || true)}
    echo "[global]"
    echo "cert = /etc/ssl/certs/pisight-host-ca.crt"
    [ -n "$index" ] && echo "index-url = $index"
    local trusted=${PIP_TRUSTED_HOST:-$("$HOST_PY" -m pip config get global.trusted-host \
        2>/dev/null || true)}
    [ -n "$trusted" ] && echo "trusted-host = $trusted"
    return 0
}

unpack_root() { # unpack_root DIR: the cached root, mounted and ready to chroot into
    local root=$1
    mkdir -p "$root"
    tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$TARBALL"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # What a Raspberry Pi OS image has and a bare debootstrap lacks (firstrun.sh edits hosts).
    echo raspberrypi >"$root/etc/hostname"
    printf '%s\n' "127.0.0.1	localhost" "::1		localhost ip6-localhost ip6-loopback" \
        "127.0.1.1	raspberrypi" >"$root/etc/hosts"
    cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/pisight-host-ca.crt"
    host_pip_conf >"$root/etc/pip.conf"
    mount -t proc proc "$root/proc"
    MOUNTS+=("$root/proc")
    mount --bind "$WORK/cpuinfo" "$root/proc/cpuinfo"
    MOUNTS+=("$root/proc/cpuinfo")
    mount --rbind /sys "$root/sys"
    MOUNTS+=("$root/sys")
    mount --make-rslave "$root/sys"
    mount --rbind /dev "$root/dev"
    MOUNTS+=("$root/dev")
    mount --make-rslave "$root/dev"
    # shellcheck disable=SC2016  # expanded inside the root, on purpose
    in_root "$root" sh -c \
        'echo "$(uname -m), $(python3 --version), $(grep -m1 Features /proc/cpuinfo)"'
}

build_wheel() {
    mkdir -p "$WORK/dist"
    "$HOST_PY" -m pip wheel --no-deps -q -w "$WORK/dist" "$REPO"
    WHEEL=$(ls "$WORK"/dist/pisight-*.whl)
    echo "$WHEEL"
}

synth_clip() { # the clip, and its frames as PNG (PNG decodes alike everywhere; MJPEG not)
    "$REPO/.venv/bin/pisight" synth --video "$WORK/clip.avi" --frames 30 --video-size 320x240 \
        --seed 5
    "$HOST_PY" "$HELPERS/decode_frames.py" decode "$WORK/clip.avi" "$WORK/frames"
}

run_x86() {
    local name source
    for name in video frames; do
        source="$WORK/clip.avi"
        [ "$name" = frames ] && source="$WORK/frames"
        "$REPO/.venv/bin/pisight" run --model "$REPO/models/demo/bundle" --source "$source" \
            --frames 30 --detections "$WORK/x86-$name.jsonl" --no-serve
    done
}

# The checkout's files as a Pi gets them: world-readable, in one directory inside the root.
stage_payload() {
    local src="$ROOT_A/srv/pisight-src"
    install -d -m 755 "$src" "$src/scripts"
    install -m 755 "$REPO/scripts/install-pi.sh" "$src/scripts/"
    install -m 644 "$REPO/scripts/pisight.service" "$src/scripts/"
    # The settings install-pi.sh installs as /etc/pisight/pisight.toml (beside it by default).
    if [ -f "$REPO/scripts/pisight.toml" ]; then
        install -m 644 "$REPO/scripts/pisight.toml" "$src/scripts/"
    fi
    install -m 644 "$WHEEL" "$WORK/clip.avi" "$src/"
    cp -r "$WORK/frames" "$src/frames"
    cp -r "$REPO/models/demo/bundle" "$src/bundle"
    chmod -R a+rX "$src"
}

install_pi() {
    in_root "$ROOT_A" bash /srv/pisight-src/scripts/install-pi.sh \
        --wheel "/srv/pisight-src/$(basename "$WHEEL")" --bundle /srv/pisight-src/bundle
}

check_pi() {
    in_root "$ROOT_A" bash /srv/pisight-src/scripts/install-pi.sh --check
}

run_arm64() { # as the service runs it: user pisight, the installed venv and bundle
    local uid gid name source
    uid=$(awk -F: '$1 == "pisight" {print $3}' "$ROOT_A/etc/passwd")
    gid=$(awk -F: '$1 == "pisight" {print $4}' "$ROOT_A/etc/passwd")
    # The first run loads the model through the sandboxed probe as the service does; the
    # second skips it: under qemu on a busy host one load once took over the probe's 10 s
    # (load average 7; about 1 s idle, and far less on a Pi 4).
    local probe=--probe
    for name in video frames; do
        source=/srv/pisight-src/clip.avi
        [ "$name" = frames ] && source=/srv/pisight-src/frames && probe=--no-probe
        in_root "$ROOT_A" --userspec="$uid:$gid" env HOME=/tmp \
            /opt/pisight/venv/bin/pisight run --model /opt/pisight/models/current \
            --source "$source" --frames 30 --detections "/tmp/arm64-$name.jsonl" --no-serve \
            "$probe"
        cp "$ROOT_A/tmp/arm64-$name.jsonl" "$WORK/"
    done
    in_root "$ROOT_A" /opt/pisight/venv/bin/python -c \
        'import platform, ai_edge_litert, numpy, cv2; print(platform.machine(),
platform.python_version(), "numpy", numpy.__version__, "opencv", cv2.__version__)'
}

# The check: the same PNG frames in, the same detections out. The MJPEG clip itself is
# compared too, for information: FFmpeg decodes it a level or two apart on x86 and aarch64,
# and an int8 detector turns that into score steps of ~0.03 and boxes a few pixels apart.
compare_runs() {
    "$HOST_PY" "$HELPERS/compare_detections.py" --name "png frames" \
        "$WORK/x86-frames.jsonl" "$WORK/arm64-frames.jsonl"
    "$HOST_PY" "$HELPERS/compare_detections.py" --name "mjpeg video" --informational \
        "$WORK/x86-video.jsonl" "$WORK/arm64-video.jsonl"
    install -m 755 "$HELPERS/decode_frames.py" "$ROOT_A/srv/pisight-src/"
    in_root "$ROOT_A" /opt/pisight/venv/bin/python /srv/pisight-src/decode_frames.py decode \
        /srv/pisight-src/clip.avi /tmp/arm64-frames >/dev/null
    "$HOST_PY" "$HELPERS/decode_frames.py" diff "$WORK/frames" "$ROOT_A/tmp/arm64-frames"
}

# A venv holding pisight from $WHEEL only (pip install --no-deps), its dependencies from
# the checkout's .venv through a .pth, as tests/device/fleet/test_flash_installed.py does.
installed_pisight() {
    local venv="$WORK/installed-venv" site
    if [ ! -x "$venv/bin/pisight" ]; then
        "$HOST_PY" -m venv --without-pip "$venv"
        site=$(echo "$venv"/lib/python3*/site-packages)
        "$HOST_PY" -c 'import pathlib, numpy, cv2, psutil, ai_edge_litert, pip
print("\n".join(sorted({str(pathlib.Path(m.__file__).resolve().parents[1])
                        for m in (numpy, cv2, psutil, ai_edge_litert, pip)})))' \
            >"$site/zz_dependencies.pth"
        "$venv/bin/python" -m pip install -q --no-deps --no-index "$WHEEL" >&2
    fi
    echo "$venv/bin/pisight"
}

# The card `pisight flash` writes, laid out as tests/device/fleet/test_flash.py does.
flash_card() {
    local boot="$WORK/bootfs"
    mkdir "$boot"
    printf '[all]\ndtparam=audio=on\n' >"$boot/config.txt"
    printf '\0' >"$boot/start4.elf"
    printf '\0' >"$boot/bcm2711-rpi-4-b.dtb"
    local cmdline="console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootwait"
    if [ "$RELEASE" = trixie ]; then # Trixie images ship stub cloud-init files
        echo "$cmdline ds=nocloud" >"$boot/cmdline.txt"
        for name in user-data meta-data network-config; do echo "# stub" >"$boot/$name"; done
    else
        echo "$cmdline" >"$boot/cmdline.txt"
    fi
    echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPisightEmulatedTestKeyOnly pi-emulated" \
        >"$WORK/key.pub"
    # From the wheel installed (not editable) in a venv of its own, as a user who ran
    # `pip install pisight` would: flash packs that installed pisight onto the card.
    "$(installed_pisight)" flash "$boot" --bundle "$REPO/models/demo/bundle" \
        --hostname cam1 --user pi --ssh-key "$WORK/key.pub"
    # The card's boot partition, mounted where the Pi mounts it.
    mkdir -p "$ROOT_B/boot/firmware"
    cp -r "$boot/." "$ROOT_B/boot/firmware/"
}

first_boot_bookworm() {
    # Boot 1: cmdline.txt's systemd.run= runs firstrun.sh as root, then reboots.
    grep -q 'systemd.run=/boot/firmware/firstrun.sh' "$ROOT_B/boot/firmware/cmdline.txt"
    in_root "$ROOT_B" /boot/firmware/firstrun.sh
    [ ! -e "$ROOT_B/boot/firmware/firstrun.sh" ] || { echo "firstrun.sh left itself"; return 1; }
    ! grep -q 'systemd.run' "$ROOT_B/boot/firmware/cmdline.txt" ||
        { echo "cmdline.txt keeps the systemd.run hook"; return 1; }
    local unit="$ROOT_B/etc/systemd/system/pisight-firstboot.service"
    [ -L "$ROOT_B/etc/systemd/system/multi-user.target.wants/pisight-firstboot.service" ] ||
        { echo "pisight-firstboot.service not enabled"; return 1; }
    # Boot 2, network online: systemd runs the enabled oneshot, ExecStart then ExecStartPost.
    local condition start post
    condition=$(sed -n 's/^ConditionPathExists=//p' "$unit")
    [ -e "$ROOT_B$condition" ] || { echo "ConditionPathExists=$condition is false"; return 1; }
    start=$(sed -n 's/^ExecStart=//p' "$unit")
    post=$(sed -n 's/^ExecStartPost=//p' "$unit")
    echo "ExecStart=$start"
    in_root "$ROOT_B" bash -c "$start"
    in_root "$ROOT_B" bash -c "$post"
    [ ! -e "$ROOT_B/etc/systemd/system/multi-user.target.wants/pisight-firstboot.service" ] ||
        { echo "pisight-firstboot.service still enabled after it ran"; return 1; }
}

first_boot_trixie() {
    # cloud-init's four boot stages, as its systemd units run them (runcmd needs the network:
    # it runs in cloud-final, after network-online.target).
    install -m 644 "$HELPERS/cloud-init-emulated.cfg" \
        "$ROOT_B/etc/cloud/cloud.cfg.d/99-pisight-emulated.cfg"
    in_root "$ROOT_B" cloud-init init --local
    in_root "$ROOT_B" cloud-init init
    in_root "$ROOT_B" cloud-init modules --mode=config
    in_root "$ROOT_B" cloud-init modules --mode=final
    # status: 0 done, 2 done with recoverable errors (deprecations, warnings), 1 failed.
    local status=0
    in_root "$ROOT_B" cloud-init status --long || status=$?
    if [ "$status" = 1 ]; then
        echo "cloud-init failed; the end of its log:"
        tail -n 40 "$ROOT_B/var/log/cloud-init.log"
        return 1
    fi
    if [ "$status" = 2 ]; then
        echo "cloud-init: done, with recoverable errors:"
        grep -E 'WARNING|DEPRECAT' "$ROOT_B/var/log/cloud-init.log" | tail -n 10 || true
    fi
}

check_first_boot() {
    in_root "$ROOT_B" bash /boot/firmware/pisight/install-pi.sh --check
    diff -r "$REPO/models/demo/bundle" "$ROOT_B/opt/pisight/models/current/"
    echo "bundle at /opt/pisight/models/current = models/demo/bundle"
    grep -qx cam1 "$ROOT_B/etc/hostname" || { echo "hostname not cam1"; return 1; }
    grep -qF "$(cat "$WORK/key.pub")" "$ROOT_B/home/pi/.ssh/authorized_keys" ||
        { echo "pi's authorized_keys lacks the key"; return 1; }
    echo "user pi with the SSH key, hostname cam1"
    [ -L "$ROOT_B/etc/systemd/system/multi-user.target.wants/pisight.service" ]
    echo "pisight.service enabled"
    [ -L "$ROOT_B/etc/systemd/system/multi-user.target.wants/ssh.service" ] ||
        [ -L "$ROOT_B/etc/systemd/system/sshd.service" ]
    echo "ssh enabled"
}

ROOT_A="$WORK/root-install"
ROOT_B="$WORK/root-firstboot"
step "binfmt_misc + qemu-aarch64" enable_binfmt
write_cpuinfo
step "root (mmdebstrap or cache)" build_root
step "unpack root" unpack_root "$ROOT_A"
step "host: wheel from checkout" build_wheel
step "host: synth clip + PNG frames" synth_clip
step "host: x86 pisight run (2 x 30)" run_x86
stage_payload
step "arm64: install-pi.sh" install_pi
step "arm64: install-pi.sh --check" check_pi
step "arm64: pisight run (2 x 30 frames)" run_arm64
step "compare x86 vs arm64" compare_runs
step "unpack fresh root (first boot)" unpack_root "$ROOT_B"
step "host: pisight flash" flash_card
step "arm64: first boot ($RELEASE)" "first_boot_$RELEASE"
step "arm64: check first boot" check_first_boot
