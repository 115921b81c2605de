"""Checks of a generated layer and its kas files, run before anything is built.

Each check lives in its own module of this package and uses the real tool of
its field (oelint-adv, kas's loader and schema, kconfiglib on a kernel tree,
systemd-analyze, shellcheck, BitBake).  A module provides:

    NAME     short name, also the middle part of its finding ids
    SUMMARY  one line for the summary table and `--list`
    OPT_IN   True when the check only runs when asked for (slow or needs a
             checkout of upstream layers)
    check(workspace) -> Outcome

Findings carry a stable id (`edgegenai.<check>.<what>`), a severity, the
`file:line` at fault and a message that says how to fix it.  Errors and
warnings fail the run; `info` findings (for example "this fragment could not
be checked") are shown but never count as passed or failed.  A check that
cannot run at all says why in `Outcome.skipped` instead of passing.

The checks are listed explicitly in `CHECKS`, in the order they run.
"""

from __future__ import annotations

import time
from typing import Iterable, List, Optional, Sequence

from ..errors import UserError
from .model import ERROR, INFO, WARNING, Finding, Outcome, Result, Workspace
from . import bitbake, drift, kasconfig, kconfig, oelint, pins, shellcheck, systemd, templated

CHECKS = (oelint, kasconfig, kconfig, systemd, shellcheck, pins, templated, drift, bitbake)

__all__ = ["CHECKS", "ERROR", "WARNING", "INFO", "Finding", "Outcome", "Result", "Workspace",
           "select", "run"]


def select(only: Sequence[str] = (), skip: Sequence[str] = (), opt_in: Iterable[str] = ()):
    """The check modules to run: the default ones, plus opt-in ones asked for by name."""
    names = [c.NAME for c in CHECKS]
    for name in list(only) + list(skip) + list(opt_in):
        if name not in names:
            raise UserError(f"unknown check '{name}'; known: {', '.join(names)}")
    opt_in = set(opt_in) | set(only)
    chosen = [c for c in CHECKS if (not c.OPT_IN or c.NAME in opt_in)]
    if only:
        chosen = [c for c in chosen if c.NAME in only]
    return [c for c in chosen if c.NAME not in skip]


def run_one(module, workspace: Workspace) -> Result:
    """Run one check and time it; a crash of the tool is the check's finding, not ours."""
    start = time.monotonic()
    outcome = module.check(workspace)
    findings = sorted(outcome.findings, key=Finding.sort_key)
    return Result(module.NAME, module.SUMMARY, findings, time.monotonic() - start,
                  outcome.skipped, list(outcome.notes))


def run(workspace: Workspace, modules: Optional[Sequence] = None) -> List[Result]:
    """Run the given check modules (default: every default check) in order."""
    return [run_one(m, workspace) for m in (modules if modules is not None else select())]
