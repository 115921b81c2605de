"""Put a rendering on disk: idempotent, all or nothing, owning only what it wrote.

The generator writes `meta-edgegenai/` and `kas/` inside the output
directory and records every file it wrote in `.edgegenai-manifest` beside
them.  On the next run it updates those files and removes the ones it no
longer renders; anything else in those directories (a user's own
`kas/my-product.yml`, a recipe added by hand) is not in the manifest, so it
is kept and reported as kept.  Without a manifest (output of an older
version) nothing is removed.

All or nothing: the whole rendering, with the kept files, is staged in one
directory (`.edgegenai-staging-*`) inside the output directory.  Once it is
complete a journal is written into it, and only then are the trees swapped
in by renames.  A run that is interrupted before the journal leaves the old
output untouched; one interrupted after it is finished by the next run,
which first rolls every interrupted swap forward and removes stale staging
directories.  Runs on one output directory are serialised by a lock on the
directory itself, so two `generate` runs never interleave.

Every path is checked here, whatever the renderer returned: relative, no
`..`, no empty or over-long component, so nothing is written outside the
output directory.  An unchanged tree is not touched at all.

The manifest also records the spec the files were rendered from (its path
relative to the output directory, or the built-in one, and the sha256 of
its text), so that `edgegenai check` without `--spec` checks a layer
against its own spec, never against the built-in one.
"""

from __future__ import annotations

import difflib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, Iterator, List, Optional, Set

from .errors import UserError

CREATE, UPDATE, UNCHANGED, REMOVE, KEEP = "created", "updated", "unchanged", "removed", "kept"
MANIFEST = ".edgegenai-manifest"
STAGING_PREFIX = ".edgegenai-staging-"
JOURNAL = "journal"
# Seconds a run waits for another run on the same directory to finish.
LOCK_WAIT = 60.0
_MANIFEST_HEAD = ("# Files `edgegenai generate` wrote here.  It updates them and removes those it\n"
                  "# no longer renders; every other file beside them is yours and is kept.\n")


@dataclass(frozen=True)
class Change:
    path: str
    action: str


_SPEC = "# spec: "
_SPEC_SHA = "# spec-sha256: "


@dataclass(frozen=True)
class SpecRecord:
    """The spec a rendering came from: `path` relative to the output directory (None: the built-in one)."""

    path: Optional[str]
    sha256: str

    @classmethod
    def of(cls, spec_file: Optional[Path], text: str, out_dir: Path) -> "SpecRecord":
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if spec_file is None:
            return cls(None, digest)
        rel = os.path.relpath(Path(spec_file).resolve(), Path(out_dir).resolve())
        return cls(PurePosixPath(Path(rel).as_posix()).as_posix(), digest)

    def lines(self) -> str:
        # JSON-quoted: a file name cannot break the manifest's lines.
        return (f"{_SPEC}{json.dumps(self.path if self.path is not None else 'built-in')}\n"
                f"{_SPEC_SHA}{self.sha256}\n")


def recorded_spec(out_dir: Path) -> Optional[SpecRecord]:
    """The spec the manifest in `out_dir` records (None: no manifest, or one without a record)."""
    try:
        text = (Path(out_dir) / MANIFEST).read_text("utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    path = sha = None
    for line in text.splitlines():
        try:
            if line.startswith(_SPEC):
                path = json.loads(line[len(_SPEC):])
            elif line.startswith(_SPEC_SHA):
                sha = line[len(_SPEC_SHA):].strip()
        except ValueError:
            return None
    if not isinstance(path, str) or not sha:
        return None
    return SpecRecord(None if path == "built-in" else path, sha)


def check_path(path: str) -> str:
    """A rendered path must stay inside the output directory, whatever produced it."""
    pure = PurePosixPath(path)
    parts = path.split("/")
    if (not path or pure.is_absolute() or "\\" in path or "\x00" in path
            or any(p in ("", ".", "..") for p in parts)):
        raise ValueError(f"refusing to write {path!r}: not a plain relative path")
    if any(len(p.encode("utf-8")) > 255 for p in parts) or len(path) > 1024:
        raise ValueError(f"refusing to write {path[:60]!r}...: a name is too long")
    if parts[0] == MANIFEST or parts[0].startswith(".edgegenai-"):
        raise ValueError(f"refusing to write {path!r}: the writer's own name")
    return path


def _with_manifest(files: Dict[str, str], spec: Optional[SpecRecord] = None) -> Dict[str, str]:
    for path in files:
        check_path(path)
    head = _MANIFEST_HEAD + (spec.lines() if spec else "")
    return {**files, MANIFEST: head + "".join(f"{p}\n" for p in sorted(files))}


def _roots(files: Dict[str, str]) -> List[str]:
    return sorted({p.split("/", 1)[0] for p in files})


def owned(out_dir: Path) -> Set[str]:
    """Paths the last run recorded as its own (empty without a manifest)."""
    try:
        text = (Path(out_dir) / MANIFEST).read_text("utf-8")
    except FileNotFoundError:
        return set()
    out = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            try:
                out.add(check_path(line))
            except ValueError:
                continue  # a hand-edited manifest cannot make the writer touch other paths
    return out


def _existing(out_dir: Path, roots: List[str]) -> Dict[str, bytes]:
    found = {}
    for root in roots:
        base = out_dir / root
        want_file = root == MANIFEST
        if base.is_symlink() or (os.path.lexists(base) and base.is_dir() == want_file):
            raise UserError(f"{base}: is in the way: the generator writes a "
                            f"{'file' if want_file else 'directory'} there; move it away")
        if want_file:
            if base.exists():
                found[root] = base.read_bytes()
            continue
        if not base.is_dir():
            continue
        for path in _walk(base):
            rel = path.relative_to(out_dir).as_posix()
            found[rel] = b"" if path.is_symlink() else path.read_bytes()
    return found


def _walk(base: Path) -> List[Path]:
    """Every file and symlink below `base`; a directory that cannot be read is an error.

    (`Path.rglob` skips it silently, and the swap would then drop the
    user's files inside it with the old tree.)
    """
    def fail(err: OSError) -> None:
        raise err

    out = []
    for top, dirs, names in os.walk(base, onerror=fail):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            out.append(Path(top) / name)
    return sorted(out)


def _plan(files: Dict[str, str], out_dir: Path) -> List[Change]:
    mine = owned(out_dir)
    old = _existing(out_dir, _roots(files))
    changes = []
    for path in sorted(set(files) | set(old)):
        if path not in old:
            changes.append(Change(path, CREATE))
        elif path not in files:
            changes.append(Change(path, REMOVE if path in mine else KEEP))
        elif old[path] == files[path].encode("utf-8"):
            changes.append(Change(path, UNCHANGED))
        else:
            changes.append(Change(path, UPDATE))
    return changes


def _user_error(err: OSError, out_dir: Path) -> UserError:
    where = err.filename or out_dir
    return UserError(f"{where}: {err.strerror or err}")


def plan(files: Dict[str, str], out_dir: Path, spec: Optional[SpecRecord] = None) -> List[Change]:
    """What writing `files` to `out_dir` would do, file by file, sorted by path."""
    try:
        return _plan(_with_manifest(files, spec), Path(out_dir))
    except OSError as err:
        raise _user_error(err, Path(out_dir)) from None


def diff(files: Dict[str, str], out_dir: Path, spec: Optional[SpecRecord] = None) -> str:
    """A unified diff from what is on disk to what `files` says."""
    out_dir = Path(out_dir)
    full = _with_manifest(files, spec)
    try:
        changes = _plan(full, out_dir)
    except OSError as err:
        raise _user_error(err, out_dir) from None
    chunks = []
    for change in changes:
        if change.action in (UNCHANGED, KEEP):
            continue
        before = b"" if change.action == CREATE else (out_dir / change.path).read_bytes()
        after = full.get(change.path, "").splitlines(keepends=True)
        chunks.extend(difflib.unified_diff(
            before.decode("utf-8", "replace").splitlines(keepends=True), after,
            "/dev/null" if change.action == CREATE else f"a/{change.path}",
            "/dev/null" if change.action == REMOVE else f"b/{change.path}"))
    return "".join(chunks)


@contextmanager
def _locked(out_dir: Path, wait: float) -> Iterator[None]:
    """Hold an exclusive lock on the output directory itself (no lock file is left)."""
    fd = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    raise UserError(f"{out_dir}: another edgegenai generate is writing here; "
                                    f"waited {wait:.0f} s") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def recover(out_dir: Path) -> List[str]:
    """Finish every interrupted swap and remove stale staging; return what was finished.

    A staging directory with a journal was complete when the swap began:
    its remaining new trees are moved into place.  One without a journal
    never started swapping and is simply removed.
    """
    finished = []
    for staging in sorted(Path(out_dir).glob(".edgegenai-*")):
        if not staging.is_dir() or staging.is_symlink():
            continue
        journal = staging / JOURNAL
        if journal.is_file():
            for entry in journal.read_text("utf-8").split():
                check_path(entry)
                new, current, old = staging / "new" / entry, out_dir / entry, staging / "old" / entry
                if not os.path.lexists(new):
                    continue  # already swapped
                if os.path.lexists(current) and not os.path.lexists(old):
                    old.parent.mkdir(parents=True, exist_ok=True)
                    os.rename(current, old)
                os.rename(new, current)
                finished.append(entry)
        shutil.rmtree(staging, ignore_errors=True)
    return finished


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stage(full: Dict[str, str], out_dir: Path, staging: Path, dirty: List[str],
           kept: List[str]) -> None:
    for path in kept:  # the user's files travel with the tree they live in
        if path.split("/", 1)[0] not in dirty:
            continue
        src, dst = out_dir / path, staging / "new" / path
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    for path, text in full.items():
        if path.split("/", 1)[0] not in dirty:
            continue
        target = staging / "new" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    with open(staging / JOURNAL, "w", encoding="utf-8") as f:
        f.write("".join(f"{root}\n" for root in dirty))
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(staging)


def _swap(out_dir: Path, staging: Path, dirty: List[str]) -> None:
    (staging / "old").mkdir()
    for root in dirty:
        current, fresh = out_dir / root, staging / "new" / root
        if os.path.lexists(current):
            os.rename(current, staging / "old" / root)
        if os.path.lexists(fresh):
            os.rename(fresh, current)
    _fsync_dir(out_dir)


def write(files: Dict[str, str], out_dir: Path, lock_wait: float = LOCK_WAIT,
          spec: Optional[SpecRecord] = None) -> List[Change]:
    """Make the generator's files in `out_dir` hold exactly `files`, keeping the user's.

    `spec`: the spec they were rendered from, recorded in the manifest.
    """
    out_dir = Path(out_dir)
    full = _with_manifest(files, spec)
    try:
        if os.path.lexists(out_dir) and not out_dir.is_dir():
            raise UserError(f"{out_dir}: not a directory")
        out_dir.mkdir(parents=True, exist_ok=True)
        with _locked(out_dir, lock_wait):
            recover(out_dir)
            changes = _plan(full, out_dir)
            dirty = sorted({c.path.split("/", 1)[0] for c in changes if c.action not in (UNCHANGED, KEEP)})
            if not dirty:
                return changes
            kept = [c.path for c in changes if c.action == KEEP]
            staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
            try:
                _stage(full, out_dir, staging, dirty, kept)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            try:
                _swap(out_dir, staging, dirty)
            except BaseException:
                recover(out_dir)  # the staging is complete: finish the swap now if it can be
                raise
            shutil.rmtree(staging, ignore_errors=True)
            return changes
    except OSError as err:
        raise _user_error(err, out_dir) from None
