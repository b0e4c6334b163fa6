"""`pisight flash`: make a freshly written Raspberry Pi OS card boot into the detector.

    pisight flash /media/$USER/bootfs --bundle out/bundle --hostname cam1 \\
        --ssh-key ~/.ssh/id_ed25519.pub --wifi-ssid home --wifi-psk-file ~/.wifi-psk \\
        --config cam1.toml

Detects the image generation from the boot partition's files: Trixie boots with
cloud-init (user-data, network-config, meta-data, or ds=nocloud in cmdline.txt), so we
write those; Bookworm gets Raspberry Pi Imager's firstrun.sh + cmdline.txt hook. Either
way the card carries pisight/ (the wheel: --wheel or the pisight running this, the bundle,
install-pi.sh, the unit and pisight.toml: --config, checked here first, or the example;
the last three ship inside the wheel, so an installed pisight flashes without a checkout)
and the first boot creates the user, sets hostname and Wi-Fi, and installs the service once
online; the settings become /etc/pisight/pisight.toml.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from pathlib import Path

from pisight.device.config.load import load_config
from pisight.device.fleet import first_boot as tpl
from pisight.device.fleet.wheel import PAYLOAD_FILES, find_wheel, payload_bytes
from pisight.device.model.bundle import check_bundle

CLOUD_INIT_FILES = ("user-data", "network-config", "meta-data")
FIRSTRUN_HOOK = (
    f"systemd.run={tpl.BOOT}/firstrun.sh systemd.run_success_action=reboot "
    "systemd.unit=kernel-command-line.target"
)
HOSTNAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def detect_image(boot: Path) -> str:
    """'trixie' (cloud-init) or 'bookworm' (firstrun.sh); refuses anything else."""
    firmware = any(boot.glob("start*.elf")) or any(boot.glob("bcm27*.dtb"))
    if not (boot / "cmdline.txt").is_file() or not (boot / "config.txt").is_file() or not firmware:
        raise ValueError(
            f"{boot} is not a Raspberry Pi boot partition (needs cmdline.txt, config.txt and "
            "start*.elf or bcm27*.dtb); give the mounted bootfs of a freshly written card"
        )
    cmdline = (boot / "cmdline.txt").read_text(encoding="utf-8")
    if any((boot / name).exists() for name in CLOUD_INIT_FILES) or "ds=nocloud" in cmdline:
        return "trixie"
    return "bookworm"


def _write(path: Path, text: str, mode: int) -> None:
    # Create with the final mode so a secret is never readable, not even for a moment.
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)  # umask may have removed bits we asked for


def read_psk(path: Path) -> str:
    psk = path.read_text(encoding="utf-8").strip("\r\n")
    if not 8 <= len(psk) <= 63 or "\n" in psk:
        raise ValueError(f"{path} must hold one WPA passphrase of 8-63 characters")
    return psk


def read_ssh_key(path: Path | None) -> str:
    if path is None:
        raise ValueError("give --ssh-key ~/.ssh/id_ed25519.pub: the image has no default user")
    key = path.read_text(encoding="utf-8").strip()
    if "PRIVATE KEY" in key or not key.startswith(("ssh-", "ecdsa-", "sk-")):
        raise ValueError(f"{path} is not an SSH public key; give the .pub file")
    return key.splitlines()[0]


def copy_payload(boot: Path, bundle: Path, wheel: Path, config: Path | None = None) -> None:
    card = boot / tpl.CARD_DIR
    card.mkdir(exist_ok=True)
    for old in card.glob("pisight-*.whl"):
        old.unlink()
    shutil.copy2(wheel, card / wheel.name)
    shutil.rmtree(card / "bundle", ignore_errors=True)
    shutil.copytree(bundle, card / "bundle")
    for name in PAYLOAD_FILES:  # from the installed package: no checkout needed
        (card / name).write_bytes(payload_bytes(name))
    if config is not None:  # the user's settings replace the annotated example
        shutil.copyfile(config, card / tpl.CONFIG_FILE)


def write_trixie(boot: Path, setup: tpl.FirstBoot, psk: str | None) -> list[str]:
    _write(boot / "user-data", tpl.user_data(setup), 0o644)
    _write(boot / "meta-data", tpl.meta_data(setup.hostname), 0o644)
    written = ["user-data", "meta-data"]
    if setup.wifi_ssid and psk is not None:
        _write(boot / "network-config", tpl.network_config(setup.wifi_ssid, psk), 0o600)
        written.append("network-config")
    return written


def write_bookworm(boot: Path, setup: tpl.FirstBoot, psk: str | None) -> list[str]:
    written = ["firstrun.sh", "cmdline.txt"]
    if setup.wifi_ssid and psk is not None:
        wifi = boot / tpl.CARD_DIR / tpl.WIFI_FILE
        _write(wifi, tpl.nm_connection(setup.wifi_ssid, psk), 0o600)
        written.append(f"{tpl.CARD_DIR}/{tpl.WIFI_FILE}")
    _write(boot / "firstrun.sh", tpl.firstrun_sh(setup), 0o755)
    _write(boot / "ssh", "", 0o644)  # the classic "enable sshd" marker, harmless if unused
    cmdline = boot / "cmdline.txt"
    line = " ".join(cmdline.read_text(encoding="utf-8").split())  # one line, always
    if FIRSTRUN_HOOK not in line:
        line = f"{line} {FIRSTRUN_HOOK}"
    cmdline.write_text(line + "\n", encoding="utf-8")
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("boot_dir", type=Path, help="the mounted boot partition (bootfs) of the card")
    add("--bundle", type=Path, required=True, help="bundle to run on the Pi")
    add("--hostname", default="pisight", help="the Pi's hostname (default pisight)")
    add("--user", default="pi", help="login user to create (default pi)")
    add("--ssh-key", type=Path, help="SSH public key for that user (e.g. ~/.ssh/id_ed25519.pub)")
    add("--wifi-ssid", help="Wi-Fi network to join")
    add("--wifi-psk-file", type=Path, help="file holding the Wi-Fi passphrase (never an argument)")
    add("--wheel", type=Path,
        help="pisight wheel to install (default: the pisight running this, packed as a "
        "wheel; in a checkout the newest dist/ wheel or one built now)")  # fmt: skip
    add("--config", type=Path,
        help="settings for /etc/pisight/pisight.toml (default: the annotated example "
        "scripts/pisight.toml, shipped in the wheel)")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    image = detect_image(args.boot_dir)
    if not HOSTNAME.match(args.hostname):
        raise ValueError(f"--hostname {args.hostname!r}: use a-z, 0-9 and -, at most 63")
    if bool(args.wifi_ssid) != bool(args.wifi_psk_file):
        raise ValueError("--wifi-ssid and --wifi-psk-file go together")
    psk = read_psk(args.wifi_psk_file) if args.wifi_psk_file else None
    key = read_ssh_key(args.ssh_key)
    check_bundle(args.bundle)
    if args.config is not None:
        load_config(args.config)  # one line and exit 2 before the card is touched
    with tempfile.TemporaryDirectory(prefix="pisight-wheel-") as scratch:
        wheel = find_wheel(args.wheel, Path(scratch))
        copy_payload(args.boot_dir, args.bundle, wheel, args.config)
    setup = tpl.FirstBoot(args.hostname, args.user, key, wheel.name, args.wifi_ssid)
    write = write_trixie if image == "trixie" else write_bookworm
    written = write(args.boot_dir, setup, psk)
    payload = f"{wheel.name}, bundle, {tpl.CONFIG_FILE}"
    print(f"{image} image: wrote {', '.join(written)} and {tpl.CARD_DIR}/ ({payload})")
    print(f"eject the card, boot the Pi, then: ssh {args.user}@{args.hostname}.local")
    return 0
