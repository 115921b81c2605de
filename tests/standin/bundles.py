"""Signed model bundles for the rollout stand-in, made with Debian's real `rauc bundle`.

A model bundle is what the layer's rollout script installs: a RAUC bundle
(verity format) whose only image is the artifact `<engine>` of the `models`
artifact repository, a tar of the tree the server reads: the model file,
its manifest.json and server.env, the settings that point the server at
the file.  The keys are made here with openssl for each build: a CA whose
certificate goes into the image's keyring and a signing certificate it
issued; a second, unrelated CA signs the bundle the device must refuse.
`rauc bundle` runs inside the stand-in's own root filesystem (chroot), so
the bundles come from the same RAUC 1.15 that installs them.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

OPENSSL_CA = ["-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"]


@dataclass(frozen=True)
class Keys:
    ca_cert: Path
    cert: Path
    key: Path


def _openssl(*args: str) -> None:
    proc = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {proc.stderr[-2000:]}")


def make_keys(directory: Path, name: str) -> Keys:
    """A CA and a signing certificate it issued, as a development PKI does it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = directory / "ca.key.pem", directory / "ca.cert.pem"
    key, csr, cert = directory / "signing.key.pem", directory / "signing.csr.pem", directory / "signing.cert.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca_cert),
             "-days", "30", "-subj", f"/O=edgegenai test/CN={name} CA", *OPENSSL_CA)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", f"/O=edgegenai test/CN={name} signing")
    ext = directory / "signing.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "30", "-extfile", str(ext))
    return Keys(ca_cert, cert, key)


def server_env(repo: str, artifact: str, alias: str, filename: str) -> str:
    """The settings a model bundle carries, in the image's defaults file's own syntax."""
    return (f"LLAMA_ARG_MODEL='{repo}/{artifact}/{filename}'\n"
            f"LLAMA_ARG_ALIAS='{alias}'\n")


def tree_tar(out: Path, files: dict[str, bytes]) -> Path:
    """The artifact image: a tar of the tree, files readable by the service user.

    The tree's own entry ("./", 0755) comes first: RAUC extracts into a
    directory it made 0700, which tar then gives the entry's mode; without
    it the service user could not reach the model.
    """
    with tarfile.open(out, "w", format=tarfile.GNU_FORMAT) as tar:
        top = tarfile.TarInfo("./")
        top.type, top.mode, top.mtime = tarfile.DIRTYPE, 0o755, 0
        tar.addfile(top)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(f"./{name}")
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, fileobj=__import__("io").BytesIO(data))
    return out


def model_files(repo: str, artifact: str, alias: str, filename: str, model: bytes,
                version: str = "1.0") -> dict[str, bytes]:
    digest = hashlib.sha256(model).hexdigest()
    manifest = {"name": alias, "file": filename, "path": f"{repo}/{artifact}/{filename}",
                "sha256": digest, "size": len(model), "engine": artifact, "version": version}
    return {filename: model, "manifest.json": (json.dumps(manifest, indent=2) + "\n").encode(),
            "server.env": server_env(repo, artifact, alias, filename).encode()}


def bundle(root: Path, out: Path, *, compatible: str, version: str, repo_name: str, artifact: str,
           files: dict[str, bytes], keys: Keys) -> Path:
    """`rauc bundle` inside `root` (a Debian root filesystem with rauc): the signed .raucb at `out`."""
    work = root / "tmp" / f"bundle-{out.stem}"
    content = work / "content"
    content.mkdir(parents=True)
    tree_tar(content / f"{artifact}.tar", files)
    (content / "manifest.raucm").write_text(
        f"[update]\ncompatible={compatible}\nversion={version}\n\n[bundle]\nformat=verity\n\n"
        f"[image.{repo_name}/{artifact}]\nfilename={artifact}.tar\n")
    for src in (keys.cert, keys.key):
        (work / src.name).write_bytes(src.read_bytes())
    inside = "/" + str(work.relative_to(root))
    # RAUC reads /proc/self/fd: a /proc of its own, in mount and PID
    # namespaces that end with the command (nothing stays mounted in `root`).
    command = (f"mount -t proc proc /proc && exec rauc bundle --cert={inside}/{keys.cert.name} "
               f"--key={inside}/{keys.key.name} {inside}/content {inside}/out.raucb")
    proc = subprocess.run(["unshare", "--mount", "--pid", "--fork", "chroot", str(root), "sh", "-c", command],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"rauc bundle failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    out.write_bytes((work / "out.raucb").read_bytes())
    subprocess.run(["rm", "-rf", str(work)], check=True)
    return out
