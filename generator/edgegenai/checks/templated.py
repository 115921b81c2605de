"""Templated: the layer's code is code the templates write, never code from a value.

The generator writes BitBake's inline Python and shell functions only from
its templates; values from a spec land in assignments.  A layer whose
metadata holds an inline Python expansion (`${@...}`) or a line of task
shell that no template produces was edited by hand or generated from a
value that broke out of its assignment (an older generator, a patched
one), and is reported even when every other check passes:

- `edgegenai.templated.inline-python`: a `${@...}` expression that no
  template contains;
- `edgegenai.templated.function`: a function (task) whose name no template
  defines;
- `edgegenai.templated.shell`: a line of a function's body that matches no
  line a template writes in a function body.  A template line's `{{ ... }}`
  stands for a value as the escape filters write it in shell: no white
  space, quote, `;`, `|`, `&`, `<`, `>` or backtick.

The expected shapes are read from the templates shipped with the generator,
so a new template line needs no change here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import FrozenSet, List, Pattern, Tuple

from ..render import templates_dir
from .model import ERROR, METADATA_SUFFIXES, Finding, Outcome, Workspace

NAME = "templated"
SUMMARY = "inline Python and task shell only as the templates write them"
OPT_IN = False

INLINE = re.compile(r"\$\{@(?:[^{}]|\{[^{}]*\})*\}")
FUNC_START = re.compile(r"^(?:python\s+|fakeroot\s+)*([A-Za-z_${][A-Za-z0-9_:${}.+-]*)\s*\(\)\s*\{\s*$")
JINJA_VALUE = re.compile(r"\{\{.*?\}\}")
JINJA_BLOCK = re.compile(r"^\s*\{%.*%\}\s*$")
# What a rendered value can look like inside shell (escape filters' output).
VALUE = r"[^\s\"';|&<>`]*"


@lru_cache(maxsize=1)
def template_shapes() -> Tuple[FrozenSet[str], Tuple[Pattern, ...], Tuple[Pattern, ...]]:
    """Inline Python expressions, function-name patterns and body-line patterns of the templates."""
    inline, names, lines = set(), set(), set()
    for path in sorted(templates_dir().rglob("*")):
        if not path.is_file() or not path.name.endswith((".j2", ".bbclass", ".inc", ".bb")):
            continue
        text = path.read_text("utf-8", "replace")
        inline.update(INLINE.findall(text))
        for name, body in _functions(text.splitlines(), jinja=True):
            names.add(_pattern(name))
            lines.update(_pattern(line) for line in body)
    return frozenset(inline), tuple(re.compile(n) for n in sorted(names)), \
        tuple(re.compile(x) for x in sorted(lines))


def _pattern(line: str) -> str:
    parts = JINJA_VALUE.split(line.strip())
    return "^" + f"(?:{VALUE})".join(re.escape(p) for p in parts) + "$"


def _functions(lines: List[str], jinja: bool = False):
    """(name, body lines) of each function; a body ends at a `}` alone at the start of a line."""
    name, body = None, []
    for line in lines:
        if jinja and JINJA_BLOCK.match(line):
            continue
        if name is None:
            m = FUNC_START.match(line)
            if m:
                name, body = m.group(1), []
            continue
        if line.startswith("}"):
            yield name, [b for b in body if b.strip() and not b.strip().startswith("#")]
            name = None
        else:
            body.append(line)


def _numbered_functions(path: Path):
    lines = path.read_text("utf-8", "replace").splitlines()
    name, start = None, 0
    for number, line in enumerate(lines, start=1):
        if name is None:
            m = FUNC_START.match(line)
            if m:
                name, start = m.group(1), number
            continue
        if line.startswith("}"):
            name = None
        elif line.strip() and not line.strip().startswith("#"):
            yield name, start, number, line


def check(ws: Workspace) -> Outcome:
    inline, names, shapes = template_shapes()
    findings: List[Finding] = []
    for path in ws.layer_files(METADATA_SUFFIXES):
        rel = ws.rel(path)
        for number, line in enumerate(path.read_text("utf-8", "replace").splitlines(), start=1):
            for expr in INLINE.findall(line):
                if expr not in inline:
                    findings.append(Finding("edgegenai.templated.inline-python", ERROR, rel, number,
                                            f"inline Python {expr[:60]} is not written by any template; "
                                            "regenerate the layer from its spec"))
        reported = set()
        for name, start, number, line in _numbered_functions(path):
            if not any(p.match(name) for p in names):
                if start not in reported:
                    reported.add(start)
                    findings.append(Finding("edgegenai.templated.function", ERROR, rel, start,
                                            f"function {name} is not written by any template; "
                                            "regenerate the layer from its spec"))
                continue
            if not any(p.match(line.strip()) for p in shapes):
                findings.append(Finding("edgegenai.templated.shell", ERROR, rel, number,
                                        f"shell line in {name} is not written by any template: "
                                        f"{line.strip()[:60]}; regenerate the layer from its spec"))
    return Outcome(findings)
