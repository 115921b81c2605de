"""BitBake's console output, read line by line into the state of a build.

kas runs BitBake with our pipe as its terminal, so BitBake's knotty UI
prints its plain, non-interactive lines (bitbake/lib/bb/ui/knotty.py):

    NOTE: Running setscene task 12 of 345 (<recipe file>:do_populate_sysroot_setscene)
    NOTE: Running task 1234 of 4567 (<recipe file>:do_compile)
    NOTE: recipe busybox-1.36.1-r0: task do_compile: Started
    NOTE: recipe busybox-1.36.1-r0: task do_compile: Succeeded
    NOTE: Tasks Summary: Attempted 4567 tasks of which 4000 didn't need to be rerun and all succeeded.

The parser keeps counts and the running tasks; the display draws them.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

RUNNING = re.compile(r"^NOTE: Running (setscene |noexec )?task (\d+) of (\d+) \((.*)\)")
TASK = re.compile(r"^NOTE: recipe (\S+): task (\S+): (Started|Succeeded|Failed)")
PARSED = re.compile(r"^Parsing of (\d+) \.bb files complete")
SUMMARY = re.compile(r"^NOTE: Tasks Summary: (.*)")
SSTATE = re.compile(r"^Sstate summary: (.*)")


@dataclass
class BuildState:
    """What a build has done so far, from its output alone."""

    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    recipes_parsed: Optional[int] = None
    setscene: tuple = (0, 0)
    task: tuple = (0, 0)
    done: int = 0
    running: Dict[str, float] = field(default_factory=dict)
    failed: List[str] = field(default_factory=list)
    errors: int = 0
    warnings: int = 0
    summary: Optional[str] = None
    sstate: Optional[str] = None

    def feed(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if m := RUNNING.match(line):
            kind, n, total = m.group(1), int(m.group(2)), int(m.group(3))
            if kind == "setscene ":
                self.phase, self.setscene = "setscene", (n, total)
            else:
                self.phase, self.task = "tasks", (n, total)
        elif m := TASK.match(line):
            key = f"{m.group(1)}:{m.group(2)}"
            if m.group(3) == "Started":
                self.running[key] = time.monotonic()
            else:
                self.running.pop(key, None)
                self.done += 1
                if m.group(3) == "Failed":
                    self.failed.append(key)
        elif m := PARSED.match(line):
            self.phase, self.recipes_parsed = "parsed", int(m.group(1))
        elif line.startswith(("Loading cache", "Parsing recipes")):
            self.phase = "parsing"
        elif m := SUMMARY.match(line):
            self.phase, self.summary = "done", m.group(1)
        elif m := SSTATE.match(line):
            self.sstate = m.group(1)
        elif line.startswith("ERROR:"):
            self.errors += 1
        elif line.startswith("WARNING:"):
            self.warnings += 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def current(self, limit: int = 4) -> List[str]:
        """The longest-running tasks first: those are what a build waits on."""
        return [k for k, _ in sorted(self.running.items(), key=lambda kv: kv[1])][:limit]

    def headline(self) -> str:
        minutes, seconds = divmod(int(self.elapsed), 60)
        parts = [f"{minutes}:{seconds:02d}", self.phase]
        if self.setscene[1]:
            parts.append(f"setscene {self.setscene[0]}/{self.setscene[1]}")
        if self.task[1]:
            parts.append(f"tasks {self.task[0]}/{self.task[1]}")
        if self.errors or self.warnings:
            parts.append(f"{self.errors} errors, {self.warnings} warnings")
        return "  ".join(parts)
