"""Verdicts of one boot test, as lines for a terminal and as JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Result:
    id: str
    title: str
    status: str
    seconds: float
    detail: str = ""

    def line(self) -> str:
        return f"{self.status.upper():4}  {self.id:<16} {self.seconds:6.1f} s  {self.detail}".rstrip()


@dataclass
class Report:
    board: str
    results: List[Result] = field(default_factory=list)
    console_log: Optional[Path] = None
    environment: Optional[Path] = None

    @property
    def ok(self) -> bool:
        # A skip is either behind a failure (a prerequisite failed) or a check
        # this image cannot answer (no metrics endpoint): neither passes a run alone.
        return any(r.status == PASS for r in self.results) and not any(
            r.status == FAIL for r in self.results)

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    def summary(self) -> str:
        counts = {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, SKIP)}
        verdict = "passed" if self.ok else "FAILED"
        return (f"{self.board}: {verdict}: {counts[PASS]} passed, {counts[FAIL]} failed, "
                f"{counts[SKIP]} skipped in {self.seconds:.1f} s")

    def junit(self) -> str:
        """JUnit XML as GitLab, GitHub and Jenkins read it: one testcase per check."""
        suite_name = f"edgegenai.boot.{self.board}"
        suites = ET.Element("testsuites")
        suite = ET.SubElement(suites, "testsuite", name=suite_name, tests=str(len(self.results)),
                              failures=str(sum(r.status == FAIL for r in self.results)),
                              skipped=str(sum(r.status == SKIP for r in self.results)),
                              time=f"{self.seconds:.3f}")
        for r in self.results:
            case = ET.SubElement(suite, "testcase", classname=suite_name, name=r.id,
                                 time=f"{r.seconds:.3f}")
            if r.status == FAIL:
                ET.SubElement(case, "failure", message=r.detail).text = f"{r.title}: {r.detail}"
            elif r.status == SKIP:
                ET.SubElement(case, "skipped", message=r.detail)
        if self.console_log is not None:
            ET.SubElement(suite, "system-out").text = f"console log: {self.console_log}"
        ET.indent(suites)
        return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"

    def write_junit(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.junit(), encoding="utf-8")
