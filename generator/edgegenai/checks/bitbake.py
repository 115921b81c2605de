"""Real BitBake (`--bitbake`): parse the layer and resolve the image, offline.

Static checks cannot see everything BitBake sees (a class that fails to
inherit, an RDEPENDS nothing provides, a release that rejects a variable).
When a checkout of the upstream layers is available, this check writes a
build directory per board and release (`bblayers.conf` with the layer, its
LAYERDEPENDS and the board's layers; `local.conf` with MACHINE, the layer's
distro and `BB_NO_NETWORK = "1"`) and runs `bitbake -p` (parse every recipe)
and `bitbake -g <image>` (resolve every dependency of the image).  Nothing
is fetched or compiled.  BitBake's errors become `edgegenai.bitbake.error`
findings at the file and line BitBake names.

The checkout is a directory given by `--bitbake-root` or
`EDGEGENAI_BITBAKE_ROOT`, holding `<release>/<repo>` work trees named as the
repos of releases.yaml (`wrynose/bitbake`, `wrynose/openembedded-core`,
`wrynose/meta-yocto`, `wrynose/meta-openembedded`, and BSP layers) at the
pinned commits.  Without one the check is skipped and says so; it never
passes without having run.

OE-core refuses to run as root: as root, BitBake runs as an unprivileged
user (`--bitbake-user`, `EDGEGENAI_BITBAKE_USER`, default `bb`), in build
directories it owns, on a copy of the layer.  Build directories are kept
(`--bitbake-build-dir`, default `<tmp>/edgegenai-bitbake`) so that the next
run reuses BitBake's parse cache: ~60-90 s cold per board and release, ~10 s
warm.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from .. import rauc
from .model import ERROR, INFO, Finding, Outcome, Workspace

NAME = "bitbake"
SUMMARY = "bitbake -p and bitbake -g <image> per board and release, offline"
OPT_IN = True

TIMEOUT = 3600
# BitBake's closing lines that only repeat that the errors above happened.
SUMMARY_LINES = ("Parsing halted due to errors", "Command execution failed")
FILE_LINE = re.compile(r"(/[^\s:'\"]+?\.(?:bb|bbappend|bbclass|inc|conf))(?:[:,](?:\s*line\s*)?(\d+))?")


def checkout_root(ws: Workspace) -> Optional[Path]:
    given = ws.bitbake_root or os.environ.get("EDGEGENAI_BITBAKE_ROOT")
    return Path(given) if given else None


def build_base(ws: Workspace) -> Path:
    if ws.bitbake_build_dir:
        return Path(ws.bitbake_build_dir)
    return Path(tempfile.gettempdir()) / "edgegenai-bitbake"


def run_as(ws: Workspace) -> Optional[str]:
    """The user BitBake runs as: None to run as ourselves (we are not root)."""
    if os.geteuid() != 0:
        return None
    return ws.bitbake_user or os.environ.get("EDGEGENAI_BITBAKE_USER") or "bb"


def layer_conf_var(ws: Workspace, var: str) -> List[str]:
    text = (ws.layer / "conf" / "layer.conf").read_text("utf-8")
    match = re.search(rf'^{var}_\S+\s*=\s*"([^"]*)"', text, re.M)
    return match.group(1).split() if match else []


def distro(ws: Workspace) -> str:
    confs = sorted((ws.layer / "conf" / "distro").glob("*.conf"))
    return confs[0].stem if len(confs) == 1 else "poky"


def layers_for(ws: Workspace, release_dir: Path, board, patched: Optional[Dict[str, Path]] = None
               ) -> Tuple[List[Path], List[str]]:
    """Upstream layer paths for the layer's LAYERDEPENDS and the board; and the repos missing.

    `patched` maps a repository to the patched copy to use instead of the checkout.
    """
    catalog = ws.catalog
    paths, missing = [], []
    for coll in layer_conf_var(ws, "LAYERDEPENDS") + list(board.layers):
        layer = catalog.layers.get(coll)
        if layer is None:
            missing.append(f"layer collection '{coll}' (not in the catalog)")
            continue
        path = (patched or {}).get(layer.repo, release_dir / layer.repo) / layer.path
        if not (path / "conf" / "layer.conf").is_file():
            missing.append(str(path))
        elif path not in paths:
            paths.append(path)
    if not (release_dir / "bitbake" / "bin" / "bitbake").is_file():
        missing.append(str(release_dir / "bitbake"))
    return paths, missing


def patch_repos(ws: Workspace, release: str, release_dir: Path, into: Path) -> Tuple[Dict[str, Path], List[str]]:
    """Copies of the checkouts kas patches (releases.yaml `patches`), patched as kas would.

    The patches are the ones the rendered kas files ship (kas/patches/), so
    BitBake sees the layers a kas build sees.  Returns the copies and the
    problems (a patch that does not apply).
    """
    copies, problems = {}, []
    for name, pin in ws.catalog.releases[release].repos.items():
        source = release_dir / name
        files = [ws.kas_dir / "patches" / name / p for p in pin.patches]
        # A repository the kas files do not ship patches for is not used.
        if not files or not source.is_dir() or not all(f.is_file() for f in files):
            continue
        target = into / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        for patch_file in files:
            run = subprocess.run(["git", "apply", "-p1", str(patch_file.resolve())], cwd=target,
                                 capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(f"{patch_file.name} does not apply to {source}: {run.stderr.strip()}")
        copies[name] = target
    return copies, problems


def licence_flags(ws: Workspace) -> List[str]:
    """LICENSE_FLAGS the layer's recipes declare (restricted firmware, models),
    and those its distro gives a BSP's proprietary recipes (LICENSE_FLAGS_DETAILS)."""
    flags = set()
    for recipe in ws.layer.rglob("*.bb"):
        for match in re.finditer(r'^LICENSE_FLAGS\s*=\s*"([^"]*)"', recipe.read_text("utf-8", "replace"), re.M):
            flags.update(match.group(1).split())
    for conf in ws.layer.glob("conf/distro/*.conf"):
        flags.update(re.findall(r"^LICENSE_FLAGS_DETAILS\[([\w.+-]+)\]", conf.read_text("utf-8", "replace"), re.M))
    return sorted(flags)


def opt_fragment(ws: Workspace, name: str, release_dir: Path) -> Tuple[str, List[Path], List[str]]:
    """What kas/opt/<name>.yml adds: local.conf lines, layer paths, and what is missing.

    Read from the rendered fragment itself, so BitBake resolves what a kas
    build with it resolves: its `local_conf_header` blocks and the layers
    its `repos` switch on (in this release's checkouts).
    """
    path = ws.kas_dir / "opt" / f"{name}.yml"
    if not path.is_file():
        return "", [], [f"kas/opt/{name}.yml (no such option fragment)"]
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    conf = "".join(f"# kas/opt/{name}.yml: {key}\n{text.rstrip()}\n"
                   for key, text in sorted((data.get("local_conf_header") or {}).items()))
    layers, missing = [], []
    for repo, body in sorted((data.get("repos") or {}).items()):
        for layer, state in sorted(((body or {}).get("layers") or {}).items()):
            if state in ("disabled", "excluded"):
                continue
            layer_path = release_dir / repo / layer
            (layers if (layer_path / "conf" / "layer.conf").is_file() else missing).append(layer_path)
    return conf, layers, [str(m) for m in missing]


def extra_conf(ws: Workspace) -> str:
    """With the development keys' recipe in the layer, resolve the graph they add too; with
    keys-only ssh, a placeholder authorized_keys (the user's real one is never here)."""
    out = 'EDGEGENAI_RAUC_DEV_KEYS = "1"\n' if rauc.has_dev_keys(ws.layer) else ""
    if (ws.layer / "recipes-core" / "edgegenai-remote-access").is_dir():
        keys = build_base(ws) / "authorized_keys.placeholder"
        keys.parent.mkdir(parents=True, exist_ok=True)
        _write_if_changed(keys, "# A placeholder so that the graph resolves; nothing is built here.\n")
        keys.chmod(0o644)
        out += f'EDGEGENAI_AUTHORIZED_KEYS = "{keys}"\n'
    return out


def write_build_dir(build: Path, layers: List[Path], machine: str, distro_name: str,
                    accepted: List[str] = (), extra: str = "") -> None:
    conf = build / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    bblayers = "".join(f"  {p} \\\n" for p in layers)
    _write_if_changed(conf / "bblayers.conf",
                      "# Written by edgegenai check --bitbake.\n"
                      'POKY_BBLAYERS_CONF_VERSION = "2"\nBBPATH = "${TOPDIR}"\nBBFILES ?= ""\n'
                      f'BBLAYERS = " \\\n{bblayers}"\n')
    _write_if_changed(conf / "local.conf",
                      "# Written by edgegenai check --bitbake: parse and resolve only, offline.\n"
                      f'MACHINE = "{machine}"\nDISTRO = "{distro_name}"\nBB_NO_NETWORK = "1"\n'
                      'DL_DIR = "${TOPDIR}/downloads"\nSSTATE_DIR = "${TOPDIR}/sstate-cache"\n'
                      'BB_HASHSERVE = ""\nBB_SIGNATURE_HANDLER = "OEBasicHash"\nCONF_VERSION = "2"\n'
                      + extra
                      + ("# Accepted only so the whole task graph resolves; nothing is built or\n"
                         "# shipped here, and a real build needs the user's own acceptance.\n"
                         f'LICENSE_FLAGS_ACCEPTED = "{" ".join(accepted)}"\n' if accepted else ""))


def _write_if_changed(path: Path, text: str) -> None:
    """Unchanged configuration keeps BitBake's parse cache valid."""
    if not path.is_file() or path.read_text("utf-8") != text:
        path.write_text(text, encoding="utf-8")


def copy_layer(ws: Workspace, build: Path) -> Path:
    """The layer as the BitBake user can read it (modification times kept, so the cache holds)."""
    target = build / "layers" / ws.layer.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(ws.layer, target)
    return target


def bitbake(release_dir: Path, build: Path, user: Optional[str], args: List[str]) -> subprocess.CompletedProcess:
    path = f"{release_dir / 'bitbake' / 'bin'}:{release_dir / 'openembedded-core' / 'scripts'}:" \
           "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
    home = pwd.getpwnam(user).pw_dir if user else os.path.expanduser("~")
    env = ["env", "-i", f"HOME={home}", f"PATH={path}", "LANG=C.UTF-8", "LC_ALL=C.UTF-8",
           f"BUILDDIR={build}", f"USER={user or pwd.getpwuid(os.geteuid()).pw_name}"]
    prefix = ["runuser", "-u", user, "--"] if user else []
    return subprocess.run(prefix + env + ["bitbake", *args], cwd=build, capture_output=True,
                          text=True, timeout=TIMEOUT)


def errors(ws: Workspace, output: str, copied: Path, what: str) -> List[Finding]:
    findings = []
    for text in output.splitlines():
        if not text.startswith("ERROR:"):
            continue
        text = text[len("ERROR:"):].strip()
        if text.startswith(SUMMARY_LINES):
            continue
        path, line = ws.rel(ws.layer), None
        match = FILE_LINE.search(text)
        if match:
            found = Path(match.group(1))
            try:
                path = ws.rel(ws.layer / found.relative_to(copied))
            except ValueError:
                path = str(found)
            line = int(match.group(2)) if match.group(2) else None
        text = text.replace(str(copied), ws.rel(ws.layer))
        findings.append(Finding("edgegenai.bitbake.error", ERROR, path, line, f"{what}: {text}"))
    return findings


def check(ws: Workspace) -> Outcome:
    root = checkout_root(ws)
    if root is None or not root.is_dir():
        return Outcome(skipped="no checkout of the upstream layers: pass --bitbake-root DIR or set "
                               "EDGEGENAI_BITBAKE_ROOT to a directory of <release>/<repo> work trees "
                               "(bitbake, openembedded-core, meta-yocto, ...); BitBake did not run")
    user = run_as(ws)
    if user:
        try:
            pw = pwd.getpwnam(user)
        except KeyError:
            return Outcome([Finding("edgegenai.bitbake.error", ERROR, "bitbake", None,
                                    f"running as root and user '{user}' does not exist; BitBake refuses "
                                    "root: create one (useradd -m bb) or pass --bitbake-user")])
    findings: List[Finding] = []
    notes: List[str] = []
    image = ws.spec.image.name
    targets = [image] + rauc.bundle_recipes(ws.layer)
    ran = 0
    # Each release's patched checkouts, made once and shared by its boards.
    patched_by_release: Dict[str, Dict[str, Path]] = {}
    for board_ref in ws.spec.boards:
        board = ws.catalog.boards[board_ref.name]
        for release in ws.spec.releases:
            if release not in board.releases:
                continue
            combo = f"{board.machine} on {release}"
            release_dir = root / release
            if release not in patched_by_release:
                upstream_dir = build_base(ws) / f"upstream-{release}"
                patched, problems = patch_repos(ws, release, release_dir, upstream_dir)
                findings.extend(Finding("edgegenai.bitbake.error", ERROR, "kas/patches", None,
                                        f"{release}: {p}") for p in problems)
                if user:
                    _chown_tree(upstream_dir, pw.pw_uid, pw.pw_gid)
                patched_by_release[release] = patched
            upstream, missing = layers_for(ws, release_dir, board, patched_by_release[release])
            if missing:
                findings.append(Finding("edgegenai.bitbake.unchecked", INFO, ws.rel(ws.layer), None,
                                        f"{combo} not checked: missing in {root}: {', '.join(missing)}"))
                continue
            variants = [((), "", [])]
            if ws.bitbake_opts:
                conf, layers, absent = "", [], []
                for name in ws.bitbake_opts:
                    more_conf, more_layers, more_absent = opt_fragment(ws, name, release_dir)
                    conf, layers, absent = conf + more_conf, layers + more_layers, absent + more_absent
                if absent:
                    findings.append(Finding("edgegenai.bitbake.unchecked", INFO, ws.rel(ws.layer), None,
                                            f"{combo} with {'+'.join(ws.bitbake_opts)} not checked: missing "
                                            f"{', '.join(absent)}"))
                else:
                    variants.append((ws.bitbake_opts, conf, layers))
            for opts, conf, layers in variants:
                with_opts = f" with kas/opt/{'+'.join(opts)}" if opts else ""
                build = build_base(ws) / f"{release}-{board.machine}{'-' + '+'.join(opts) if opts else ''}"
                build.mkdir(parents=True, exist_ok=True)
                copied = copy_layer(ws, build)
                write_build_dir(build, upstream + [p for p in layers if p not in upstream] + [copied],
                                board.machine, distro(ws), licence_flags(ws), extra_conf(ws) + conf)
                if user:  # only what we wrote; BitBake's own files are the user's already
                    os.chown(build, pw.pw_uid, pw.pw_gid)
                    for part in ("conf", "layers"):
                        _chown_tree(build / part, pw.pw_uid, pw.pw_gid)
                ran += 1
                for args, what in ((["-p"], f"bitbake -p ({combo}{with_opts})"),
                                   (["-g", *targets], f"bitbake -g {' '.join(targets)} ({combo}{with_opts})")):
                    try:
                        run = bitbake(release_dir, build, user, args)
                    except subprocess.TimeoutExpired:
                        findings.append(Finding("edgegenai.bitbake.error", ERROR, ws.rel(ws.layer), None,
                                                f"{what} did not finish within {TIMEOUT} s"))
                        break
                    found = errors(ws, run.stdout + run.stderr, copied, what)
                    if run.returncode != 0 and not found:
                        tail = " | ".join((run.stdout + run.stderr).strip().splitlines()[-5:])
                        found = [Finding("edgegenai.bitbake.error", ERROR, ws.rel(ws.layer), None,
                                         f"{what} exited {run.returncode}: {tail}")]
                    findings.extend(found)
                    if run.returncode != 0:
                        break
                else:
                    notes.append(f"bitbake: {combo}{with_opts}: bitbake -p and -g {' '.join(targets)} "
                                 f"passed ({build})")
    if not ran:
        return Outcome(findings, skipped=f"no board and release could be checked with {root}")
    return Outcome(findings, notes)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for dirpath, dirnames, filenames in os.walk(path):
        os.chown(dirpath, uid, gid)
        for name in filenames:
            full = os.path.join(dirpath, name)
            if not os.path.islink(full):
                os.chown(full, uid, gid)
