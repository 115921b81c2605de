"""Is this host ready for a Yocto build?  Asked before the build, answered in one line.

A build fails late and expensively when the disk fills or BitBake refuses
to run as root; these are cheap to see up front.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, List, Optional

from ..errors import UserError

# What a full image build of one board takes, downloads and sstate included.
MIN_FREE_GB = 100
CONTAINER_ENGINES = ("docker", "podman")


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def problems(build_dir: Path, *, container: bool, min_free_gb: int = MIN_FREE_GB,
             euid: Optional[int] = None, which: Callable[[str], Optional[str]] = shutil.which
             ) -> List[str]:
    """What is missing, one short phrase per problem (empty when the host is ready)."""
    found = []
    euid = os.geteuid() if euid is None else euid
    if container:
        if which("kas-container") is None:
            found.append("kas-container not found (pip install kas)")
        if not any(which(e) for e in CONTAINER_ENGINES):
            found.append("neither docker nor podman found")
    else:
        if which("kas") is None:
            found.append("kas not found (pip install kas)")
        if euid == 0:
            found.append("running as root (BitBake refuses root: use a normal user, or --container)")
    free = shutil.disk_usage(_existing(build_dir)).free / 1e9
    if free < min_free_gb:
        found.append(f"{free:.0f} GB free under {_existing(build_dir)} (a build needs ~{min_free_gb} GB)")
    return found


def check(build_dir: Path, **kwargs) -> None:
    """Raise one UserError line listing everything missing."""
    found = problems(build_dir, **kwargs)
    if found:
        raise UserError("host not ready for a build: " + "; ".join(found))
