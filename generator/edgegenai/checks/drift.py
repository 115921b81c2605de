"""Drift: the committed layer and kas files are exactly what the spec renders.

Every other check looks at the files on disk; this one makes sure those
files are the generator's output and not a hand edit that the next
`edgegenai generate` would silently undo.  It renders the spec (`--spec`,
else the one the manifest records, else the built-in one) in memory and
compares with the writer's own plan, file by file; nothing is written.
Finding ids: `edgegenai.drift.stale`, at the first line that differs;
`edgegenai.drift.other-spec` when the files were generated from another spec
than the one checked, `edgegenai.drift.spec-changed` when that spec changed
since.  The fix it suggests always names the spec the files came from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

from .. import writer
from ..render import render
from ..spec import spec_text
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


def _record(ws: Workspace):
    """(finding about the recorded spec or None, the fix every finding suggests)."""
    generate = f"run: edgegenai generate{f' {ws.spec_path}' if ws.spec_path else ''} -o {ws.root}"
    recorded = writer.recorded_spec(ws.root)
    if recorded is None:
        return None, generate  # written without a record (an older version, or a library call)
    checked = writer.SpecRecord.of(ws.spec_path, spec_text(ws.spec_path), ws.root)
    if recorded.path != checked.path:
        # Checked against another spec than the files came from: regenerating
        # from the checked one would replace the layer; say where it came from.
        was = Path(os.path.normpath(ws.root / recorded.path)) if recorded.path else None
        fix = f"check with --spec {was}" if was else "check without --spec"
        message = (f"these files were generated from {was or 'the built-in spec'} and are checked against "
                   f"{ws.spec_path or 'the built-in spec'}; {fix}, or, to render them from the other spec, "
                   f"{generate}")
        return Finding("edgegenai.drift.other-spec", ERROR, writer.MANIFEST, None, message), fix
    if recorded.sha256 != checked.sha256:
        name = ws.spec_path or "the built-in spec"
        return Finding("edgegenai.drift.spec-changed", ERROR, writer.MANIFEST, None,
                       f"{name} changed since these files were generated from it; {generate}"), generate
    return None, generate


def check(ws: Workspace) -> Outcome:
    files = render(ws.spec, ws.catalog)
    record, fix = _record(ws)
    findings: List[Finding] = [record] if record else []
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
