"""Drift: the committed layer and kas files are exactly what the spec renders.

Every other check looks at the files on disk; this one makes sure those
files are the generator's output and not a hand edit that the next
`edgegenai generate` would silently undo.  It renders the spec (the built-in
one, or `--spec`) in memory and compares with the writer's own plan, file by
file; nothing is written.  Finding id: `edgegenai.drift.stale`, at the first
line that differs.
"""

from __future__ import annotations

from typing import List, Optional

from .. import writer
from ..render import render
from .model import ERROR, Finding, Outcome, Workspace

NAME = "drift"
SUMMARY = "committed meta-edgegenai/ and kas/ equal what the spec renders"
OPT_IN = False


def first_difference(old: str, new: str) -> Optional[int]:
    old_lines, new_lines = old.splitlines(), new.splitlines()
    for number, (a, b) in enumerate(zip(old_lines, new_lines), start=1):
        if a != b:
            return number
    if len(old_lines) != len(new_lines):
        return min(len(old_lines), len(new_lines)) + 1
    return 1 if old != new else None


def check(ws: Workspace) -> Outcome:
    files = render(ws.spec, ws.catalog)
    spec = f" {ws.spec_file}" if ws.spec_file else ""
    fix = f"run: edgegenai generate{spec} -o {ws.root}"
    findings: List[Finding] = []
    for change in writer.plan(files, ws.root):
        if change.action in (writer.UNCHANGED, writer.KEEP) or change.path == writer.MANIFEST:
            continue  # a file of the user's own, or the writer's bookkeeping
        if change.action == writer.UPDATE:
            old = (ws.root / change.path).read_text("utf-8", "replace")
            line = first_difference(old, files[change.path])
            what = "differs from what the spec renders"
        elif change.action == writer.CREATE:
            line, what = None, "is missing: the spec renders it"
        else:
            line, what = None, "was generated but the spec no longer renders it (a leftover)"
        findings.append(Finding("edgegenai.drift.stale", ERROR, change.path, line, f"{what}; {fix}"))
    return Outcome(findings)
