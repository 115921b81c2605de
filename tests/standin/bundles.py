"""Signed model bundles for the rollout stand-in, made with Debian's real `rauc bundle`.

A model bundle is what the layer's rollout script installs: a RAUC bundle
(verity format) whose only image is the artifact `<engine>` of the `models`
artifact repository, a tar of the tree the server reads: the model file,
its manifest.json and server.env, the settings that point the server at
the file.  The pieces are made by the layer's own shell, run here as
BitBake would run it: the keys by the development keys recipe's
do_compile (host openssl; a second run makes the unrelated CA whose bundle
the device must refuse), the tar by the artifact class's do_deploy.  The
manifest is the one meta-rauc's bundle class writes for such a slot, and
`rauc bundle` runs inside the stand-in's own root filesystem (chroot), so
the bundles come from the same RAUC 1.15 that installs them.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path



@dataclass(frozen=True)
class Keys:
    ca_cert: Path
    cert: Path
    key: Path




def recipe_function(text: str, name: str) -> str:
    """The body of shell function `name` in a recipe or class."""
    found = re.search(rf"^{re.escape(name)}\(\) \{{\n(.*?)^\}}", text, re.M | re.S)
    if found is None:
        raise RuntimeError(f"no {name}() in the recipe")
    return found.group(1)


def run_function(body: str, values: dict[str, str], cwd: Path) -> None:
    """Run a task's shell with its BitBake variables replaced by `values`; all must be known."""
    script = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), body)
    left = re.findall(r"\$\{\w+\}", script)
    if left:
        raise RuntimeError(f"the stand-in cannot run a task that reads {', '.join(sorted(set(left)))}")
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["sh", "-eu", "-c", script], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"task failed: {proc.stderr[-2000:]}")


def keys_from_recipe(recipe: str, directory: Path) -> Keys:
    """The development keys, made by the keys recipe's own do_compile."""
    run_function(recipe_function(recipe, "do_compile"), {"B": str(directory)}, directory)
    return Keys(directory / "ca.cert.pem", directory / "signing.cert.pem", directory / "signing.key.pem")


def artifact_from_class(bbclass: str, work: Path, model_dir: str, name: str, file: str, model: bytes,
                        manifest_json: bytes) -> Path:
    """A model recipe's artifact tar, made by the artifact class's own do_deploy."""
    artifact_dir = re.search(r'^EDGEGENAI_ARTIFACT_DIR = "([^"]+)"', bbclass, re.M).group(1)
    d, deploy = work / "image", work / "deploy"
    src = d / model_dir.lstrip("/") / name
    src.mkdir(parents=True)
    deploy.mkdir()
    (src / file).write_bytes(model)
    (src / "manifest.json").write_bytes(manifest_json)
    run_function(recipe_function(bbclass, "do_deploy"),
                 {"WORKDIR": str(work), "D": str(d), "MODEL_DIR": model_dir, "MODEL_NAME": name,
                  "MODEL_FILE": file, "EDGEGENAI_ARTIFACT_DIR": artifact_dir, "DEPLOYDIR": str(deploy),
                  "PN": f"model-{name}"}, work)
    return deploy / f"model-{name}-artifact.tar"










def bundle(root: Path, out: Path, *, compatible: str, version: str, repo_name: str, artifact: str,
           tar: Path, keys: Keys) -> Path:
    """`rauc bundle` inside `root` (a Debian root filesystem with rauc): the signed .raucb at `out`."""
    work = root / "tmp" / f"bundle-{out.stem}"
    content = work / "content"
    content.mkdir(parents=True)
    (content / f"{artifact}.tar").write_bytes(tar.read_bytes())
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
