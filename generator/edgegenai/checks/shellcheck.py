"""ShellCheck on every shell script the layer installs.

A script is a layer file with a `sh`/`bash`/`dash`/`ksh` shebang or a `.sh`
name (recipes and classes are BitBake's, not the shell's, and oelint-adv
covers them).  Scripts are checked as installed (placeholders replaced the
way the recipe's `do_install` does, see `installed`), at shellcheck's
default severity (style): "clean" means no comment at all.  Finding ids are
`edgegenai.shellcheck.SC<code>`; a finding that is wrong for a good reason
is silenced in the template with `# shellcheck disable=SC<code>` and a
comment saying why.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import List

from .installed import installed_text
from .model import ERROR, METADATA_SUFFIXES, WARNING, Finding, Outcome, Workspace, tool_missing, which

NAME = "shellcheck"
SUMMARY = "shellcheck on every shell script in the layer"
OPT_IN = False

SHEBANG = re.compile(r"^#!\s*(?:/usr)?/bin/(?:env\s+)?(sh|bash|dash|ksh)\b")
LEVEL = {"error": ERROR, "warning": WARNING, "info": WARNING, "style": WARNING}


def scripts(ws: Workspace) -> List[Path]:
    out = []
    for path in sorted(ws.layer.rglob("*")) if ws.layer.is_dir() else []:
        if not path.is_file() or path.suffix in METADATA_SUFFIXES:
            continue
        if path.suffix == ".sh":
            out.append(path)
            continue
        with path.open("rb") as f:
            head = f.readline(200).decode("utf-8", "replace")
        if SHEBANG.match(head):
            out.append(path)
    return out


def lint(text: str, shell: str = "") -> List[dict]:
    """shellcheck's comments on one script given as text (json1 format)."""
    args = ["shellcheck", "--format=json1", "--severity=style"]
    if shell:
        args.append(f"--shell={shell}")
    run = subprocess.run(args + ["-"], input=text, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        raise RuntimeError(f"shellcheck exited {run.returncode}: {run.stderr.strip()}")
    return json.loads(run.stdout or "{}").get("comments", [])


def check(ws: Workspace) -> Outcome:
    found = scripts(ws)
    if not found:
        return Outcome(notes=["shellcheck: the layer ships no shell scripts"])
    if not which("shellcheck"):
        return tool_missing(NAME, "shellcheck", "install it (Debian: apt-get install shellcheck)")
    findings = []
    for path in found:
        text = installed_text(path)
        shell = "sh" if path.suffix == ".sh" and not SHEBANG.match(text) else ""
        for c in lint(text, shell):
            findings.append(Finding(
                f"edgegenai.shellcheck.SC{c['code']}", LEVEL.get(c["level"], ERROR), ws.rel(path), c["line"],
                f"{c['message']} (https://www.shellcheck.net/wiki/SC{c['code']}; fix the template, or "
                f"disable SC{c['code']} there with the reason)"))
    return Outcome(findings, notes=[f"shellcheck: {len(found)} script(s)"])
