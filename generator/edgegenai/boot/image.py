"""Where a built image's kernel and root filesystem are in a deploy directory.

BitBake writes `<kernel image>` (bzImage, Image, ...) and
`<image>-<machine>.rootfs.<type>` into `tmp/deploy/images/<machine>/`
(before scarthgap without `.rootfs`).  The root filesystem is either a disk
image of the board's catalog type (ext4) attached as the root device, or an
initramfs (`cpio.gz`, IMAGE_FSTYPES += "cpio.gz") loaded with the kernel.

A disk image may come with an initramfs image of its own,
`<image>-initramfs-<machine>.rootfs.cpio.gz` (INITRAMFS_IMAGE, not bundled
into the kernel): it is loaded with the kernel and mounts the disk, as a
kernel whose disk and filesystem drivers are modules needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..catalog import Board
from ..errors import UserError

INITRAMFS_TYPES = ("cpio.gz",)


@dataclass(frozen=True)
class BootImage:
    """A kernel and a root disk image or an initramfs, or both: an initramfs that mounts the disk."""

    kernel: Path
    disk: Optional[Path] = None
    initramfs: Optional[Path] = None

    def __post_init__(self):
        if self.disk is None and self.initramfs is None:
            raise ValueError("a boot image has a disk image, an initramfs or both")


def default_deploy_dir(board: Board, build_dir: Path = Path("build")) -> Path:
    """kas's default build directory, poky's TMPDIR layout."""
    return build_dir / "tmp" / "deploy" / "images" / board.machine


def _rootfs_candidates(directory: Path, image: str, machine: str, fstype: str) -> list[Path]:
    return [directory / f"{image}-{machine}.rootfs.{fstype}", directory / f"{image}-{machine}.{fstype}"]


def find_image(board: Board, directory: Path, image: str) -> BootImage:
    """The boot image of `board` in deploy directory `directory`, or a UserError naming what is missing."""
    if board.qemu is None:
        raise UserError(f"{board.name}: not a QEMU board, boot tests need a qemu: entry in the catalog")
    if not directory.is_dir():
        raise UserError(f"{directory}: no such deploy directory; build the image first "
                        f"(edgegenai build {board.name}) or pass --image DIR")
    kernel = directory / board.qemu.kernel_image
    rootfs = next((p for fstype in (board.qemu.rootfs, *INITRAMFS_TYPES)
                   for p in _rootfs_candidates(directory, image, board.machine, fstype)
                   if p.is_file()), None)
    problems = []
    if not kernel.is_file():
        problems.append(f"{directory}: no kernel {board.qemu.kernel_image}")
    if rootfs is None:
        wanted = " or ".join(p.name for p in _rootfs_candidates(directory, image, board.machine,
                                                                board.qemu.rootfs))
        problems.append(f"{directory}: no root filesystem {wanted} (nor a .cpio.gz initramfs)")
    if problems:
        raise UserError(problems)
    if rootfs.name.endswith(INITRAMFS_TYPES):
        return BootImage(kernel=kernel.resolve(), initramfs=rootfs.resolve())
    initramfs = next((p for fstype in INITRAMFS_TYPES
                      for p in _rootfs_candidates(directory, f"{image}-initramfs", board.machine,
                                                  fstype)
                      if p.is_file()), None)
    return BootImage(kernel=kernel.resolve(), disk=rootfs.resolve(),
                     initramfs=initramfs.resolve() if initramfs else None)
