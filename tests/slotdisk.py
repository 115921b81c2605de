"""Disks laid out as the ota feature's wks files lay them out, for the bootloader tests.

Both bootloaders' tests need the same thing: a partition table, a boot
partition of their own making, and two root file system slots, each with
its own stand-in kernel (`kernel of slot A`), so what a bootloader reads
tells which slot it chose.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Sequence, Tuple

MIB = 1 << 20
# Each slot's stand-in kernel has its own size, so "N bytes read" names the slot.
KERNEL_SIZE = {"A": 17, "B": 34}


def slot(tmp: Path, name: str, kernel: str, size_mib: int) -> Path:
    """An ext4 image of slot `name` holding /boot/<kernel>, of KERNEL_SIZE[name] bytes."""
    root = tmp / f"root{name}"
    (root / "boot").mkdir(parents=True)
    (root / "boot" / kernel).write_text(f"kernel of slot {name}".ljust(KERNEL_SIZE.get(name, 17) - 1, ".") + "\n")
    image = tmp / f"slot{name}.img"
    subprocess.run(["mkfs.ext4", "-q", "-d", str(root), str(image), f"{size_mib}M"], check=True,
                   capture_output=True)
    return image


def assemble(image: Path, label: str, parts: Sequence[Tuple[int, int, str, Path]]) -> Path:
    """A disk with `label`'s table (dos, gpt) and each (start MiB, size MiB, type, image) written in.

    On a dos table the first partition is marked bootable, as wic's `--active` marks the boot
    partition.
    """
    start, size = parts[-1][0], parts[-1][1]
    with image.open("wb") as f:
        f.truncate((start + size + 1) * MIB)
    table = f"label: {label}\n" + "".join(f"start={s * 2048}, size={n * 2048}, type={t}"
                                         + (", bootable" if i == 0 and label == "dos" else "") + "\n"
                                         for i, (s, n, t, _) in enumerate(parts))
    subprocess.run(["sfdisk", "-q", str(image)], input=table, text=True, check=True, capture_output=True)
    with image.open("r+b") as f:
        for s, _, _, part in parts:
            f.seek(s * MIB)
            f.write(part.read_bytes())
    return image
