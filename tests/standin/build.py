"""Build the stand-in image of a QEMU board: what CI boots instead of a Yocto image.

    python3 tests/standin/build.py qemuarm64 OUT_DIR [--variant VARIANT]

OUT_DIR is laid out like a Yocto deploy directory (the catalog's kernel
image name beside `<image>-<machine>.rootfs.cpio.gz`), so the boot-test
harness finds the stand-in exactly as it finds a real build; nothing in the
harness knows it is a stand-in.  The initramfs holds:

- a Debian kernel and static busybox for the board's architecture (see
  `debian.py`, downloaded once and cached);
- the files the layer really installs, rendered by the generator from the
  default spec: /etc/default/llama-server and llama-server-health;
- a model file and its manifest.json in the same place and format as the
  model recipes write them;
- stand-ins for what a busybox system lacks (systemctl, journalctl, curl,
  llama-server as a tiny HTTP responder), answering the harness's commands
  from the system's real state.

Variants break one thing each, to prove the harness fails as it should:
`panic` (init exits: kernel panic), `service-down` (the server never
starts), `bad-checksum` (the manifest's sha256 is not the file's).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `standin` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgegenai.catalog import Board, load_catalog  # noqa: E402
from edgegenai.render import render  # noqa: E402
from edgegenai.spec import Spec, load_spec  # noqa: E402
from standin import cpio, debian  # noqa: E402

ROOTFS = Path(__file__).resolve().parent / "rootfs"
VARIANTS = ("good", "panic", "service-down", "bad-checksum")
# Where the layer's recipes install things (the service recipe's and the
# model class's install paths).
SYSCONFDIR, BINDIR, MODEL_DIR = "/etc", "/usr/bin", "/usr/share/edgegenai/models"
# Small: sha256sum of a real 260 MB model takes minutes under TCG.
MODEL_BYTES = 256 * 1024

PANIC_INIT = b"""#!/bin/sh
# Broken init: it exits, so the kernel panics ("Attempted to kill init").
echo "stand-in: init gives up"
exit 1
"""
DOWN_SERVER = b"""#!/bin/sh
# Broken server: it never comes up.
echo "llama-server: error: failed to bind" >&2
exit 1
"""


def _layer_files(spec: Spec) -> dict[str, bytes]:
    """The files the service recipe installs, rendered from the spec, with its sed applied."""
    files = render(spec)
    out = {}
    for rel, text in files.items():
        name = rel.rsplit("/", 1)[-1]
        if "/files/" not in rel or name not in ("llama-server.default", "llama-server-health"):
            continue
        text = (text.replace("@SYSCONFDIR@", SYSCONFDIR).replace("@BINDIR@", BINDIR)
                .replace("@MODEL_DIR@", MODEL_DIR))
        target = "etc/default/llama-server" if name == "llama-server.default" else f"usr/bin/{name}"
        out[target] = text.encode()
    if len(out) != 2:
        raise RuntimeError(f"rendering has no llama-server files: {sorted(out)}")
    return out


def _model_files(spec: Spec, variant: str) -> dict[str, bytes]:
    """A model file and the manifest the model class writes for it (same keys, same place)."""
    model = spec.served_model("llama-cpp", load_catalog())
    data = hashlib.sha256(model.name.encode()).digest() * (MODEL_BYTES // 32)
    data = b"GGUF" + data[4:]
    digest = hashlib.sha256(data).hexdigest()
    if variant == "bad-checksum":
        digest = hashlib.sha256(b"not the model").hexdigest()
    path = f"{MODEL_DIR}/{model.name}/{model.filename}"
    manifest = {"name": model.name, "file": model.filename, "path": path, "sha256": digest,
                "size": len(data), "license": model.license, "engine": model.engine,
                "version": model.version}
    return {path.lstrip("/"): data,
            f"{MODEL_DIR}/{model.name}/manifest.json".lstrip("/"):
                (json.dumps(manifest, indent=2) + "\n").encode()}


def build(board: Board, out_dir: Path, variant: str = "good", spec: Spec | None = None) -> Path:
    """Write the board's stand-in deploy directory into `out_dir` and return it."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}")
    if board.qemu is None:
        raise ValueError(f"{board.name} is not a QEMU board")
    spec = spec or load_spec(None)
    parts = debian.fetch(debian.DEBIAN_ARCH[board.arch])
    archive = cpio.Archive()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run", "tmp",
              "root", "var/log"):
        archive.add_dir(d)
    archive.add_file("bin/busybox", parts.busybox.read_bytes(), 0o755)
    archive.add_symlink("bin/sh", "busybox")
    for path in sorted(ROOTFS.rglob("*")):
        if path.is_file():
            rel = path.relative_to(ROOTFS).as_posix()
            executable = rel == "init" or rel.startswith(("usr/bin/", "usr/libexec/"))
            archive.add_file(rel, path.read_bytes(), 0o755 if executable else 0o644)
    archive.add_file("etc/hostname", f"{board.machine}\n".encode(), 0o644)
    for rel, data in _layer_files(spec).items():
        archive.add_file(rel, data, 0o755 if rel.startswith("usr/bin/") else 0o644)
    for rel, data in _model_files(spec, variant).items():
        archive.add_file(rel, data, 0o644)
    if variant == "panic":
        archive.add_file("init", PANIC_INIT, 0o755)
    if variant == "service-down":
        archive.add_file("usr/bin/llama-server", DOWN_SERVER, 0o755)

    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(parts.kernel, out_dir / board.qemu.kernel_image)
    initrd = out_dir / f"{spec.image.name}-{board.machine}.rootfs.cpio.gz"
    with open(initrd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                 compresslevel=1) as gz:
        gz.write(archive.bytes())
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--variant", choices=VARIANTS, default="good")
    args = parser.parse_args(argv)
    board = load_catalog().boards[args.board]
    print(build(board, args.out_dir, args.variant))
    return 0


if __name__ == "__main__":
    sys.exit(main())
