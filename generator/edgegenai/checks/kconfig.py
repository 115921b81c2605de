"""Kernel config fragments, checked with kconfiglib against the real kernel Kconfig.

Every kernel `.cfg` fragment the layer ships (in a `linux` recipe folder) is merged onto the architecture's
defconfig (as merge_config.sh does) with kconfiglib, the Python
implementation of the kernel's own Kconfig language, reading a real kernel
tree (see `kernel_tree`).  Then each line of the fragment is judged:

- `edgegenai.kconfig.unknown-symbol`: the kernel has no such option (a typo,
  or an option of another kernel version);
- `edgegenai.kconfig.does-not-stick`: Kconfig would drop the value, with the
  reason named (`CONFIG_DRM_ACCEL_IVPU=m does not stick on arm64: depends on
  X86_64`): an unmet dependency, a select that forces it, no prompt;
- `edgegenai.kconfig.syntax`: a line that is no `CONFIG_X=...` nor
  `# CONFIG_X is not set`;
- `edgegenai.kconfig.unchecked` (info): the fragment could not be checked
  for some board and release, because no kernel tree of that release's
  kernel version (boards.yaml `kernel_versions`, else releases.yaml
  `kernel:`) is available, or the
  architecture's compiler is missing.  Unchecked is never reported as
  passed.

A fragment applies to the boards of the spec whose MACHINE names a
directory on its path (BitBake's FILESOVERRIDES convention,
`files/qemuarm64/x.cfg`) or appends it to its kernel's SRC_URI in a
bbappend (`SRC_URI:append:rock-5b = " file://x.cfg"`), otherwise to every
board; each board's
`kernel_arch` picks the architecture.

kconfiglib 14.1 predates Kconfig syntax that current kernels use: the bare
`modules` attribute (formerly `option modules`), 6.18's `transitional` and
7.x's conditional `depends on A if B`.  `CompatKconfig` rewrites them as the
files are read (`depends on (A) || !(B)` has the same meaning).
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from .kernel_tree import KernelTree, TreeFinder
from .model import ERROR, INFO, Finding, Outcome, Workspace, tool_missing

NAME = "kconfig"
SUMMARY = "kernel config fragments against the kernel's Kconfig (kconfiglib)"
OPT_IN = False

SET = re.compile(r"^CONFIG_([A-Za-z0-9_]+)=(.*)$")
UNSET = re.compile(r"^# CONFIG_([A-Za-z0-9_]+) is not set\s*$")


@dataclass(frozen=True)
class Line:
    number: int
    name: str
    value: str  # as written: y, m, n, "text", 42, 0x10

    @property
    def text(self) -> str:
        return f"CONFIG_{self.name}={self.value}"


def arches() -> dict:
    text = resources.files("edgegenai").joinpath("data", "kconfig", "arches.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def parse_fragment(path: Path) -> Tuple[List[Line], List[Tuple[int, str]]]:
    """The fragment's settings, and the lines that are neither a setting nor a comment."""
    lines, bad = [], []
    for number, raw in enumerate(path.read_text("utf-8", "replace").splitlines(), start=1):
        text = raw.strip()
        match = SET.match(text)
        unset = UNSET.match(text)
        if match:
            lines.append(Line(number, match.group(1), match.group(2)))
        elif unset:
            lines.append(Line(number, unset.group(1), "n"))
        elif text and not text.startswith("#"):
            bad.append((number, raw))
    return lines, bad


def _compat_class():
    import kconfiglib

    class CompatKconfig(kconfiglib.Kconfig):
        """kconfiglib 14.1 reading newer kernels: rewrite the keywords it predates."""

        def _open(self, filename, mode):
            handle = super()._open(filename, mode)
            if "r" not in mode:
                return handle
            with handle:
                text = handle.read()
            text = re.sub(r"(?m)^(\s*)modules\s*$", r"\1option modules", text)
            text = re.sub(r"(?m)^\s*transitional\s*$", "", text)
            # Linux 7.x: `depends on A if B` (a dependency that applies only when B)
            text = re.sub(r"(?m)^([ \t]*depends on[ \t]+)([^#\n]+?)[ \t]+if[ \t]+([^#\n]+?)[ \t]*(#.*)?$",
                          r"\1(\2) || !(\3)", text)
            return io.StringIO(text)

    return CompatKconfig


@contextmanager
def _environment(values: Dict[str, str]):
    """Kconfig reads its settings from the environment; restore it afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class KconfigCache:
    """One parsed Kconfig per (tree, arch): parsing takes seconds, checking a fragment milliseconds."""

    def __init__(self):
        self._loaded = {}

    def get(self, tree: KernelTree, arch: str):
        key = (tree.path, arch)
        if key not in self._loaded:
            self._loaded[key] = load(tree, arch)
        return self._loaded[key]


def compiler_missing(arch: str) -> Optional[str]:
    spec = arches()[arch]
    gcc = spec["cross_compile"] + "gcc"
    if shutil.which(gcc):
        return None
    return f"{gcc} is not installed (Debian: apt-get install {spec['debian_package']})"


def load(tree: KernelTree, arch: str):
    """Parse the tree's Kconfig for `arch` (a boards.yaml kernel_arch)."""
    spec = arches()[arch]
    cross = spec["cross_compile"]
    env = {"srctree": str(tree.path), "SRCARCH": spec["srcarch"], "ARCH": spec["arch"],
           "CC": cross + "gcc", "LD": cross + "ld", "HOSTCC": "gcc", "HOSTCXX": "g++",
           "KERNELVERSION": tree.version, "RUSTC": "rustc", "BINDGEN": "bindgen"}
    with _environment(env):
        kconf = _compat_class()(str(tree.path / "Kconfig"), warn=False)
    return kconf


def judge(kconf, tree: KernelTree, arch: str, path: str, lines: List[Line]) -> List[Finding]:
    """Merge the fragment onto the defconfig and report every line that is unknown or dropped."""
    import kconfiglib
    defconfig = tree.path / arches()[arch]["defconfig"]
    kconf.load_config(str(defconfig))
    for line in lines:
        sym = kconf.syms.get(line.name)
        if sym is not None and sym.nodes:
            sym.set_value(_unquote(line.value) if sym.orig_type == kconfiglib.STRING else line.value)
    where = f"on {arch} (linux {tree.version})"
    findings = []
    for line in lines:
        sym = kconf.syms.get(line.name)
        if sym is None or not sym.nodes:
            findings.append(Finding("edgegenai.kconfig.unknown-symbol", ERROR, path, line.number,
                                    f"CONFIG_{line.name} is not a kernel option {where}: fix the name, "
                                    "or drop it if it belongs to another kernel version"))
            continue
        if _same(sym, line.value):
            continue
        reason = _why(kconf, sym, line.value)
        findings.append(Finding("edgegenai.kconfig.does-not-stick", ERROR, path, line.number,
                                f"{line.text} does not stick {where}: {reason}; "
                                f"Kconfig gives {sym.name}={sym.str_value or 'n'}"))
    return findings


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def _same(sym, wanted: str) -> bool:
    import kconfiglib
    got = sym.str_value
    if sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        return (got or "n") == wanted
    if sym.orig_type == kconfiglib.STRING:
        return got == _unquote(wanted)
    try:
        return int(got, 0) == int(wanted, 0)
    except ValueError:
        return got == wanted


def _why(kconf, sym, wanted: str) -> str:
    """The reason Kconfig overrides the value, in Kconfig's own terms."""
    import kconfiglib
    tri = {"n": 0, "m": 1, "y": 2}
    if sym.orig_type == kconfiglib.BOOL and wanted == "m":
        return f"{sym.name} is a bool, it cannot be m"
    if wanted in ("m", "y") and sym.orig_type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
        need = tri[wanted]
        unmet = [kconfiglib.expr_str(t) for t in kconfiglib.split_expr(sym.direct_dep, kconfiglib.AND)
                 if kconfiglib.expr_value(t) < need]
        if unmet:
            return "depends on " + " && ".join(unmet)
        if wanted == "m" and kconfiglib.expr_value(kconf.modules) == 0:
            return "modules are disabled (CONFIG_MODULES=n)"
        if sym.visibility < need:
            if not any(node.prompt for node in sym.nodes):
                return "it has no prompt: only a `select` from another option sets it"
            conds = [kconfiglib.expr_str(node.prompt[1]) for node in sym.nodes if node.prompt]
            return "its prompt is hidden: needs " + " || ".join(conds)
        if sym.choice is not None:
            return f"it is in a choice where {sym.choice.selection.name if sym.choice.selection else 'another'} is selected"
    if wanted == "n" or (wanted == "m" and sym.tri_value == 2):
        terms = [kconfiglib.expr_str(t) for t in kconfiglib.split_expr(sym.rev_dep, kconfiglib.OR)
                 if kconfiglib.expr_value(t) > tri.get(wanted, 0)]
        if terms:
            more = f" (and {len(terms) - 4} more)" if len(terms) > 4 else ""
            return "selected by " + " || ".join(terms[:4]) + more
    if sym.orig_type in (kconfiglib.INT, kconfiglib.HEX) and sym.ranges:
        return "outside its range " + ", ".join(
            f"[{lo.str_value if hasattr(lo, 'str_value') else lo}, "
            f"{hi.str_value if hasattr(hi, 'str_value') else hi}]" for lo, hi, _ in sym.ranges)
    return "Kconfig overrides it"


def kernel_version(catalog, board, release: str) -> str:
    """The board's kernel on that release (boards.yaml `kernel_versions`), else the release's."""
    per_board = getattr(board, "kernel_versions", None) or {}
    return per_board.get(release) or catalog.releases[release].kernel


def appended_for(ws: Workspace, name: str) -> set:
    """Machines whose kernel gets `name` through a `SRC_URI:append:<machine>` in a bbappend."""
    machines = set()
    for append in ws.layer.rglob("*.bbappend"):
        for line in append.read_text("utf-8", "replace").splitlines():
            match = re.match(r"^SRC_URI:append:([\w.+-]+)\s*\+?=.*file://" + re.escape(name) + r"\b", line)
            if match:
                machines.add(match.group(1))
    return machines


def targets(ws: Workspace, fragment: Path) -> List[Tuple[str, str, str, str]]:
    """(board, release, kernel_arch, kernel version) this fragment is built for."""
    catalog = ws.catalog
    boards = [catalog.boards[b.name] for b in ws.spec.boards]
    parts = set(fragment.relative_to(ws.layer).parts[:-1])
    named = [b for b in boards if b.machine in parts or b.machine in appended_for(ws, fragment.name)]
    out = []
    for board in named or boards:
        for release in ws.spec.releases:
            if release in board.releases:
                out.append((board.name, release, board.kernel_arch, kernel_version(catalog, board, release)))
    return out


def kernel_fragments(ws: Workspace) -> List[Path]:
    """The `.cfg` fragments of kernel recipes (in a `linux` recipe folder): a U-Boot one is not for this."""
    return [f for f in ws.layer_files((".cfg",)) if "linux" in f.relative_to(ws.layer).parts[:-1]]


def check(ws: Workspace) -> Outcome:
    fragments = kernel_fragments(ws)
    if not fragments:
        return Outcome(notes=["kconfig: the layer ships no kernel config fragments"])
    if importlib.util.find_spec("kconfiglib") is None:
        return tool_missing(NAME, "kconfiglib", "pip install 'edgegenai[check]'")
    finder = TreeFinder(ws.kernel_src, ws.kernel_cache)
    cache = KconfigCache()
    findings: List[Finding] = []
    notes: List[str] = []
    for fragment in fragments:
        rel = ws.rel(fragment)
        lines, bad = parse_fragment(fragment)
        for number, raw in bad:
            findings.append(Finding("edgegenai.kconfig.syntax", ERROR, rel, number,
                                    f"not a Kconfig assignment: {raw.strip()!r}; write CONFIG_NAME=value "
                                    "or '# CONFIG_NAME is not set'"))
        seen = set()
        for board, release, arch, version in targets(ws, fragment):
            tree = finder.find(version)
            missing_cc = compiler_missing(arch)
            if tree is None or missing_cc:
                why = missing_cc or (f"no linux {version} tree (have: {', '.join(finder.versions()) or 'none'}); "
                                     f"pass --kernel-src with a linux {version} source tree or tarball")
                findings.append(Finding("edgegenai.kconfig.unchecked", INFO, rel, None,
                                        f"not checked for {board} on {release} (linux {version}, {arch}): {why}"))
                continue
            if (arch, tree.path) in seen:
                continue
            seen.add((arch, tree.path))
            findings.extend(judge(cache.get(tree, arch), tree, arch, rel, lines))
            notes.append(f"kconfig: {rel} checked on {arch} against linux {tree.version} ({tree.path})")
    return Outcome(list(dict.fromkeys(findings)), notes)
