"""Debian kernels and busybox for the stand-in image, downloaded once and cached.

No Yocto image can be built where this project's CI runs, so the boot-test
harness is proven on a stand-in: a Debian kernel and a busybox initramfs.
Both architectures come from Debian's archive through apt itself, with a
private apt state directory per architecture (`APT::Architecture=arm64`
works without `dpkg --add-architecture`, as a normal user, and leaves the
host's package state alone).  Only the two files the stand-in needs are
kept: the kernel and the static busybox.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

# Debian architecture of each QEMU board's catalog `arch`.
DEBIAN_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}
TOOLS = ("apt-get", "apt-cache", "dpkg-deb")


class Unavailable(Exception):
    """A tool the stand-in needs is not installed: the caller skips, it does not fail."""


@dataclass(frozen=True)
class Parts:
    """What the stand-in is made of, for one architecture."""

    arch: str
    kernel: Path
    busybox: Path
    versions: str


def cache_root() -> Path:
    """Shared between runs so CI and developers download each package once."""
    env = os.environ.get("EDGEGENAI_STANDIN_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "edgegenai" / "standin"


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _apt_options(state: Path, arch: str) -> list[str]:
    return [
        "-q",
        "-o", f"Dir::State={state}",
        "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Cache={state / 'cache'}",
        "-o", f"APT::Architecture={arch}",
        "-o", f"APT::Architectures::={arch}",
        "-o", "Debug::NoLocking=1",
    ]


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:1] + cmd[-3:])} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return proc.stdout


def _extract(deb: Path, member_prefix: str, dest: Path) -> None:
    """Take one file out of a .deb without unpacking the rest (kernel modules are large)."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                          capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.lstrip("./").startswith(member_prefix):
                with tar.extractfile(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
                return
    raise RuntimeError(f"{deb.name} holds no {member_prefix}*")


def fetch(arch: str) -> Parts:
    """The kernel and busybox of Debian `arch` (amd64, arm64), downloading them if needed."""
    missing = missing_tools()
    if missing:
        raise Unavailable(f"stand-in image needs Debian's apt: {', '.join(missing)} not found")
    root = cache_root() / arch
    kernel, busybox, versions = root / "vmlinuz", root / "busybox", root / "versions.txt"
    if kernel.is_file() and busybox.is_file() and versions.is_file():
        return Parts(arch, kernel, busybox, versions.read_text())
    state, debs = root / "apt", root / "debs"
    for d in (state / "lists" / "partial", state / "cache" / "archives" / "partial", debs):
        d.mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    opts = _apt_options(state, arch)
    _run(["apt-get", *opts, "update"])
    depends = _run(["apt-cache", *opts, "depends", f"linux-image-{arch}"])
    image = next((line.split(":", 1)[1].strip() for line in depends.splitlines()
                  if line.strip().startswith("Depends: linux-image-")), None)
    if image is None:
        raise RuntimeError(f"cannot resolve linux-image-{arch}:\n{depends}")
    for old in debs.glob("*.deb"):
        old.unlink()
    _run(["apt-get", *opts, "download", image, "busybox-static"], cwd=debs)
    kernel_deb = next(debs.glob(f"{image}_*.deb"))
    busybox_deb = next(debs.glob("busybox-static_*.deb"))
    _extract(kernel_deb, "boot/vmlinuz-", kernel)
    _extract(busybox_deb, "bin/busybox", busybox)
    busybox.chmod(0o755)
    versions.write_text(f"{kernel_deb.name}\n{busybox_deb.name}\n")
    # Keep only the two files: the package lists and .debs are ~100 MB.
    shutil.rmtree(state, ignore_errors=True)
    shutil.rmtree(debs, ignore_errors=True)
    return Parts(arch, kernel, busybox, versions.read_text())
