"""GRUB's A/B slot choice, run: the rendered grub.cfg in a real GRUB under OVMF.

GRUB is Debian's, built into one EFI image with exactly the modules OE's
grub-efi builds in (GRUB_BUILDIN: the ESP carries no module directory), so
a command the config needs from elsewhere would fail here as on the
device.  The disk is laid out as the wks file lays it out (GPT: 1 ESP, 2
slot A, 3 slot B), the ESP holds the rendered grub.cfg and the empty
environment block the edgegenai-grubenv recipe makes.  Each boot is QEMU
run until GRUB has saved its choice and failed to start the stand-in
kernel; between boots the environment is edited as RAUC does
(`grub-editenv`).  What GRUB wrote is read back: the slot it marked tried.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from edgegenai.render import render
from edgegenai.spec import parse_spec

import slotdisk
from conftest import skip_unless_ready

pytestmark = pytest.mark.boot

OVMF = Path("/usr/share/OVMF/OVMF_CODE.fd")
GRUB_MODULES = Path("/usr/lib/grub/x86_64-efi")
# OE-core's grub-efi GRUB_BUILDIN (wrynose and scarthgap alike).
GRUB_BUILDIN = ("boot linux ext2 fat serial part_msdos part_gpt normal efi_gop iso9660 configfile "
                "search loadenv test").split()
TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "grub-mkimage": "grub-common",
         "grub-editenv": "grub-common", "mcopy": "mtools", "mkfs.vfat": "dosfstools",
         "mkfs.ext4": "e2fsprogs", "sfdisk": "fdisk"}
MIB = slotdisk.MIB
PARTS = ((1, 32, "U"), (33, 16, "L"), (49, 16, "L"))  # start, size (MiB), GPT type
ESP_DIR = "::EFI/BOOT"


def _missing():
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if not OVMF.is_file():
        missing.append(f"{OVMF} (ovmf)")
    if not GRUB_MODULES.is_dir():
        missing.append(f"{GRUB_MODULES} (grub-efi-amd64-bin)")
    return missing


@pytest.fixture(scope="module")
def layer(catalog):
    return render(parse_spec({"boards": ["qemux86-64"], "image": {"features": ["ssh", "ota"]}}, catalog),
                  catalog)


@pytest.fixture
def disk(tmp_path, layer):
    skip_unless_ready(_missing(), "GRUB slot test")
    efi = tmp_path / "bootx64.efi"
    subprocess.run(["grub-mkimage", "-O", "x86_64-efi", "-o", str(efi), "-p", "/EFI/BOOT", *GRUB_BUILDIN],
                   check=True, capture_output=True)
    cfg = tmp_path / "grub.cfg"
    cfg.write_text(layer["meta-edgegenai/files/wic/edgegenai-ota-grub-qemux86-64.cfg"])
    # The environment block as the edgegenai-grubenv recipe's do_compile makes it.
    recipe = layer["meta-edgegenai/recipes-ota/edgegenai-grubenv/edgegenai-grubenv_1.0.bb"]
    compile_line = re.search(r"do_compile\(\) \{\n(.*?)\n\}", recipe, re.S).group(1).strip()
    subprocess.run(["sh", "-c", compile_line.replace("${B}", str(tmp_path))], check=True)
    assert (tmp_path / "grubenv").stat().st_size == 1024
    esp = tmp_path / "esp.img"
    subprocess.run(["mkfs.vfat", "-C", str(esp), str(PARTS[0][1] * 1024)], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(esp), "::EFI", ESP_DIR], check=True)
    subprocess.run(["mcopy", "-i", str(esp), str(efi), f"{ESP_DIR}/BOOTX64.EFI"], check=True)
    subprocess.run(["mcopy", "-i", str(esp), str(cfg), str(tmp_path / "grubenv"), ESP_DIR + "/"], check=True)
    slots = [slotdisk.slot(tmp_path, name, "bzImage", PARTS[1][1]) for name in ("A", "B")]
    return slotdisk.assemble(tmp_path / "disk.img", "gpt",
                             [(*p, img) for p, img in zip(PARTS, [esp, *slots])])


def _esp(image: Path, args: list) -> subprocess.CompletedProcess:
    return subprocess.run(["mcopy", "-o", "-i", f"{image}@@{PARTS[0][0] * MIB}", *args], check=True,
                          capture_output=True)


def _env(image: Path, tmp: Path) -> dict:
    _esp(image, [f"{ESP_DIR}/grubenv", str(tmp / "env.out")])
    listed = subprocess.run(["grub-editenv", str(tmp / "env.out"), "list"], check=True, capture_output=True,
                            text=True).stdout
    return dict(line.split("=", 1) for line in listed.splitlines())


def _set_env(image: Path, tmp: Path, **values) -> None:
    """What RAUC's grub backend does: grub-editenv on the block in the ESP."""
    _esp(image, [f"{ESP_DIR}/grubenv", str(tmp / "env.edit")])
    subprocess.run(["grub-editenv", str(tmp / "env.edit"), "set", *[f"{k}={v}" for k, v in values.items()]],
                   check=True)
    _esp(image, [str(tmp / "env.edit"), f"{ESP_DIR}/grubenv"])


def _boot(image: Path) -> str:
    """One boot: until GRUB has tried the slot's (stand-in) kernel."""
    # TCG: OVMF under KVM in a nested guest is not dependable, and a boot is seconds.
    proc = subprocess.Popen(["qemu-system-x86_64", "-m", "256", "-nographic", "-no-reboot",
                             "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF}",
                             "-drive", f"file={image},format=raw,if=virtio"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = b""
    end = time.monotonic() + 60
    try:
        while b"Press any key to continue" not in out:
            if time.monotonic() > end:
                raise AssertionError(f"GRUB never tried a kernel:\n{out[-3000:].decode(errors='replace')}")
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    return re.sub(r"\x1b\[[0-9;:?]*[A-Za-z]", "\n", out.decode(errors="replace"))


def _booted(log: str) -> tuple:
    """The entry GRUB booted, and the partition it read that entry's kernel from."""
    entry = re.search(r"Booting `Slot ([AB]) ", log)
    kernel = re.search(r"\(hd0,gpt([0-9])\)/boot/bzImage", log)
    assert entry and kernel, log[-2000:]
    return entry.group(1), kernel.group(1)


def test_grub_boots_the_new_slot_once_and_goes_back_unless_it_is_marked_good(disk, tmp_path):
    # Factory: an empty block, slot A (the one wic wrote) boots, its own kernel.
    assert _booted(_boot(disk)) == ("A", "2")
    env = _env(disk, tmp_path)
    assert (env.get("A_TRY"), env.get("B_TRY")) == ("1", "0"), env
    _set_env(disk, tmp_path, A_TRY=0)  # rauc-mark-good on A
    # RAUC installed B: B first, OK, not tried.
    _set_env(disk, tmp_path, ORDER="B A", B_OK=1, B_TRY=0)
    assert _booted(_boot(disk)) == ("B", "3")
    env = _env(disk, tmp_path)
    assert (env["ORDER"], env["B_TRY"], env["A_TRY"]) == ("B A", "1", "0"), env
    # B was never marked good: the next boot goes back to A.
    assert _booted(_boot(disk)) == ("A", "2")
    env = _env(disk, tmp_path)
    assert (env["B_TRY"], env["A_TRY"]) == ("1", "1"), env
    # A is marked good again, and stays the one that boots.
    _set_env(disk, tmp_path, A_TRY=0)
    assert _booted(_boot(disk)) == ("A", "2")
    env = _env(disk, tmp_path)
    assert (env["B_TRY"], env["A_TRY"]) == ("1", "1"), env
