"""`edgegenai catalog [KIND] [--json] [--wide]`: what a spec can name, listed.

Boards, engines, accelerators, models and image features, from the
built-in catalog: a narrow table by default (it fits 80 columns: long
cells are cut with "..."), every column with `--wide`, and JSON for tools
with `--json` (every field of each entry, plus where it can run).  Without
KIND, the kinds and how many of each.
"""

from __future__ import annotations

import json
from typing import Callable, Dict, List

import click

from ..catalog import Catalog, load_catalog
from .boards import _engine_on, _installable, _on, fit, table



def _by_name(entries) -> list:
    return sorted(entries.values(), key=lambda e: e.name)


def _entry(item, cells: List[str], **derived) -> dict:
    """A table row, and the entry's every field plus what is derived from the catalog, for --json."""
    return {"cells": cells, "data": {**item.model_dump(mode="json"), **derived}}


def _board_rows(c: Catalog):
    narrow = ["BOARD", "ARCH", "RELEASES", "RAM"]
    rows = [_entry(b, [b.name, b.arch, ", ".join(b.releases), f"{b.memory_mb // 1024} GiB", b.machine,
                       ", ".join(b.capabilities), "yes" if b.qemu else "no", b.description],
                   engines=[e.name for e in _by_name(c.engines) if _engine_on(b, e, e.needs, c)],
                   accelerators=[a.name for a in _by_name(c.accelerators)
                                 if [r for r in _on(b, a.needs) if _installable(a, b, r, c)]])
            for b in _by_name(c.boards)]
    return narrow, narrow + ["MACHINE", "CAPABILITIES", "QEMU", "DESCRIPTION"], rows


def _devices(e) -> str:
    return ", ".join([e.device] if e.device else [be.device for _, be in sorted(e.backends.items()) if be.device])


def _engine_rows(c: Catalog):
    narrow = ["ENGINE", "INTERFACE", "FORMATS", "RUNS ON"]
    rows = [_entry(e, [e.name, "HTTP API" if e.server else ("service" if e.service else "library"),
                       ", ".join(e.model_formats), _devices(e), ", ".join(sorted(e.backends)) or "-", e.summary],
                   boards=[b.name for b in _by_name(c.boards) if _engine_on(b, e, e.needs, c)])
            for e in _by_name(c.engines)]
    return narrow, narrow + ["BACKENDS", "SUMMARY"], rows


def _accelerator_rows(c: Catalog):
    narrow = ["ACCELERATOR", "VENDOR", "STACK", "BOARDS"]
    rows = []
    for a in _by_name(c.accelerators):
        stack = c.stacks[a.stack]
        boards = {b.name: [r for r in _on(b, a.needs) if _installable(a, b, r, c)] for b in _by_name(c.boards)}
        boards = {name: releases for name, releases in boards.items() if releases}
        rows.append(_entry(a, [a.name, a.vendor, f"{stack.name} {stack.version}", ", ".join(boards), a.serves,
                               a.summary], stack_version=stack.version, boards=boards))
    return narrow, narrow + ["SERVES", "SUMMARY"], rows


def _model_rows(c: Catalog):
    narrow = ["MODEL", "ENGINE", "FORMAT", "SIZE", "LICENCE"]
    rows = [_entry(m, [m.name, m.engine, m.format, _size(m.size), m.license, m.quantization or "-", m.sha256,
                       m.summary]) for m in _by_name(c.models)]
    return narrow, narrow + ["QUANTISATION", "SHA256", "SUMMARY"], rows


def _feature_rows(c: Catalog):
    narrow = ["FEATURE", "SUMMARY"]
    rows = [_entry(f, [f.name, " ".join(f.summary.split()), ", ".join(f.image_features) or "-"])
            for f in _by_name(c.features)]
    return narrow, narrow + ["IMAGE_FEATURES"], rows


KINDS: Dict[str, Callable[[Catalog], tuple]] = {
    "boards": _board_rows, "engines": _engine_rows, "accelerators": _accelerator_rows,
    "models": _model_rows, "features": _feature_rows,
}


def _size(size: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


@click.command("catalog")
@click.argument("kind", required=False, type=click.Choice(sorted(KINDS)))
@click.option("--json", "as_json", is_flag=True, help="Every field of each entry, as JSON.")
@click.option("--wide", is_flag=True, help="Every column, however wide.")
def command(kind, as_json, wide):
    """List what a spec can name: boards, engines, accelerators, models, features."""
    catalog = load_catalog()
    if kind is None:
        counts = {k: len(KINDS[k](catalog)[2]) for k in sorted(KINDS)}
        if as_json:
            click.echo(json.dumps(counts, indent=2))
            return
        click.echo(fit([[k, str(n), f"edgegenai catalog {k}"] for k, n in counts.items()],
                       ["KIND", "ENTRIES", "LIST THEM"]))
        return
    narrow, full, rows = KINDS[kind](catalog)
    if as_json:
        click.echo(json.dumps([r["data"] for r in rows], indent=2, sort_keys=True))
        return
    header = full if wide else narrow
    cells = [r["cells"][:len(header)] for r in rows]
    click.echo(table(cells, header) if wide else fit(cells, header))
