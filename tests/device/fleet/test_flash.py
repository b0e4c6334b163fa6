"""`pisight flash` on directories laid out like Bookworm and Trixie boot partitions."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pisight.device.cli import main as cli_main
from pisight.device.fleet.flash import FIRSTRUN_HOOK
from tests.helpers import REPO

PSK = "correct-horse-battery-staple"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPisightTestKeyOnlyForTests me@laptop"
CMDLINE = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 rootwait"


def boot_partition(directory: Path, cloud_init: bool) -> Path:
    directory.mkdir()
    (directory / "config.txt").write_text("[all]\ndtparam=audio=on\n")
    (directory / "start4.elf").write_bytes(b"\0")
    (directory / "bcm2711-rpi-4-b.dtb").write_bytes(b"\0")
    (directory / "cmdline.txt").write_text(CMDLINE + (" ds=nocloud" if cloud_init else "") + "\n")
    if cloud_init:  # Trixie images ship stub cloud-init files that Imager overwrites
        for name in ("user-data", "meta-data", "network-config"):
            (directory / name).write_text("# stub\n")
    return directory


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, Path]:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "model.tflite").write_bytes(b"model")
    (bundle / "labels.txt").write_text("person\n")
    files = {
        n: hashlib.sha256((bundle / n).read_bytes()).hexdigest()
        for n in ("model.tflite", "labels.txt")
    }
    (bundle / "pisight.json").write_text(json.dumps({"files": files}))
    (tmp_path / "key.pub").write_text(KEY + "\n")
    (tmp_path / "psk").write_text(PSK + "\n")
    wheel = tmp_path / "pisight-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK fake wheel")
    return {"bundle": bundle, "key": tmp_path / "key.pub", "psk": tmp_path / "psk", "wheel": wheel}


def flash(boot: Path, inputs: dict[str, Path], *extra: str) -> int:
    return cli_main(
        ["flash", str(boot), "--bundle", str(inputs["bundle"]), "--hostname", "cam1",
         "--ssh-key", str(inputs["key"]), "--wifi-ssid", "home", "--wifi-psk-file",
         str(inputs["psk"]), "--wheel", str(inputs["wheel"]), *extra]
    )  # fmt: skip


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def assert_psk_only_in_private_files(boot: Path) -> None:
    for path in boot.rglob("*"):
        if path.is_file() and PSK.encode() in path.read_bytes():
            assert mode(path) == 0o600, f"{path} holds the PSK with mode {oct(mode(path))}"
    assert PSK not in (boot / "cmdline.txt").read_text()


def assert_payload(boot: Path) -> None:
    card = boot / "pisight"
    assert (card / "pisight-0.1.0-py3-none-any.whl").read_bytes() == b"PK fake wheel"
    assert (card / "bundle/model.tflite").read_bytes() == b"model"
    assert (card / "install-pi.sh").is_file() and (card / "pisight.service").is_file()
    assert (card / "pisight.toml").is_file()


def test_bookworm_gets_firstrun_and_cmdline_hook(tmp_path: Path, inputs) -> None:
    boot = boot_partition(tmp_path / "bootfs", cloud_init=False)
    assert flash(boot, inputs) == 0
    assert flash(boot, inputs) == 0  # idempotent: the hook is added once
    cmdline = (boot / "cmdline.txt").read_text()
    assert cmdline.count("\n") == 1 and cmdline.endswith("\n")
    assert cmdline.strip() == f"{CMDLINE} {FIRSTRUN_HOOK}"
    firstrun = boot / "firstrun.sh"
    assert mode(firstrun) == 0o755
    assert subprocess.run(["bash", "-n", str(firstrun)]).returncode == 0
    text = firstrun.read_text()
    assert "cam1" in text and KEY in text and "pisight-firstboot.service" in text
    assert "useradd -m -s /bin/bash -G sudo,video pi" in text
    wifi = boot / "pisight/pisight-wifi.nmconnection"
    assert (
        mode(wifi) == 0o600 and f"psk={PSK}" in wifi.read_text() and "ssid=home" in wifi.read_text()
    )
    assert not (boot / "user-data").exists()
    assert_payload(boot)
    assert_psk_only_in_private_files(boot)


def test_trixie_gets_cloud_init(tmp_path: Path, inputs) -> None:
    boot = boot_partition(tmp_path / "bootfs", cloud_init=True)
    assert flash(boot, inputs, "--user", "ops") == 0
    user_data = boot / "user-data"
    assert user_data.read_text().startswith("#cloud-config\n")
    config = json.loads(user_data.read_text().split("\n", 1)[1])
    assert config["hostname"] == "cam1"
    assert config["users"][0]["name"] == "ops" and config["users"][0]["ssh_authorized_keys"] == [
        KEY
    ]
    assert "install-pi.sh" in " ".join(config["runcmd"][0])
    network = boot / "network-config"
    assert mode(network) == 0o600
    assert json.loads(network.read_text())["wifis"]["wlan0"]["access-points"]["home"] == {
        "password": PSK
    }
    assert "instance-id: pisight-cam1-" in (boot / "meta-data").read_text()
    assert (boot / "cmdline.txt").read_text() == CMDLINE + " ds=nocloud\n"  # untouched
    assert not (boot / "firstrun.sh").exists()
    assert_payload(boot)
    assert_psk_only_in_private_files(boot)
    if shutil.which("cloud-init") is None:
        pytest.skip("cloud-init not installed: user-data schema not checked")
    schema = subprocess.run(["cloud-init", "schema", "--config-file", str(user_data)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert schema.returncode == 0, schema.stdout + schema.stderr


@pytest.mark.parametrize(
    ("layout", "message"),
    [({"notes.txt": "x"}, "not a Raspberry Pi boot partition"),
     ({"config.txt": "", "cmdline.txt": "root=x\n"}, "not a Raspberry Pi boot partition")],
)  # fmt: skip
def test_non_boot_directory_is_refused(tmp_path: Path, inputs, capsys, layout, message) -> None:
    boot = tmp_path / "stick"
    boot.mkdir()
    for name, text in layout.items():
        (boot / name).write_text(text)
    assert flash(boot, inputs) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert sorted(p.name for p in boot.iterdir()) == sorted(layout)


def test_private_key_is_refused(tmp_path: Path, inputs, capsys) -> None:
    boot = boot_partition(tmp_path / "bootfs", cloud_init=False)
    inputs["key"].write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n")
    assert flash(boot, inputs) == 2
    assert "not an SSH public key" in capsys.readouterr().err
    assert not (boot / "firstrun.sh").exists()


def test_config_is_checked_and_carried_to_the_first_boot(tmp_path: Path, inputs, capsys) -> None:
    boot = boot_partition(tmp_path / "bootfs", cloud_init=True)
    assert flash(boot, inputs) == 0  # without --config the card carries the example
    example = (REPO / "scripts/pisight.toml").read_text()
    assert (boot / "pisight/pisight.toml").read_text() == example
    mine = tmp_path / "cam1.toml"
    mine.write_text('[model]\npath = "/opt/pisight/models/current"\nthreshold = 0.6\n')
    assert flash(boot, inputs, "--config", str(mine)) == 0
    assert (boot / "pisight/pisight.toml").read_text() == mine.read_text()
    command = json.loads((boot / "user-data").read_text().split("\n", 1)[1])["runcmd"][0]
    assert command[-2:] == ["--config", "/boot/firmware/pisight/pisight.toml"]


def test_bad_config_is_refused_before_the_card_is_touched(tmp_path: Path, inputs, capsys) -> None:
    boot = boot_partition(tmp_path / "bootfs", cloud_init=False)
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\npath = "/opt/m"\n[[zones]]\nname = "a"\npoints = [[0, 0], [1, 2]]\n')
    assert flash(boot, inputs, "--config", str(bad)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{bad}:5: [[zones]] #1 points" in err[0]
    assert not (boot / "pisight").exists() and not (boot / "firstrun.sh").exists()
