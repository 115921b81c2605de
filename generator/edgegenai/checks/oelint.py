"""oelint-adv, the BitBake linter, over every file of the layer BitBake reads.

Every `.bb`, `.bbappend`, `.bbclass`, `.inc` and `.conf` is linted once per
release the layer claims in LAYERSERIES_COMPAT (`--release` changes what is
flagged: old override syntax, `${WORKDIR}` against `${UNPACKDIR}`).  Rules
are switched off only through the project's rule file
`data/oelint-suppressions.yaml`, where each suppression carries its reason;
the network rule (HOMEPAGE ping) is one of them, because builders and CI
have no network.  Finding ids put the oelint rule id under `edgegenai.`
(`oelint.vars.autorev` -> `edgegenai.oelint.vars.autorev`).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from importlib import resources
from typing import Dict, List, Tuple

import yaml

from .model import ERROR, WARNING, Finding, Outcome, Workspace, tool_missing, which

NAME = "oelint"
SUMMARY = "oelint-adv on every recipe, class, include and conf, per release"
OPT_IN = False

# Tab-separated: messages may contain colons, never tabs.
FORMAT = "{path}\t{line}\t{severity}\t{id}\t{msg}"
# oelint's own `info` findings still break "lint clean": they fail as warnings.
SEVERITY = {"error": ERROR, "warning": WARNING, "info": WARNING}


def suppressions() -> Dict[str, str]:
    """The project's rule file: oelint rule id -> the written reason it is off."""
    text = resources.files("edgegenai").joinpath("data", "oelint-suppressions.yaml").read_text("utf-8")
    return yaml.safe_load(text) or {}


def known_variables() -> Dict[str, str]:
    """Variables the layer sets on purpose that the linter does not know: name -> who defines it."""
    text = resources.files("edgegenai").joinpath("data", "oelint-known.yaml").read_text("utf-8")
    return yaml.safe_load(text) or {}


def known_machines() -> List[str]:
    """The catalog's MACHINEs: each comes from a BSP layer the linter does not read."""
    from ..catalog import load_catalog
    return sorted({b.machine for b in load_catalog().boards.values()})


def finding_id(rule: str) -> str:
    """oelint.vars.autorev -> edgegenai.oelint.vars.autorev"""
    return "edgegenai.oelint." + rule.removeprefix("oelint.")


def command() -> List[str]:
    exe = which("oelint-adv")
    return [exe] if exe else [sys.executable, "-m", "oelint_adv"]


def lint(files: List[str], release: str, cwd, suppress=None) -> Tuple[List[Tuple[str, int, str, str, str]], str]:
    """Run oelint-adv once; return (path, line, severity, rule, message) rows and unparsed output."""
    args = command() + ["--quiet", "--relpaths", "--release", release, "--messageformat", FORMAT]
    for rule in sorted(suppressions() if suppress is None else suppress):
        args += ["--suppress", rule]
    with tempfile.NamedTemporaryFile("w", suffix=".json") as known:
        json.dump({"variables": {"known": sorted(known_variables())},
                   "replacements": {"machines": known_machines()}}, known)
        known.flush()
        args += [f"--constantmods=+{known.name}"]
        run = subprocess.run(args + files, cwd=cwd, capture_output=True, text=True)
    rows, other = [], []
    for text in (run.stdout + run.stderr).splitlines():
        parts = text.split("\t")
        if len(parts) == 5 and parts[1].isdigit():
            path, line, severity, rule, msg = parts
            rows.append((path, int(line), severity, rule, msg.removesuffix(" [branch:true]")))
        elif text.strip():
            other.append(text)
    if run.returncode != 0 and not rows:
        other.insert(0, f"oelint-adv exited {run.returncode}")
    return rows, "\n".join(other)


def check(ws: Workspace) -> Outcome:
    if not which("oelint-adv") and importlib.util.find_spec("oelint_adv") is None:
        return tool_missing(NAME, "oelint-adv", "pip install 'edgegenai[check]'")
    files = [ws.rel(p) for p in ws.layer_files()]
    if not files:
        return Outcome(skipped=f"no BitBake metadata under {ws.rel(ws.layer)}")
    seen: Dict[Tuple, List[str]] = {}
    findings: List[Finding] = []
    for release in ws.releases:
        rows, trouble = lint(files, release, ws.root)
        if trouble:
            findings.append(Finding("edgegenai.oelint.failed", ERROR, ws.rel(ws.layer), None,
                                    f"oelint-adv --release {release} did not run cleanly: {trouble}"))
        for path, line, severity, rule, msg in rows:
            seen.setdefault((path, line, severity, rule, msg), []).append(release)
    for (path, line, severity, rule, msg), releases in seen.items():
        where = "" if len(releases) == len(ws.releases) else f" (--release {', '.join(releases)})"
        findings.append(Finding(finding_id(rule), SEVERITY.get(severity, ERROR), path, line,
                                f"{msg}{where}; fix the template, or suppress {rule} in "
                                "data/oelint-suppressions.yaml with the reason"))
    return Outcome(findings, notes=[f"oelint: {len(files)} files x releases {', '.join(ws.releases)}; "
                                    f"{len(suppressions())} rules suppressed with reasons"])

