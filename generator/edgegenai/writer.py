"""Put a rendering on disk: idempotent, all or nothing, with a check mode.

The generator owns its top-level directories (`meta-edgegenai/`, `kas/`)
inside the output directory: after a write they hold exactly the rendered
files.  Each is built complete in a temporary directory beside it and then
swapped in with renames, so an interrupted run leaves the old tree or the
new one, never a mixture.  An unchanged tree is not touched at all.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

CREATE, UPDATE, UNCHANGED, REMOVE = "created", "updated", "unchanged", "removed"


@dataclass(frozen=True)
class Change:
    path: str
    action: str


def _roots(files: Dict[str, str]) -> List[str]:
    return sorted({p.split("/", 1)[0] for p in files})


def _existing(out_dir: Path, roots: List[str]) -> Dict[str, bytes]:
    found = {}
    for root in roots:
        base = out_dir / root
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() or path.is_symlink():
                found[path.relative_to(out_dir).as_posix()] = path.read_bytes() if path.is_file() else b""
    return found


def plan(files: Dict[str, str], out_dir: Path) -> List[Change]:
    """What writing `files` to `out_dir` would do, file by file, sorted by path."""
    old = _existing(out_dir, _roots(files))
    changes = []
    for path in sorted(set(files) | set(old)):
        if path not in old:
            changes.append(Change(path, CREATE))
        elif path not in files:
            changes.append(Change(path, REMOVE))
        elif old[path] == files[path].encode("utf-8"):
            changes.append(Change(path, UNCHANGED))
        else:
            changes.append(Change(path, UPDATE))
    return changes


def diff(files: Dict[str, str], out_dir: Path) -> str:
    """A unified diff from what is on disk to what `files` says."""
    old = _existing(out_dir, _roots(files))
    chunks = []
    for change in plan(files, out_dir):
        if change.action == UNCHANGED:
            continue
        before = old.get(change.path, b"").decode("utf-8", "replace").splitlines(keepends=True)
        after = files.get(change.path, "").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(
            before, after,
            "/dev/null" if change.action == CREATE else f"a/{change.path}",
            "/dev/null" if change.action == REMOVE else f"b/{change.path}"))
    return "".join(chunks)


def write(files: Dict[str, str], out_dir: Path) -> List[Change]:
    """Make the generator's directories in `out_dir` hold exactly `files`."""
    out_dir = Path(out_dir)
    changes = plan(files, out_dir)
    dirty = {c.path.split("/", 1)[0] for c in changes if c.action != UNCHANGED}
    if not dirty:
        return changes
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".edgegenai-", dir=out_dir))
    try:
        for path, text in files.items():
            if path.split("/", 1)[0] not in dirty:
                continue
            target = staging / "new" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        (staging / "old").mkdir()
        swapped = []
        try:
            for root in sorted(dirty):
                current, fresh = out_dir / root, staging / "new" / root
                if current.exists():
                    os.rename(current, staging / "old" / root)
                swapped.append(root)
                if fresh.exists():
                    os.rename(fresh, current)
        except OSError:
            for root in swapped:  # put every old tree back before giving up
                if (out_dir / root).exists():
                    shutil.rmtree(out_dir / root)
                if (staging / "old" / root).exists():
                    os.rename(staging / "old" / root, out_dir / root)
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return changes
