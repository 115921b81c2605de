"""The results of a run as text for people (a table) or for CI (JSON, JUnit XML).

Pure functions from results to text, so the CLI only chooses one and prints.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import List

from .model import ERROR, INFO, WARNING, Result


def exit_code(results: List[Result]) -> int:
    """0 when nothing failed (skipped and unchecked are shown, not failed), 1 otherwise."""
    return 1 if any(r.failed for r in results) else 0


def _table(rows, header) -> List[str]:
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
            for row in [header, ["-" * w for w in widths]] + rows]


def text(results: List[Result]) -> str:
    """Findings first (file:line: severity: message [id]), then notes, then the summary table."""
    out: List[str] = []
    for r in results:
        for f in r.findings:
            out.append(f"{f.location}: {f.severity}: {f.message} [{f.id}]")
    notes = [n for r in results for n in r.notes]
    skipped = [f"{r.check}: skipped: {r.skipped}" for r in results if r.skipped]
    if out:
        out.append("")
    out.extend(notes + skipped)
    if notes or skipped:
        out.append("")
    rows = [[r.check, r.status, r.count(ERROR), r.count(WARNING), r.count(INFO), f"{r.seconds:.1f}s"]
            for r in results]
    total = sum(r.seconds for r in results)
    out.extend(_table(rows, ["CHECK", "STATUS", "ERRORS", "WARNINGS", "INFO", "TIME"]))
    failed = [r.check for r in results if r.failed]
    verdict = f"FAILED: {', '.join(failed)}" if failed else "clean"
    if not failed and any(r.status in ("skipped", "partial") for r in results):
        verdict = "clean, but not everything was checked (see skipped/partial above)"
    out.append(f"edgegenai check: {verdict} ({total:.1f}s)")
    return "\n".join(out) + "\n"


def as_json(results: List[Result]) -> str:
    data = {
        "status": "failed" if exit_code(results) else "passed",
        "checks": [{"check": r.check, "summary": r.summary, "status": r.status,
                    "seconds": round(r.seconds, 3), "skipped": r.skipped, "notes": r.notes,
                    "findings": [f.as_dict() for f in r.findings]} for r in results],
    }
    return json.dumps(data, indent=2) + "\n"


def junit(results: List[Result]) -> str:
    """One testsuite per check, one testcase per finding (a passed check is one passed case)."""
    suites = ET.Element("testsuites", name="edgegenai check")
    for r in results:
        failures = [f for f in r.findings if f.fails]
        suite = ET.SubElement(suites, "testsuite", name=f"edgegenai.{r.check}",
                              tests=str(max(1, len(r.findings))), failures=str(len(failures)),
                              skipped=str(int(bool(r.skipped)) + sum(1 for f in r.findings if not f.fails)),
                              errors="0", time=f"{r.seconds:.3f}")
        if not r.findings:
            case = ET.SubElement(suite, "testcase", classname=f"edgegenai.{r.check}", name=r.check,
                                 time=f"{r.seconds:.3f}")
            if r.skipped:
                ET.SubElement(case, "skipped", message=r.skipped)
        for f in r.findings:
            case = ET.SubElement(suite, "testcase", classname=f.id, name=f.location, file=f.path)
            if f.line:
                case.set("line", str(f.line))
            if f.fails:
                ET.SubElement(case, "failure", message=f.message, type=f.severity).text = \
                    f"{f.location}: {f.message} [{f.id}]"
            else:
                ET.SubElement(case, "skipped", message=f.message)
        if r.notes:
            ET.SubElement(suite, "system-out").text = "\n".join(r.notes)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


FORMATS = {"table": text, "json": as_json, "junit": junit}
