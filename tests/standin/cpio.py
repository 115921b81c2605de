"""A minimal writer of the kernel's initramfs format (cpio "newc").

Written here rather than calling cpio(1) so that building the stand-in
needs no host tool besides apt, and the archive is byte-for-byte
reproducible (fixed owners and times, entries in the order given).
A later entry with the same path replaces an earlier one, which is how a
variant overrides a file of the base image.
"""

from __future__ import annotations

import stat

TRAILER = "TRAILER!!!"


class Archive:
    """Entries of an initramfs, all owned by root, mtime 0."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, bytes]] = {}

    def add_dir(self, path: str, mode: int = 0o755) -> None:
        parts = path.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            self._entries.setdefault("/".join(parts[:i]), (stat.S_IFDIR | mode, b""))

    def add_file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        path = path.strip("/")
        if "/" in path:
            self.add_dir(path.rsplit("/", 1)[0])
        self._entries.pop(path, None)
        self._entries[path] = (stat.S_IFREG | mode, data)

    def add_symlink(self, path: str, target: str) -> None:
        self._entries[path.strip("/")] = (stat.S_IFLNK | 0o777, target.encode())

    def bytes(self) -> bytes:
        out = bytearray()
        for ino, (name, (mode, data)) in enumerate(self._entries.items(), start=1):
            _entry(out, ino, name, mode, data)
        _entry(out, 0, TRAILER, 0, b"")
        return bytes(out)


def _pad(out: bytearray) -> None:
    out.extend(b"\0" * (-len(out) % 4))


def _entry(out: bytearray, ino: int, name: str, mode: int, data: bytes) -> None:
    encoded = name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(mode) else 1
    fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(encoded), 0)
    out.extend(b"070701" + b"".join(b"%08X" % f for f in fields))
    out.extend(encoded)
    _pad(out)
    out.extend(data)
    _pad(out)
