"""systemd units: `systemd-analyze verify`, and each service's exposure score.

Every unit the layer ships is checked as installed: placeholders are
replaced the way its recipe's `do_install` does (see `installed`), and the
unit is put into a throw-away root (`--root=`) that holds the host's own
units (for `sysinit.target` and friends) and a stub executable for each
absolute `Exec*=` path, because `verify` refuses a unit whose binary is
missing and the binaries come from other recipes.  Only the layer's units
are judged (`--recursive-errors=no`).

Each service is then scored with `systemd-analyze security --offline=true`;
the score is printed, and a service scoring above EXPOSURE_LIMIT ("OK" in
systemd's own words) fails, listing the sandboxing directives that would
lower it most.  Every service this layer ships runs an inference engine or
helps one, so the limit applies to all of them.

Finding ids: `edgegenai.systemd.verify`, `edgegenai.systemd.exposure`,
`edgegenai.systemd.placeholder`.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional, Tuple

from .installed import installed_text, leftover_placeholders
from .model import ERROR, Finding, Outcome, Workspace, tool_missing, which

NAME = "systemd"
SUMMARY = "systemd-analyze verify on every unit; security exposure of each service <= 2.0"
OPT_IN = False

EXPOSURE_LIMIT = 2.0
UNIT_SUFFIXES = (".service", ".socket", ".timer", ".path", ".mount", ".automount",
                 ".swap", ".target", ".slice")
UNIT_DIR = "usr/lib/systemd/system"
HOST_UNIT_DIRS = (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
EXEC = re.compile(r"^\s*Exec[A-Za-z]*\s*=\s*[-@:+!|]*(/\S+)", re.M)
OVERALL = re.compile(r"Overall exposure level for (\S+): ([0-9.]+) (\S+)")


def units(ws: Workspace) -> List[Path]:
    return ws.layer_files(UNIT_SUFFIXES)


def make_root(base: Path, layer_units: List[Tuple[Path, str]]) -> Path:
    """A root with the host's units, the layer's units as installed, and stub binaries."""
    root = base / "root"
    unit_dir = root / UNIT_DIR
    for host in HOST_UNIT_DIRS:
        if host.is_dir() and not unit_dir.exists():
            shutil.copytree(host, unit_dir, symlinks=True)
    unit_dir.mkdir(parents=True, exist_ok=True)
    for path, text in layer_units:
        (unit_dir / path.name).write_text(text, encoding="utf-8")
        for exe in EXEC.findall(text):
            stub = root / exe.lstrip("/")
            if not stub.exists():
                stub.parent.mkdir(parents=True, exist_ok=True)
                stub.write_text("#!/bin/sh\n")
                stub.chmod(0o755)
    return root


def verify(ws: Workspace, root: Path, unit: Path) -> List[Finding]:
    run = subprocess.run(["systemd-analyze", "verify", "--man=no", "--recursive-errors=no",
                          f"--root={root}", unit.name], capture_output=True, text=True)
    rel = ws.rel(unit)
    installed = str(root / UNIT_DIR / unit.name)
    findings = []
    for text in dict.fromkeys((run.stderr + run.stdout).splitlines()):
        if not text.strip():
            continue
        line = None
        match = re.match(re.escape(installed) + r":(\d+): (.*)", text)
        if match:
            line, text = int(match.group(1)), match.group(2)
        else:
            text = text.removeprefix(f"{unit.name}: ")
        findings.append(Finding("edgegenai.systemd.verify", ERROR, rel, line,
                                f"systemd-analyze verify: {text}"))
    if run.returncode != 0 and not findings:
        findings.append(Finding("edgegenai.systemd.verify", ERROR, rel, None,
                                f"systemd-analyze verify exited {run.returncode}"))
    return findings


def exposure(root: Path, unit: Path) -> Tuple[Optional[float], str, List[str]]:
    """systemd's overall exposure score and label, and the unset directives that weigh most.

    No score (None) when systemd cannot load the unit; the label then says why.
    """
    base = ["systemd-analyze", "security", "--offline=true", "--no-pager", f"--root={root}"]
    run = subprocess.run(base + [unit.name], capture_output=True, text=True)
    match = OVERALL.search(run.stdout)
    if not match:
        return None, (run.stderr.strip().splitlines() or ["no score printed"])[-1], []
    tests = json.loads(subprocess.run(base + ["--json=short", unit.name], capture_output=True,
                                      text=True).stdout or "[]")
    unset = [t for t in tests if t.get("set") is False and t.get("exposure")]
    unset.sort(key=lambda t: (-float(t["exposure"]), t["name"]))
    worst = [f"{t['name']} ({t['description']}, {t['exposure']})" for t in unset[:6]]
    return float(match.group(2)), match.group(3), worst


def check(ws: Workspace) -> Outcome:
    found = units(ws)
    if not found:
        return Outcome(notes=["systemd: the layer ships no units"])
    if not which("systemd-analyze"):
        return tool_missing(NAME, "systemd-analyze", "install systemd (Debian: apt-get install systemd)")
    findings: List[Finding] = []
    notes: List[str] = []
    layer_units = []
    for unit in found:
        text = installed_text(unit)
        left = leftover_placeholders(text)
        if left:
            findings.append(Finding("edgegenai.systemd.placeholder", ERROR, ws.rel(unit), None,
                                    f"placeholders {', '.join('@%s@' % p for p in left)} are not "
                                    "replaced by the recipe's do_install (sed -e 's,@NAME@,${var},g')"))
        layer_units.append((unit, text))
    with tempfile.TemporaryDirectory(prefix="edgegenai-systemd-") as tmp:
        root = make_root(Path(tmp), layer_units)
        for unit in found:
            findings.extend(verify(ws, root, unit))
            if unit.suffix != ".service":
                continue
            score, label, worst = exposure(root, unit)
            if score is None:
                findings.append(Finding("edgegenai.systemd.exposure", ERROR, ws.rel(unit), None,
                                        f"systemd-analyze security cannot score {unit.name}: {label}"))
                continue
            notes.append(f"{unit.name}: exposure {score:.1f} {label} (limit {EXPOSURE_LIMIT:.1f})")
            if score > EXPOSURE_LIMIT:
                findings.append(Finding(
                    "edgegenai.systemd.exposure", ERROR, ws.rel(unit), None,
                    f"systemd-analyze security scores {unit.name} {score:.1f} {label}, above "
                    f"{EXPOSURE_LIMIT:.1f}; set the directives that weigh most: " + "; ".join(worst)))
    return Outcome(findings, notes)
