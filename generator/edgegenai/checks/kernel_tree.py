"""Kernel source trees to read Kconfig from: given, cached, or extracted on demand.

Reading a kernel's Kconfig needs only a small part of its source: every
`Kconfig*` file, the `scripts/*.sh` that Kconfig runs, the arch defconfigs
and the top Makefile (for the version).  A tree comes from, in order:

1. `--kernel-src PATH` (repeatable) or `EDGEGENAI_KERNEL_SRC` (paths
   separated by `:`): a kernel source directory, or a source tarball;
2. the cache (`$XDG_CACHE_HOME/edgegenai/kernel/<major.minor>/`, default
   `~/.cache/...`), filled by earlier runs;
3. Debian's kernel source packages (`/usr/src/linux-source-<version>.tar.xz`,
   from `apt-get install linux-source-6.12`).

A tarball is extracted into the cache only when a fragment needs its
version (about 15 s once; ~20 MB).  Trees are matched by major.minor: a
6.12 tree cannot vouch for a 6.18 kernel.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

STAMP = ".edgegenai-kconfig-tree"
SYSTEM_TARBALLS = Path("/usr/src")
TARBALL = re.compile(r"^linux(?:-source)?-(\d+\.\d+)(?:[.\d]*)\.tar(?:\.(?:xz|gz|bz2|zst))?$")


@dataclass(frozen=True)
class KernelTree:
    path: Path
    version: str  # major.minor


def version_of(tree: Path) -> Optional[str]:
    try:
        text = (tree / "Makefile").read_text("utf-8", "replace")
    except OSError:
        return None
    major = re.search(r"^VERSION\s*=\s*(\d+)", text, re.M)
    minor = re.search(r"^PATCHLEVEL\s*=\s*(\d+)", text, re.M)
    return f"{major.group(1)}.{minor.group(1)}" if major and minor else None


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edgegenai" / "kernel"


def _top_dir(tarball: Path) -> str:
    with tarfile.open(tarball, "r|*") as tar:
        for member in tar:
            return member.name.split("/", 1)[0]
    raise ValueError(f"{tarball} is empty")


def extract(tarball: Path, cache: Path) -> KernelTree:
    """Extract what Kconfig reads from a kernel tarball into `cache/<version>/`, atomically."""
    top = _top_dir(tarball)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache))
    try:
        patterns = ["*/Kconfig*", f"{top}/Makefile", f"{top}/scripts/*.sh",
                    f"{top}/arch/*/configs/*"]
        run = subprocess.run(["tar", "-xaf", str(tarball), "-C", str(tmp), "--strip-components=1",
                              "--wildcards", *patterns], capture_output=True, text=True)
        if run.returncode != 0 and not (tmp / "Makefile").is_file():
            raise RuntimeError(f"cannot extract {tarball}: {run.stderr.strip()}")
        version = version_of(tmp)
        if not version:
            raise RuntimeError(f"{tarball} holds no kernel Makefile with a version")
        (tmp / STAMP).write_text(f"{tarball}\n")
        target = cache / version
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
        return KernelTree(target, version)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


class TreeFinder:
    """Looks trees up by version, extracting a tarball only when its version is asked for."""

    def __init__(self, sources: Iterable[Path] = (), cache: Optional[Path] = None,
                 system: Optional[Path] = SYSTEM_TARBALLS):
        env = [Path(p) for p in os.environ.get("EDGEGENAI_KERNEL_SRC", "").split(os.pathsep) if p]
        self.sources = [Path(s) for s in sources] + env
        self.cache = cache or default_cache()
        self.system = system
        self._trees: Dict[str, KernelTree] = {}
        self._tarballs: Dict[str, Path] = {}
        self._scanned = False

    def _scan(self) -> None:
        if self._scanned:
            return
        self._scanned = True
        for source in self.sources:
            if source.is_dir():
                version = version_of(source)
                if version:
                    self._trees.setdefault(version, KernelTree(source, version))
            elif source.is_file():
                match = TARBALL.match(source.name)
                self._tarballs.setdefault(match.group(1) if match else source.name, source)
        if self.cache.is_dir():
            for tree in sorted(self.cache.iterdir()):
                if (tree / STAMP).is_file() and version_of(tree):
                    self._trees.setdefault(version_of(tree), KernelTree(tree, version_of(tree)))
        if self.system and self.system.is_dir():
            for tarball in sorted(self.system.glob("linux-source-*.tar*")):
                match = TARBALL.match(tarball.name)
                if match:
                    self._tarballs.setdefault(match.group(1), tarball)

    def versions(self) -> List[str]:
        self._scan()
        return sorted(set(self._trees) | set(self._tarballs), key=lambda v: tuple(map(int, v.split("."))))

    def find(self, version: str) -> Optional[KernelTree]:
        self._scan()
        if version in self._trees:
            return self._trees[version]
        tarball = self._tarballs.get(version)
        if tarball is None:
            return None
        tree = extract(tarball, self.cache)
        self._trees[tree.version] = tree
        return tree if tree.version == version else None
