"""The systemd stand-in: Debian with systemd as PID 1 and Debian's real llama-server.

    python3 tests/standin/systemd.py qemux86-64 OUT_DIR [--variant VARIANT]

Where the busybox stand-in (build.py) proves the harness against scripted
answers, this one runs the real thing the layer configures: systemd as
PID 1, the unit file, defaults file and health script exactly as the
generator renders them and the service recipe installs them, the `llama`
system user the recipe creates, and Debian's build of llama.cpp's
`llama-server` serving a tiny GGUF model (tinymodel.py) over the
OpenAI-compatible API.  It is not a Yocto build: the kernel, systemd and
llama.cpp are Debian's (suite `sid`), not the layer's.

The Debian part is made with mmdebstrap and cached between runs (see
`base`), keyed on suite, architecture, package list and setup; each build
then copies it, adds the layer's files and packs an ext4 image with
`mke2fs -d`.  OUT_DIR is laid out like a Yocto deploy directory: the
catalog's kernel image name, `<image>-<machine>.rootfs.ext4`, and
`<image>-initramfs-<machine>.rootfs.cpio.gz`, the initramfs that loads
Debian's virtio and ext4 modules before mounting the root disk.

Variants break one thing each, for the harness's failure cases:
`bad-unit` (a drop-in with a memory limit far below what llama-server needs
to load: the kernel's OOM killer stops it at every start), `bad-model` (the model file no longer matches its
manifest), `crash` (the server is killed with SIGSEGV once after it came
up: systemd restarts it), `rollout` (the model-rollout feature on: RAUC's
system.conf and keyring, the rollout script, and in /root/bundles signed
model bundles to install: a good one, a broken one, one signed by a CA the
device does not trust; see bundles.py).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `standin` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edgegenai.catalog import Board, load_catalog  # noqa: E402
from edgegenai.engines import MODEL_DIR  # noqa: E402
from edgegenai.oepaths import expand  # noqa: E402
from edgegenai.render import render  # noqa: E402
from edgegenai.spec import Spec, load_spec  # noqa: E402
from edgegenai import rauc, rollout  # noqa: E402
from standin import bundles, tinymodel  # noqa: E402
from standin.debian import DEBIAN_ARCH, Unavailable, cache_root  # noqa: E402

SUITE = "sid"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# What the image holds besides Debian's essential set, measured to be enough:
# systemd as init, udev for the virtio devices, mount for its mount units
# (systemd no longer pulls it in), login for the console,
# initramfs-tools (smaller and more predictable than dracut) for the
# kernel's module-only disk drivers, curl for the health script.  systemd
# (>= 258) only dlopen()s libseccomp and libbpf, and without them runs the
# service with no syscall filter and no IP firewall, saying so once in the
# journal: the unit's sandbox needs both.
# rauc and rauc-service (its D-Bus service) install model bundles;
# squashfs-tools lets `rauc bundle` make them inside the same root filesystem.
PACKAGES = ("systemd", "systemd-sysv", "udev", "mount", "login", "initramfs-tools", "libseccomp2",
            "libbpf1", "llama.cpp-tools", "curl", "rauc", "rauc-service", "squashfs-tools",
            "linux-image-{arch}")
# Run by mmdebstrap before the kernel is installed, so its initramfs holds
# just what a QEMU guest needs to mount a virtio ext4 root, gzip-compressed.
ESSENTIAL_HOOK = (
    'mkdir -p "$1/etc/initramfs-tools/conf.d" "$1/usr/share/initramfs-tools/modules.d" && '
    'printf "MODULES=list\\nCOMPRESS=gzip\\n" > "$1/etc/initramfs-tools/conf.d/edgegenai" && '
    'printf "virtio_pci\\nvirtio_blk\\next4\\n" > "$1/usr/share/initramfs-tools/modules.d/edgegenai"'
)
# Bump when anything that changes the cached base changes.
BASE_FORMAT = 1
VARIANTS = ("good", "bad-unit", "bad-model", "crash", "rollout")
# The spec of the `rollout` variant: the default one with the feature on.
ROLLOUT_FEATURES = ["ssh", "model-rollout"]
ROLLOUT_RECIPE = re.compile(r"recipes-ota/edgegenai-model-rollout/[^/]+\.bb$")
BUNDLES_DIR = "/root/bundles"
TOOLS = ("mmdebstrap", "mke2fs")
SERVER_RECIPE = re.compile(r"recipes-ai/edgegenai-llama-cpp-server/[^/]+\.bb$")
MEMORY_RECIPE = re.compile(r"recipes-ai/edgegenai-llama-cpp-server-memory/[^/]+\.bb$")
DROPIN_DIR = "etc/systemd/system/llama-server.service.d"
# Fails at once and says why (oom-kill).  Measured alternatives: a sandbox
# that forbids the server's socket (RestrictAddressFamilies=AF_UNIX,
# SocketBindAllow= another port) makes llama-server exit 1 "due to HTTP
# server error", but the unit's ExecStartPost health wait then holds the
# start job until TimeoutStartSec (330 s); SystemCallFilter=~@basic-io
# fails at once with only "status=127".
BAD_UNIT_DROPIN = "[Service]\nMemoryMax=1M\n"
CRASH_UNIT = """\
[Unit]
Description=Crash llama-server once after it came up (boot-test variant)
After=llama-server.service
Requires=llama-server.service

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'sleep 2; systemctl kill --signal=SIGSEGV --kill-whom=main llama-server.service'

[Install]
WantedBy=multi-user.target
"""


@dataclass(frozen=True)
class Base:
    """The cached Debian root filesystem of one architecture."""

    arch: str
    rootfs: Path
    versions: str


def missing_tools(arch: str) -> list[str]:
    """What keeps this machine from making the stand-in of `arch`, as phrases."""
    problems = [f"{t} not installed" for t in TOOLS if shutil.which(t) is None]
    if os.geteuid() != 0:
        problems.append("not root (mmdebstrap and mke2fs -d must keep file owners)")
    if DEBIAN_ARCH.get(platform.machine()) != arch:
        name = {"arm64": "aarch64", "amd64": "x86_64"}[arch]
        binfmt = Path("/proc/sys/fs/binfmt_misc") / f"qemu-{name}"
        if not binfmt.is_file() or "enabled" not in binfmt.read_text():
            problems.append(f"no binfmt_misc entry qemu-{name} (install qemu-user-static, mount "
                            "binfmt_misc, update-binfmts --enable)")
    return problems


def mirror() -> str:
    """The Debian archive the host's apt already uses (sid is served by the same URI)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            texts.append(path.read_text())
        except OSError:
            continue
    for uri in re.findall(r"(https?://\S+?/debian)/?(?:\s|$)", "\n".join(texts)):
        return uri
    return DEFAULT_MIRROR


def packages(arch: str) -> list[str]:
    return [p.format(arch=arch) for p in PACKAGES]


def base_key(arch: str, extra: tuple[str, ...] = ()) -> str:
    data = {"format": BASE_FORMAT, "suite": SUITE, "arch": arch,
            "packages": packages(arch) + list(extra), "hook": ESSENTIAL_HOOK}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}"
                           f"{proc.stderr[-3000:]}")
    return proc


def _remove(path: Path) -> None:
    """rmtree that first detaches what an interrupted mmdebstrap left mounted inside (/proc,
    /sys, /dev/pts, /dev/shm): rmtree would walk into those and delete the host's files."""
    prefix = str(path.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True)
    if any(line.split()[1].startswith(prefix)
           for line in Path("/proc/self/mounts").read_text().splitlines()):
        raise RuntimeError(f"{path}: file systems still mounted inside, not removed")
    shutil.rmtree(path, ignore_errors=True)


def base(arch: str, extra: tuple[str, ...] = ()) -> Base:
    """The Debian root filesystem for `arch`, made with mmdebstrap once and then reused.

    Cached in `<cache>/systemd-<arch>-<key>/`, where the key hashes suite,
    architecture, packages and setup: a change to any makes a new one, and a
    second run (another CI run on the same machine) reuses it as it is, and
    a new key's base replaces the old one.  sid moves every day; the cached
    base stays what it was when made (`versions.txt` says what that is)
    until its key changes or the cache directory is removed.
    """
    problems = missing_tools(arch)
    if problems:
        raise Unavailable("systemd stand-in: " + ", ".join(problems))
    home = cache_root() / f"systemd-{arch}-{base_key(arch, extra)}"
    rootfs, versions = home / "rootfs", home / "versions.txt"
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f"{home.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes: one builds, one waits
        if not versions.is_file():
            for stale in [home, *home.parent.glob(f"{home.name}.*")]:  # an interrupted build
                if stale.is_dir():
                    _remove(stale)
            work = Path(tempfile.mkdtemp(prefix=f"{home.name}.", dir=home.parent))
            try:
                _run(["mmdebstrap", "--mode=root", "--variant=essential", f"--architectures={arch}",
                      "--aptopt=Acquire::Check-Valid-Until \"false\"",
                      f"--include={','.join(packages(arch) + list(extra))}",
                      f"--essential-hook={ESSENTIAL_HOOK}",
                      SUITE, str(work / "rootfs"), mirror()])
                listing = _run(["chroot", str(work / "rootfs"), "dpkg-query", "-W",
                                "-f=${Package} ${Version}\n"]).stdout
                (work / "versions.txt").write_text(
                    f"suite {SUITE} arch {arch} made {time.strftime('%Y-%m-%d')}\n{listing}")
                work.rename(home)
            finally:
                if work.exists():
                    _remove(work)
            # One base per architecture: drop the ones an older key made (~350 MB each).
            for old in home.parent.glob(f"systemd-{arch}-*"):
                if old.is_dir() and old.name != home.name and "." not in old.name:
                    _remove(old)
    return Base(arch, rootfs, versions.read_text())


# -- the layer's files, installed as the recipes install them ---------------------

def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def service_install(files: dict[str, str], machine: str,
                    recipe_re: re.Pattern = SERVER_RECIPE) -> dict[str, tuple[bytes, int]]:
    """What a service recipe's do_install writes on `machine`: {absolute path: (content, mode)}.

    Read from the rendered recipe itself: each `sed -e ... ${S}/FILE >
    ${D}PATH` becomes a Python substitution of the same expressions, each
    `install -m MODE ${S}/FILE ${D}PATH` a copy, each `chmod MODE ${D}PATH`
    its mode, so the stand-in cannot drift from the recipe.  FILE is taken
    from files/<machine>/ where the recipe has one, as BitBake's
    FILESOVERRIDES does.
    """
    recipe_path = next(p for p in files if recipe_re.search(p))
    recipe = files[recipe_path]
    src_dir = recipe_path.rsplit("/", 1)[0] + "/files/"

    def source(name: str) -> str:
        return files.get(f"{src_dir}{machine}/{name}", files.get(src_dir + name))

    body = re.search(r"^do_install\(\) \{\n(.*?)^\}", recipe, re.M | re.S)
    if body is None:
        raise RuntimeError(f"{recipe_path}: no do_install")
    out: dict[str, list] = {}
    for line in _logical_lines(body.group(1)):
        sed = re.match(r"\s*sed((?:\s+-e\s+'[^']*')+)\s+\$\{S\}/(\S+)\s*>\s*\$\{D\}(\S+)$", line)
        chmod = re.match(r"\s*chmod\s+([0-7]+)\s+\$\{D\}(\S+)$", line)
        copy = re.match(r"\s*install\s+-m\s+([0-7]+)\s+\$\{S\}/(\S+)\s+\$\{D\}(\S+)$", line)
        if copy:
            out[expand(copy.group(3))] = [source(copy.group(2)).encode(), int(copy.group(1), 8)]
        elif sed:
            text = source(sed.group(2))
            for expr in re.findall(r"-e\s+'([^']*)'", sed.group(1)):
                cmd, pattern, replacement, flags = expr.split(",")
                if cmd != "s" or flags != "g":
                    raise RuntimeError(f"{recipe_path}: cannot apply sed {expr!r}")
                text = text.replace(pattern, expand(replacement))
            out[expand(sed.group(3))] = [text.encode(), 0o644]
        elif chmod:
            out[expand(chmod.group(2))][1] = int(chmod.group(1), 8)
        elif re.match(r"\s*install\s+-d\s", line) or not line.strip() or line.strip().startswith("#"):
            continue
        else:
            raise RuntimeError(f"{recipe_path}: do_install line the stand-in cannot do: {line}")
    if not out:
        raise RuntimeError(f"{recipe_path}: do_install installs nothing")
    return {path: (data, mode) for path, (data, mode) in out.items()}


def service_user(files: dict[str, str]) -> dict[str, str]:
    """The system user of the recipe's USERADD_PARAM: name, home, shell."""
    recipe = next(text for p, text in files.items() if SERVER_RECIPE.search(p))
    param = re.search(r'^USERADD_PARAM:\$\{PN\}\s*=\s*"([^"]*)"', recipe, re.M)
    if param is None:
        raise RuntimeError("the service recipe has no USERADD_PARAM")
    words = expand(param.group(1)).split()
    opts = dict(zip(words, words[1:]))
    if "--system" not in words or "--user-group" not in words:
        raise RuntimeError(f"USERADD_PARAM not a system user with its group: {param.group(1)}")
    return {"name": words[-1], "home": opts.get("--home-dir", "/"),
            "shell": opts.get("--shell", "/usr/sbin/nologin")}


def manifest(name: str, file: str, path: str, sha256: str, size: int, license: str,
             engine: str, version: str, quantization: str | None = None) -> bytes:
    """manifest.json as edgegenai_model.bbclass's do_install prints it, line for line
    (for a file used as published)."""
    quant = f'  "quantization": "{quantization}",\n' if quantization else ""
    return (f'{{\n  "name": "{name}",\n  "file": "{file}",\n  "path": "{path}",\n'
            f'  "sha256": "{sha256}",\n  "size": {size},\n  "license": "{license}",\n'
            f'  "engine": "{engine}",\n{quant}  "version": "{version}"\n}}\n').encode()


def _write(root: Path, path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace a file in the copy (never write through a hard link into the cached base)."""
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.write_bytes(data)
    target.chmod(mode)


def _symlink(root: Path, path: str, to: str) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink() or target.exists():
        target.unlink()
    target.symlink_to(to)


def _edit_accounts(root: Path, user: dict[str, str]) -> None:
    """Root without a password (the debug image's empty-root-password) and the service user."""
    def lines(name):
        return (root / "etc" / name).read_text().splitlines()

    passwd, group, shadow = lines("passwd"), lines("group"), lines("shadow")
    gshadow = lines("gshadow")
    used = {int(line.split(":")[2]) for line in passwd + group}
    # useradd --system: the highest free id below 1000.
    uid = next(i for i in range(999, 100, -1) if i not in used)
    days = int(time.time() // 86400)
    passwd = [re.sub(r"^root:[^:]*:", "root::", line) for line in passwd]
    shadow = [line for line in shadow if not line.startswith("root:")] + [f"root::{days}:0:99999:7:::"]
    name = user["name"]
    passwd.append(f"{name}:x:{uid}:{uid}::{user['home']}:{user['shell']}")
    group.append(f"{name}:x:{uid}:")
    shadow.append(f"{name}:!:{days}::::::")
    gshadow.append(f"{name}:!::")
    for fname, content, mode in (("passwd", passwd, 0o644), ("group", group, 0o644),
                                 ("shadow", shadow, 0o640), ("gshadow", gshadow, 0o640)):
        _write(root, f"/etc/{fname}", ("\n".join(content) + "\n").encode(), mode)
        if fname in ("shadow", "gshadow"):
            shadow_gid = next((int(line.split(":")[2]) for line in group
                               if line.startswith("shadow:")), 0)
            os.chown(root / "etc" / fname, 0, shadow_gid)


def _enable(root: Path, unit_path: str, unit_text: str) -> None:
    """What `systemctl enable` does for the unit's [Install] WantedBy=."""
    wanted = re.findall(r"^WantedBy=(.+)$", unit_text, re.M)
    for target in " ".join(wanted).split():
        _symlink(root, f"/etc/systemd/system/{target}.wants/{Path(unit_path).name}", unit_path)


def _install_model(root: Path, spec: Spec, variant: str) -> dict:
    model = spec.served_model("llama-cpp", load_catalog())
    path = f"{MODEL_DIR}/{model.name}/{model.filename}"
    with tempfile.TemporaryDirectory() as tmp:
        data = tinymodel.write(Path(tmp) / "model.gguf").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if variant == "bad-model":
        # One byte of the last tensor changed after the manifest was written:
        # the file still loads, but it is not the file the manifest names.
        data = data[:-1] + bytes([data[-1] ^ 0x01])
    _write(root, path, data)
    _write(root, f"{MODEL_DIR}/{model.name}/manifest.json",
           manifest(model.name, model.filename, path, digest, len(data), model.license,
                    model.engine, model.version, model.quantization))
    return {"path": path, "sha256": digest, "size": len(data)}


def populate(root: Path, board: Board, spec: Spec, variant: str) -> None:
    """Put the layer's files, user and model into the copy of the base at `root`."""
    files = render(spec)
    installed = service_install(files, board.machine)
    for path, (data, mode) in {**installed, **service_install(files, board.machine, MEMORY_RECIPE)}.items():
        _write(root, path, data, mode)
    units = [p for p in installed if p.endswith(".service")]
    for unit in units:
        _enable(root, unit, installed[unit][0].decode())
    # Debian's llama-server is where the unit's ExecStart (@BINDIR@) expects it.
    exec_start = re.search(r"^ExecStart=(\S+)", installed[units[0]][0].decode(), re.M).group(1)
    if not (root / exec_start.lstrip("/")).exists():
        raise RuntimeError(f"Debian's llama.cpp-tools has no {exec_start}")
    _edit_accounts(root, service_user(files))
    _install_model(root, spec, variant)
    _write(root, "/etc/hostname", f"{board.machine}\n".encode())
    _write(root, "/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{board.machine}\n"
                               "::1\t\tlocalhost ip6-localhost ip6-loopback\n".encode())
    # A fixed machine id: not a first boot, so systemd-firstboot never asks.
    _write(root, "/etc/machine-id",
           (hashlib.sha256(board.machine.encode()).hexdigest()[:32] + "\n").encode(), 0o444)
    if variant == "bad-unit":
        _write(root, f"/{DROPIN_DIR}/50-break.conf", BAD_UNIT_DROPIN.encode())
    if variant == "crash":
        _write(root, "/etc/systemd/system/llama-server-crash.service", CRASH_UNIT.encode())
        _enable(root, "/etc/systemd/system/llama-server-crash.service", CRASH_UNIT)
    if rollout.wanted(spec):
        _install_rollout(root, board, spec, files)


def _install_rollout(root: Path, board: Board, spec: Spec, files: dict[str, str]) -> None:
    """The rollout recipe's files, RAUC's system.conf as the rauc-conf bbappend leaves it,
    a keyring, and signed model bundles to install in /root/bundles."""
    for path, (data, mode) in service_install(files, board.machine, ROLLOUT_RECIPE).items():
        _write(root, path, data, mode)
    work = Path(tempfile.mkdtemp(prefix="rollout.", dir=root.parent))
    keys_recipe = next(t for p, t in files.items() if re.search(r"/edgegenai-rauc-dev-keys[^/]*\.bb$", p))
    trusted = bundles.keys_from_recipe(keys_recipe, work / "trusted")
    foreign = bundles.keys_from_recipe(keys_recipe, work / "foreign")  # another CA, the same name
    keyring = rauc.KEYRING
    conf = files["meta-edgegenai/recipes-ota/rauc/files/system.conf"]
    conf = (conf.replace("@MACHINE@", board.machine).replace("@KEYRING@", keyring)
            .replace("@LIBEXECDIR@", expand("${libexecdir}")))
    _write(root, "/usr/lib/rauc/system.conf", conf.encode())
    _write(root, f"/usr/lib/rauc/{keyring}", trusted.ca_cert.read_bytes())
    compatible = re.search(r"^compatible=(.+)$", conf, re.M).group(1)
    artifact = "llama-cpp"
    bbclass = files[f"meta-edgegenai/classes/{rollout.CLASS}.bbclass"]
    with tempfile.TemporaryDirectory() as tmp:
        model = tinymodel.write(Path(tmp) / "model.gguf").read_bytes()

    def tree(name: str, data: bytes, version: str) -> Path:
        path = f"{MODEL_DIR}/{name}/{name}.gguf"
        meta = manifest(name, f"{name}.gguf", path, hashlib.sha256(data).hexdigest(), len(data),
                        "Apache-2.0", artifact, version)
        return bundles.artifact_from_class(bbclass, work / name, expand(MODEL_DIR), name, f"{name}.gguf",
                                           data, meta)

    good = tree("tiny-next", model, "2.0")
    # Cut short: RAUC installs it (the signature is good), llama-server cannot load it.
    broken = tree("tiny-broken", model[:len(model) // 2], "3.0")
    out = root / BUNDLES_DIR.lstrip("/")
    out.mkdir(parents=True, exist_ok=True)
    common = dict(compatible=compatible, repo_name=rollout.REPO_NAME, artifact=artifact)
    bundles.bundle(root, out / "good.raucb", version="2.0", tar=good, keys=trusted, **common)
    bundles.bundle(root, out / "broken.raucb", version="3.0", tar=broken, keys=trusted, **common)
    bundles.bundle(root, out / "foreign.raucb", version="2.0", tar=good, keys=foreign, **common)
    shutil.rmtree(work)


def _ext4(source: Path, image: Path) -> None:
    used = int(_run(["du", "-sb", str(source)]).stdout.split()[0])
    size_mb = used * 13 // 10 // 2**20 + 256
    if image.exists():
        image.unlink()
    with open(image, "wb") as f:
        f.truncate(size_mb * 2**20)
    _run(["mke2fs", "-q", "-F", "-t", "ext4", "-L", "root", "-d", str(source), str(image)])


def build(board: Board, out_dir: Path, variant: str = "good", spec: Spec | None = None,
          extra_packages: tuple[str, ...] = ()) -> Path:
    """Write the board's systemd stand-in deploy directory into `out_dir` and return it."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}")
    if board.qemu is None:
        raise ValueError(f"{board.name} is not a QEMU board")
    if spec is None:
        spec = load_spec(None)
        if variant == "rollout":
            spec = spec.model_copy(update={"image": spec.image.model_copy(
                update={"features": ROLLOUT_FEATURES})})
    found = base(DEBIAN_ARCH[board.arch], tuple(extra_packages))
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="rootfs.", dir=out_dir))
    try:
        root = stage / "root"
        # Hard links: fast and small; every file changed is replaced, not written through.
        _run(["cp", "-al", str(found.rootfs), str(root)])
        populate(root, board, spec, variant)
        boot = root / "boot"
        kernel = next(boot.glob("vmlinuz-*"))
        initrd = next(boot.glob("initrd.img-*"))
        shutil.copyfile(kernel, out_dir / board.qemu.kernel_image)
        shutil.copyfile(initrd, out_dir / f"{spec.image.name}-initramfs-{board.machine}.rootfs.cpio.gz")
        _ext4(root, out_dir / f"{spec.image.name}-{board.machine}.rootfs.{board.qemu.rootfs}")
        (out_dir / "versions.txt").write_text(found.versions)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("board")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--variant", choices=VARIANTS, default="good")
    parser.add_argument("--extra-package", action="append", default=[],
                        help="another Debian package in the base (a separate cache entry)")
    args = parser.parse_args(argv)
    board = load_catalog().boards[args.board]
    print(build(board, args.out_dir, args.variant, extra_packages=tuple(args.extra_package)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
