"""Reading a spec file: bytes to plain data, refusing what a spec never is.

A spec is a page of UTF-8 YAML.  Before any field is looked at, the file
must be small (`MAX_BYTES`), valid UTF-8 (a UTF-16 or binary file is named
as such, not decoded into nonsense), shallow (`MAX_DEPTH`: YAML nested
thousands deep would exhaust the parser's stack), without anchors and
aliases (a few lines of aliases can expand into gigabytes), and without
duplicate keys (YAML would silently keep the last one, so the spec would
not say what its author sees).  Each refusal is one line naming the file
and, where there is one, the line.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import SpecError

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, duplicate keys and deep nesting."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark, "anchors and aliases (*name) are not allowed in a spec; "
                                             "write the value out")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise _Refused(event.start_mark, "anchors (&name) are not allowed in a spec; write the value out")
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested deeper than {MAX_DEPTH} levels; a spec is never that deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:
                raise _Refused(key_node.start_mark, "a mapping key must be a plain value") from None
            if first is not key_node:
                raise _Refused(key_node.start_mark, f"key {_show(key)} appears twice in one mapping "
                                                    f"(first on line {first.start_mark.line + 1})")
        return super().construct_mapping(node, deep)


class _Refused(yaml.YAMLError):
    def __init__(self, mark, problem: str):
        super().__init__(problem)
        self.problem_mark, self.problem = mark, problem


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:36] + "...'"


def decode(data: bytes, source: str) -> str:
    """The spec's text: UTF-8 (a BOM is allowed), nothing else."""
    if len(data) > MAX_BYTES:
        raise SpecError(f"{source}: larger than {MAX_BYTES} bytes; a spec is a page of YAML")
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise SpecError(f"{source}: the file is UTF-16; save it as UTF-8")
    if b"\x00" in data:
        raise SpecError(f"{source}: the file holds NUL bytes: not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise SpecError(f"{source}:{line}: not valid UTF-8 (byte {data[err.start]:#04x}); "
                        "a spec is UTF-8 text") from None


def parse(text: str, source: str) -> Any:
    """YAML text to plain data, with the refusals above."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        if isinstance(err, _Refused):
            raise SpecError(f"{where}: {err.problem}") from None
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise SpecError(f"{where}: not valid YAML: {' '.join(str(problem).split())}") from None
    except RecursionError:
        raise SpecError(f"{source}: nested too deeply to read") from None
