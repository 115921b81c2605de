"""U-Boot's A/B slot choice, run: the rendered boot.scr under a real U-Boot in QEMU.

The qemuarm64 boot script is compiled with mkimage as its recipe does, put
on the boot partition of a disk laid out as the wks file lays it out (1
boot, 2 slot A, 3 slot B, 4 data; each slot with its own /boot/Image), and
sourced by Debian's U-Boot for QEMU (u-boot-qemu) with the environment
RAUC would leave.  What U-Boot then holds is asserted: the partition and
slot it chose, the tries it took, the root it hands the kernel, and that
it loaded the kernel from that slot.  (The kernels are stand-in files, so
`booti` stops at their magic; Debian's U-Boot keeps its environment in
flash, not in FAT as the layer's fragment sets it, so `saveenv` is not
what is shown here.)
"""

from __future__ import annotations

import os
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

UBOOT = Path("/usr/lib/u-boot/qemu_arm64/u-boot.bin")
TOOLS = {"qemu-system-aarch64": "qemu-system-arm", "mkimage": "u-boot-tools", "mcopy": "mtools",
         "mkfs.vfat": "dosfstools", "mkfs.ext4": "e2fsprogs", "sfdisk": "fdisk"}
# Partition starts and sizes in MiB: boot, slot A, slot B, data.
PARTS = ((1, 16, "c"), (17, 24, "83"), (41, 24, "83"), (65, 8, "83"))


def _missing():
    missing = [f"{tool} ({pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)]
    if not UBOOT.is_file():
        missing.append(f"{UBOOT} (u-boot-qemu)")
    return missing


@pytest.fixture(scope="module")
def disk(tmp_path_factory, catalog):
    skip_unless_ready(_missing(), "U-Boot slot test")
    tmp = tmp_path_factory.mktemp("uboot")
    files = render(parse_spec({"boards": ["qemuarm64"], "image": {"features": ["ssh", "ota"]}}, catalog),
                   catalog)
    cmd = files["meta-edgegenai/recipes-ota/edgegenai-boot-script/files/qemuarm64/boot.cmd"]
    # As the recipe's do_compile does for qemuarm64 (KERNEL_IMAGETYPE Image, booti).
    (tmp / "boot.cmd").write_text(cmd.replace("@KERNEL_IMAGETYPE@", "Image").replace("@KERNEL_BOOTCMD@", "booti"))
    subprocess.run(["mkimage", "-A", "arm64", "-T", "script", "-C", "none", "-d", str(tmp / "boot.cmd"),
                    str(tmp / "boot.scr")], check=True, capture_output=True)
    boot = tmp / "p1.img"
    subprocess.run(["mkfs.vfat", "-C", str(boot), str(PARTS[0][1] * 1024)], check=True, capture_output=True)
    subprocess.run(["mcopy", "-i", str(boot), str(tmp / "boot.scr"), "::boot.scr"], check=True)
    slots = [slotdisk.slot(tmp, name, "Image", PARTS[1][1]) for name in ("A", "B")]
    data = slotdisk.slot(tmp, "data", "unused", PARTS[3][1])
    return slotdisk.assemble(tmp / "disk.img", "dos",
                             [(*p, img) for p, img in zip(PARTS, [boot, *slots, data])])


class _Console:
    """U-Boot's serial console: a command is sent only once the prompt after the last one is back."""

    def __init__(self, image: Path):
        self.proc = subprocess.Popen(
            ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-m", "256", "-nographic",
             "-bios", str(UBOOT), "-drive", f"if=none,file={image},format=raw,id=d,snapshot=on",
             "-device", "virtio-blk-device,drive=d"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""

    def wait(self, token: bytes, since: int, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while token not in self.out[since:]:
            if time.monotonic() > end:
                raise AssertionError(f"no {token!r} from U-Boot:\n{self.out.decode(errors='replace')}")
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                self.out += os.read(self.proc.stdout.fileno(), 65536)
        return self.out[since:].decode(errors="replace")

    def run(self, command: str) -> str:
        mark = len(self.out)
        time.sleep(0.2)
        self.proc.stdin.write(command.encode() + b"\n")
        self.proc.stdin.flush()
        # The echoed command, then the prompt after its output.
        self.wait(command.encode()[-20:], mark)
        return self.wait(b"\n=> ", mark)

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


def _at_prompt(image: Path, env: dict) -> _Console:
    """U-Boot stopped before autoboot, with RAUC's variables set and boot.scr loaded."""
    con = _Console(image)
    con.wait(b"Hit any key", 0)
    con.proc.stdin.write(b"\n")
    con.proc.stdin.flush()
    con.wait(b"=> ", 0)
    for name, value in env.items():
        con.run(f'setenv {name} "{value}"')
    con.run("load virtio 0:1 ${scriptaddr} boot.scr")
    return con


def _source(image: Path, env: dict) -> dict:
    """Source boot.scr with `env`; U-Boot's variables afterwards."""
    con = _at_prompt(image, env)
    try:
        log = con.run("source ${scriptaddr}")
        shown = con.run("printenv bootpart raucslot BOOT_A_LEFT BOOT_B_LEFT BOOT_ORDER bootargs")
    finally:
        con.close()
    values = dict(line.strip().split("=", 1) for line in shown.splitlines() if "=" in line and
                  not line.startswith(("=>", "printenv")) and line.split("=", 1)[0].strip().isidentifier())
    values["_log"] = log
    return values


@pytest.mark.parametrize("env,slot,left", [
    ({}, "A", {"BOOT_A_LEFT": "2", "BOOT_B_LEFT": "3"}),
    ({"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "3"}, "B", {"BOOT_A_LEFT": "3", "BOOT_B_LEFT": "2"}),
    ({"BOOT_ORDER": "B A", "BOOT_A_LEFT": "3", "BOOT_B_LEFT": "0"}, "A", {"BOOT_A_LEFT": "2", "BOOT_B_LEFT": "0"}),
    ({"BOOT_ORDER": "A B", "BOOT_A_LEFT": "0", "BOOT_B_LEFT": "1"}, "B", {"BOOT_A_LEFT": "0", "BOOT_B_LEFT": "0"}),
], ids=["factory", "new-slot-on-trial", "trial-used-up", "good-slot-used-up"])
def test_boot_script_picks_the_slot_takes_a_try_and_boots_its_kernel(disk, env, slot, left):
    got = _source(disk, env)
    part = {"A": "2", "B": "3"}[slot]
    assert (got["bootpart"], got["raucslot"]) == (part, slot), got["_log"]
    assert {k: got[k] for k in left} == left
    assert got["bootargs"].endswith(f"root=/dev/vda{part} rootwait rauc.slot={slot}")
    # The kernel came from that slot's own /boot (each slot's has its own size).
    assert f"{slotdisk.KERNEL_SIZE[slot]} bytes read" in got["_log"], got["_log"]
    assert "Bad Linux ARM64 Image magic" in got["_log"]


def test_u_boots_own_boot_flow_finds_the_script_on_the_boot_partition(disk):
    """Not interrupted, U-Boot finds boot.scr on the partition wic marks active, and boots slot A."""
    con = _Console(disk)
    try:
        log = con.wait(b"Bad Linux ARM64 Image magic", 0, 120)
    finally:
        con.close()
    assert "Executing script" in log
    assert f"{slotdisk.KERNEL_SIZE['A']} bytes read" in log.split("Executing script", 1)[1]


def test_with_no_tries_left_both_slots_get_three_again(disk):
    """The script resets U-Boot then: its console says so, and U-Boot starts again."""
    con = _at_prompt(disk, {"BOOT_ORDER": "A B", "BOOT_A_LEFT": "0", "BOOT_B_LEFT": "0"})
    try:
        mark = len(con.out)
        con.proc.stdin.write(b"source ${scriptaddr}\n")
        con.proc.stdin.flush()
        log = con.wait(b"resetting", mark, 60)
        # U-Boot starts again from the top: the reset really happened.
        con.wait(b"U-Boot 20", mark)
    finally:
        con.close()
    assert "No slot has tries left: giving both 3 again" in log
