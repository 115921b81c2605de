"""Pins: every source the layer fetches is fixed, so a build is the same build tomorrow.

A recipe that floats is caught here in a second instead of by a fetch
failure (or a silent change) an hour into a build:

- `edgegenai.pins.autorev`: `${AUTOREV}` anywhere (BitBake runs
  `git ls-remote` while parsing: it fails offline and is never reproducible);
- `edgegenai.pins.network-task`: a `do_<task>[network] = "1"` flag, which
  lets a task reach the network outside the fetcher;
- `edgegenai.pins.srcrev`: a git SRC_URI without a 40-hex SRCREV
  (`SRCREV`, or `SRCREV_<name>` for a `name=`), or without `branch=` or
  `nobranch=1` (BitBake then assumes `master`);
- `edgegenai.pins.sha256`: a remote file that is not git without
  `SRC_URI[sha256sum]` (or `SRC_URI[<name>.sha256sum]`).
- `edgegenai.pins.md5-only` (info, shown but not failing): a remote file pinned by md5 only,
  allowed where its vendor publishes no sha256 and the recipe says so in a
  `# nooelint: oelint.vars.srcurichecksum - <reason>` line above SRC_URI.

Variables are read from the recipe itself and from the `.inc` files it
`require`s or `include`s from its own directory.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Tuple

from .model import ERROR, INFO, METADATA_SUFFIXES, Finding, Outcome, Workspace

NAME = "pins"
SUMMARY = "no AUTOREV or network tasks; git by 40-hex SRCREV, files by sha256"
OPT_IN = False

SHA1 = re.compile(r"^[0-9a-f]{40}$")
ASSIGN = re.compile(r'^\s*(?:export\s+)?([A-Za-z0-9_${}.:/+-]+?)(\[[^\]]+\])?\s*'
                    r'(\?\?=|\?=|:=|\+=|=\+|\.=|=\.|=)\s*"(.*)"\s*$', re.S)
NETWORK = re.compile(r"^\s*do_\w+\[network\]\s*=")
GIT = ("git://", "gitsm://")
REMOTE = ("http://", "https://", "ftp://", "sftp://", "s3://", "gs://", "az://", "npm://", "crate://")


def logical_lines(path: Path) -> List[Tuple[int, str]]:
    """(first line number, text) with backslash continuations joined and comments dropped."""
    out, buf, start = [], "", 0
    for number, raw in enumerate(path.read_text("utf-8", "replace").splitlines(), start=1):
        if not buf and raw.lstrip().startswith("#"):
            continue
        if not buf:
            start = number
        if raw.endswith("\\"):
            buf += raw[:-1] + " "
            continue
        out.append((start, buf + raw))
        buf = ""
    if buf:
        out.append((start, buf))
    return out


def _with_includes(path: Path) -> List[Path]:
    files = [path]
    for _, text in logical_lines(path):
        match = re.match(r"^\s*(?:require|include)\s+(\S+)", text)
        if match and "$" not in match.group(1):
            inc = path.parent / match.group(1)
            if inc.is_file() and inc not in files:
                files.append(inc)
    return files


def check_file(ws: Workspace, path: Path) -> List[Finding]:
    rel = ws.rel(path)
    findings: List[Finding] = []
    variables: Dict[str, str] = {}
    src_uri: List[Tuple[Path, int, str]] = []
    for source in _with_includes(path):
        for number, text in logical_lines(source):
            if "AUTOREV" in text and source == path:
                findings.append(Finding("edgegenai.pins.autorev", ERROR, rel, number,
                                        "AUTOREV floats to the branch head and needs the network "
                                        "while parsing; pin SRCREV to a 40-hex commit"))
            if NETWORK.match(text) and source == path:
                findings.append(Finding("edgegenai.pins.network-task", ERROR, rel, number,
                                        "a task with network access escapes the fetcher's pinning "
                                        "and fails offline; fetch in SRC_URI with a checksum instead"))
            match = ASSIGN.match(text)
            if not match:
                continue
            var, flag, op, value = match.groups()
            if flag:
                variables[f"{var}{flag}"] = value
            elif var.split(":")[0] == "SRC_URI":
                for entry in value.split():
                    src_uri.append((source, number, entry))
            else:
                variables[var] = value
    for source, number, entry in src_uri:
        if source != path:
            continue  # reported on the .inc itself when it is checked
        params = dict(p.split("=", 1) for p in entry.split(";")[1:] if "=" in p)
        name = params.get("name")
        if entry.startswith(GIT):
            key = f"SRCREV_{name}" if name else "SRCREV"
            srcrev = variables.get(key) or variables.get("SRCREV", "")
            if not SHA1.match(srcrev):
                findings.append(Finding("edgegenai.pins.srcrev", ERROR, rel, number,
                                        f"git source {entry.split(';')[0]} has no 40-hex {key} "
                                        f"(got {srcrev!r}); set {key} = \"<full commit sha>\""))
            if "branch" not in params and params.get("nobranch") != "1":
                findings.append(Finding("edgegenai.pins.srcrev", ERROR, rel, number,
                                        f"git source {entry.split(';')[0]} names no branch: add "
                                        "`;branch=<branch holding SRCREV>` or `;nobranch=1` for a tag"))
        elif entry.startswith(REMOTE):
            flag = f"SRC_URI[{name}.sha256sum]" if name else "SRC_URI[sha256sum]"
            if re.match(r"^[0-9a-f]{64}$", variables.get(flag, "")):
                continue
            md5 = variables.get(flag.replace("sha256sum", "md5sum"), "")
            reason = waiver(path, number)
            if re.match(r"^[0-9a-f]{32}$", md5) and reason:
                findings.append(Finding("edgegenai.pins.md5-only", INFO, rel, number,
                                        f"remote file {entry.split(';')[0]} is pinned by md5 only "
                                        f"({reason}); replace it with {flag} once one is published"))
            else:
                findings.append(Finding("edgegenai.pins.sha256", ERROR, rel, number,
                                        f"remote file {entry.split(';')[0]} is not pinned: "
                                        f"set {flag} = \"<64-hex sha256>\""))
    return findings


WAIVER = re.compile(r"^#\s*nooelint:\s*oelint\.vars\.srcurichecksum\s*-\s*(\S.*)$")


def waiver(path: Path, number: int) -> str:
    """The written reason in the `# nooelint: oelint.vars.srcurichecksum - reason`
    comment right above line `number` (the SRC_URI assignment), or ""."""
    lines = path.read_text("utf-8", "replace").splitlines()
    index = number - 2
    while index >= 0 and lines[index].lstrip().startswith("#"):
        match = WAIVER.match(lines[index].strip())
        if match:
            return match.group(1).strip()
        index -= 1
    return ""


def check(ws: Workspace) -> Outcome:
    findings: List[Finding] = []
    for path in ws.layer_files(METADATA_SUFFIXES):
        findings.extend(check_file(ws, path))
    return Outcome(findings)
