"""What a build produced: the image files in the deploy directory, with sizes.

BitBake writes timestamped files and stable symlinks
(`<image>-<machine>.rootfs.ext4` -> `...-20250101120000.rootfs.ext4`); the
symlinks are what a user copies or flashes, so those are listed, with the
size of what they point to.  The SBOM (`*.spdx.json`, or the
`*.spdx.tar.zst` archive of older releases) sits beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List

from ..catalog import Board


@dataclass(frozen=True)
class Artefact:
    path: Path
    size: int
    kind: str


def deploy_dir(board: Board, build_dir: Path) -> Path:
    """Where poky's TMPDIR layout puts a machine's images."""
    return build_dir / "tmp" / "deploy" / "images" / board.machine


def _kind(name: str, board: Board) -> str:
    if ".spdx" in name:
        return "sbom"
    if board.qemu and name == board.qemu.kernel_image:
        return "kernel"
    if any(name.endswith(f".rootfs.{kind}") for kind in board.deploy.values()):
        return "flash"  # the BSP's flashing package (tegraflash)
    if name.endswith(".manifest"):
        return "manifest"
    if name.endswith((".testdata.json", ".qemuboot.conf")):
        return "test"
    return "image"


def collect(deploy_dir: Path, board: Board, image: str) -> List[Artefact]:
    """The stable names of the image's artefacts (and the kernel), sorted."""
    if not deploy_dir.is_dir():
        return []
    wanted = [p for p in deploy_dir.iterdir()
              if p.name.startswith(f"{image}-{board.machine}")
              or (board.qemu and p.name == board.qemu.kernel_image)]
    # Stable symlinks if the build made them; the plain files otherwise.
    links = [p for p in wanted if p.is_symlink()]
    chosen = links or [p for p in wanted if p.is_file()]
    return [Artefact(p, p.stat().st_size, _kind(p.name, board))
            for p in sorted(chosen) if p.exists()]


def human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"
