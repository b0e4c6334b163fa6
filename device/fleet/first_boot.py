"""The first-boot files `pisight flash` writes, as plain text renderers.

    user_data(FirstBoot(...))        # Trixie: cloud-init #cloud-config
    firstrun_sh(FirstBoot(...))      # Bookworm: the script cmdline.txt's systemd.run= starts

Secrets (the Wi-Fi PSK) go only into network-config / the NetworkManager connection file,
both written 0600; these renderers never put them in a script or in cmdline.txt.
"""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import dataclass

BOOT = "/boot/firmware"  # where Bookworm and Trixie mount the boot partition
CARD_DIR = "pisight"  # our files on the card: wheel, bundle, install-pi.sh, unit, settings
CONFIG_FILE = "pisight.toml"  # on the card; install-pi.sh makes it /etc/pisight/pisight.toml
WIFI_FILE = "pisight-wifi.nmconnection"


@dataclass(frozen=True)
class FirstBoot:
    hostname: str
    user: str
    ssh_key: str
    """One public key line (ssh-ed25519 AAAA... comment)."""
    wheel: str
    """File name of the pisight wheel inside BOOT/pisight/."""
    wifi_ssid: str | None = None


def install_command(setup: FirstBoot) -> list[str]:
    card = f"{BOOT}/{CARD_DIR}"
    return ["bash", f"{card}/install-pi.sh", "--wheel", f"{card}/{setup.wheel}",
            "--bundle", f"{card}/bundle", "--unit", f"{card}/pisight.service",
            "--config", f"{card}/{CONFIG_FILE}"]  # fmt: skip


def user_data(setup: FirstBoot) -> str:
    """cloud-init user-data: user with the key, hostname, SSH on, then the install."""
    config = {
        "hostname": setup.hostname,
        "manage_etc_hosts": True,
        "ssh_pwauth": False,
        "users": [{
            "name": setup.user, "groups": ["sudo", "video"], "shell": "/bin/bash",
            "sudo": "ALL=(ALL) NOPASSWD:ALL", "lock_passwd": True,
            "ssh_authorized_keys": [setup.ssh_key],
        }],
        # runcmd runs in cloud-final, after the network is up: pip can reach the index.
        "runcmd": [install_command(setup)],
    }  # fmt: skip
    # JSON is YAML; it spares us a YAML dependency and quoting rules.
    return "#cloud-config\n" + json.dumps(config, indent=2) + "\n"


def network_config(ssid: str, psk: str) -> str:
    """cloud-init network-config v2 (netplan) for one WPA network. Holds the PSK: 0600."""
    config = {
        "version": 2,
        "wifis": {
            "wlan0": {
                "dhcp4": True,
                "optional": True,
                "access-points": {ssid: {"password": psk}},
            }
        },
    }
    return json.dumps(config, indent=2) + "\n"


def meta_data(hostname: str) -> str:
    # A fresh instance-id makes cloud-init treat the card as new and run user-data.
    return f"instance-id: pisight-{hostname}-{uuid.uuid4().hex[:8]}\n"


def nm_connection(ssid: str, psk: str) -> str:
    """NetworkManager keyfile for Bookworm. Holds the PSK: 0600, as NetworkManager demands."""
    return (
        f"[connection]\nid=pisight-wifi\nuuid={uuid.uuid4()}\ntype=wifi\n\n"
        f"[wifi]\nmode=infrastructure\nssid={ssid}\n\n"
        f"[wifi-security]\nkey-mgmt=wpa-psk\npsk={psk}\n\n"
        "[ipv4]\nmethod=auto\n\n[ipv6]\nmethod=auto\n"
    )


def firstrun_sh(setup: FirstBoot) -> str:
    """Bookworm's first boot, as Raspberry Pi Imager does it: runs once from cmdline.txt,
    removes its own hook, reboots. The install needs the network, so it only queues a
    oneshot unit that runs after network-online.target on the next boot."""
    q = shlex.quote
    install = shlex.join(install_command(setup))
    wifi = (
        f"install -m 600 {BOOT}/{CARD_DIR}/{WIFI_FILE} /etc/NetworkManager/system-connections/\n"
        f"rm -f {BOOT}/{CARD_DIR}/{WIFI_FILE}\n"
        if setup.wifi_ssid
        else ""
    )
    return f"""#!/bin/bash
# Written by `pisight flash`; runs once as root via systemd.run= in cmdline.txt.
set -eu
echo {q(setup.hostname)} > /etc/hostname
sed -i "s/127.0.1.1.*/127.0.1.1\\t"{q(setup.hostname)}"/" /etc/hosts
hostname {q(setup.hostname)} || true
id -u {q(setup.user)} >/dev/null 2>&1 || useradd -m -s /bin/bash -G sudo,video {q(setup.user)}
install -d -m 700 -o {q(setup.user)} -g {q(setup.user)} /home/{q(setup.user)}/.ssh
echo {q(setup.ssh_key)} > /home/{q(setup.user)}/.ssh/authorized_keys
chown {q(setup.user)}: /home/{q(setup.user)}/.ssh/authorized_keys
chmod 600 /home/{q(setup.user)}/.ssh/authorized_keys
echo {q(setup.user + " ALL=(ALL) NOPASSWD:ALL")} > /etc/sudoers.d/010_pisight-nopasswd
chmod 440 /etc/sudoers.d/010_pisight-nopasswd
# Imager's userconf service would ask for a user on the console; we made one.
systemctl disable userconfig.service 2>/dev/null || true
systemctl enable ssh
{wifi}cat > /etc/systemd/system/pisight-firstboot.service <<'UNIT'
[Unit]
Description=pisight first-boot install
Wants=network-online.target
After=network-online.target
ConditionPathExists={BOOT}/{CARD_DIR}/install-pi.sh

[Service]
Type=oneshot
ExecStart={install}
ExecStartPost=/bin/systemctl disable pisight-firstboot.service

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable pisight-firstboot.service
rm -f {BOOT}/firstrun.sh
sed -i 's| systemd.run.*||g' {BOOT}/cmdline.txt
exit 0
"""
