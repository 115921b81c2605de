"""A labgrid environment for one board and one image, made from the catalog.

The harness writes it as a file beside the console log, so a failed run can
be reproduced by hand (`labgrid-client`, `pytest --lg-env`) with exactly the
QEMU command line the harness used.

Why the guest is given what it is given:
- KVM when /dev/kvm opens and the guest has the host's architecture, TCG
  otherwise (a CI runner or a cross-architecture board);
- under TCG no more vCPUs than host cores: extra vCPUs only slow TCG down;
  and the board's TCG options (`qemu.tcg` in boards.yaml);
- the root disk attached with `snapshot=on`: a test never changes the image;
- a user-mode NIC with `restrict=on`: the image's network services find an
  interface (no wait-online failure) but the guest reaches nothing.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from pathlib import Path

import yaml

from ..catalog import Board
from ..errors import UserError
from .image import BootImage

TARGET = "main"
# The shell of an edgegenai image: root logs in on the console without a
# password (debug images), bash or ash prompt `root@<host>:<dir># `.  Terminal
# control sequences may come first: bash's bracketed-paste switch
# (ESC [?2004h) and, with systemd 258 or newer, the OSC 3008 context
# markers its /etc/profile.d/80-systemd-osc-context.sh prints around every
# prompt (ESC ]3008;...ESC \\).
ESCAPES = r"(?:\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\))*"
PROMPT = ESCAPES + r"root@[\w.-]+:[^#\r\n]*# "
LOGIN_PROMPT = r"[\w.-]+ login: "
USERNAME = "root"
NIC = "user,model=virtio-net-pci,restrict=on"
# Root devices the harness knows how to attach, by device name prefix.
DRIVE_INTERFACES = {"/dev/vd": "virtio", "/dev/sd": "scsi"}
ACCELERATORS = ("auto", "kvm", "tcg")


def kvm_usable(board: Board, cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """KVM only helps a guest of the host's own architecture, and only if /dev/kvm opens.

    On x86 the CPU must also expose vmx or svm: sandboxes and some clouds
    have a /dev/kvm that opens but whose guests crash or hang at the first
    instruction, which a boot test would report as a broken image.
    """
    if platform.machine() != board.arch:
        return False
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC))
    except OSError:
        return False
    if board.arch in ("x86_64", "i686"):
        try:
            flags = cpuinfo.read_text()
        except OSError:
            return False
        return re.search(r"^flags\s*:.*\b(vmx|svm)\b", flags, re.M) is not None
    return True


def accelerator(board: Board, wanted: str = "auto") -> str:
    """`kvm` or `tcg`: what the user asked for, or KVM when usable."""
    if wanted not in ACCELERATORS:
        raise UserError(f"accelerator must be one of {', '.join(ACCELERATORS)}, not {wanted!r}")
    if wanted == "auto":
        return "kvm" if kvm_usable(board) else "tcg"
    return wanted


def qemu_binary(board: Board) -> str:
    path = shutil.which(board.qemu.system)
    if path is None:
        raise UserError(f"{board.qemu.system} not found: install QEMU for {board.arch} guests")
    return path


def _drive(board: Board, disk: Path) -> list[str]:
    device = board.qemu.root_device
    interface = next((i for prefix, i in DRIVE_INTERFACES.items() if device.startswith(prefix)), None)
    if interface is None:
        raise UserError(f"{board.name}: cannot attach root device {device} "
                        f"(known: {', '.join(sorted(DRIVE_INTERFACES))}...)")
    fmt = "qcow2" if disk.name.endswith(".qcow2") else "raw"
    return ["-drive", f"file={disk},if={interface},format={fmt},snapshot=on"]


def config(board: Board, image: BootImage, *, boot_timeout: int, accel: str = "auto") -> dict:
    """The labgrid environment as data (written to YAML by `write`)."""
    if board.qemu is None:
        raise UserError(f"{board.name}: not a QEMU board")
    kvm = accelerator(board, accel) == "kvm"
    smp = board.qemu.smp if kvm else max(1, min(board.qemu.smp, os.cpu_count() or 1))
    tcg = ",".join(["tcg"] + ([board.qemu.tcg] if board.qemu.tcg else []))
    extra = ["-smp", str(smp), "-accel", "kvm" if kvm else tcg, "-no-reboot"]
    if image.disk is not None:
        extra += _drive(board, image.disk)
    if image.initramfs is not None:
        extra += ["-initrd", str(image.initramfs)]
    return {
        "targets": {TARGET: {
            "drivers": {
                "QEMUDriver": {
                    "qemu_bin": "qemu",
                    "machine": board.qemu.machine,
                    "cpu": board.qemu.cpu,
                    "memory": f"{board.memory_mb}M",
                    "kernel": "kernel",
                    "boot_args": board.qemu.boot_args,
                    "extra_args": " ".join(extra),
                    "nic": NIC,
                },
                "ShellDriver": {
                    "prompt": PROMPT,
                    "login_prompt": LOGIN_PROMPT,
                    "username": USERNAME,
                    "login_timeout": 120,
                },
                "ImageBootStrategy": {"boot_timeout": boot_timeout},
            },
        }},
        "tools": {"qemu": qemu_binary(board)},
        "images": {"kernel": str(image.kernel)},
        "imports": ["edgegenai.boot.strategy"],
    }


def write(path: Path, board: Board, image: BootImage, *, boot_timeout: int,
          accel: str = "auto") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = config(board, image, boot_timeout=boot_timeout, accel=accel)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
