"""`edgegenai catalog [KIND] [--json] [--wide]`: what a spec can name, listed.

Boards, engines, accelerators, models and image features, from the
built-in catalog: a narrow table by default (it fits 80 columns: long
cells are cut with "..."), every column with `--wide`, and JSON for tools
with `--json` (every field of each entry, plus where it can run).  Without
KIND, the kinds and how many of each.
"""

from __future__ import annotations

import json
from typing import Callable, Dict, List, Tuple

import click

from ..catalog import Catalog, load_catalog
from .boards import _engine_on, _installable, _on, fit, table



def _board_rows(c: Catalog) -> Tuple[List[str], List[str], List[dict]]:
    narrow = ["BOARD", "ARCH", "RELEASES", "RAM"]
    wide = narrow + ["MACHINE", "CAPABILITIES", "QEMU", "DESCRIPTION"]
    out = []
    for b in sorted(c.boards.values(), key=lambda b: b.name):
        data = b.model_dump(mode="json")
        data["engines"] = sorted(e.name for e in c.engines.values() if _engine_on(b, e, e.needs, c))
        data["accelerators"] = sorted(a.name for a in c.accelerators.values()
                                      if [r for r in _on(b, a.needs) if _installable(a, b, r, c)])
        out.append({"cells": [b.name, b.arch, ", ".join(b.releases), f"{b.memory_mb // 1024} GiB",
                              b.machine, ", ".join(b.capabilities), "yes" if b.qemu else "no",
                              b.description], "data": data})
    return narrow, wide, out


def _engine_rows(c: Catalog):
    narrow = ["ENGINE", "INTERFACE", "FORMATS", "RUNS ON"]
    wide = narrow + ["BACKENDS", "SUMMARY"]
    out = []
    for e in sorted(c.engines.values(), key=lambda e: e.name):
        devices = [e.device] if e.device else [be.device for _, be in sorted(e.backends.items()) if be.device]
        data = e.model_dump(mode="json")
        data["boards"] = [b.name for b in sorted(c.boards.values(), key=lambda b: b.name)
                          if _engine_on(b, e, e.needs, c)]
        out.append({"cells": [e.name, "HTTP API" if e.server else ("service" if e.service else "library"),
                              ", ".join(e.model_formats), ", ".join(devices),
                              ", ".join(sorted(e.backends)) or "-", e.summary], "data": data})
    return narrow, wide, out


def _accelerator_rows(c: Catalog):
    narrow = ["ACCELERATOR", "VENDOR", "STACK", "BOARDS"]
    wide = narrow + ["SERVES", "SUMMARY"]
    out = []
    for a in sorted(c.accelerators.values(), key=lambda a: a.name):
        stack = c.stacks[a.stack]
        boards = {b.name: [r for r in _on(b, a.needs) if _installable(a, b, r, c)]
                  for b in sorted(c.boards.values(), key=lambda b: b.name)}
        boards = {name: releases for name, releases in boards.items() if releases}
        data = a.model_dump(mode="json")
        data["stack_version"] = stack.version
        data["boards"] = boards
        out.append({"cells": [a.name, a.vendor, f"{stack.name} {stack.version}", ", ".join(boards),
                              a.serves, a.summary], "data": data})
    return narrow, wide, out


def _model_rows(c: Catalog):
    narrow = ["MODEL", "ENGINE", "FORMAT", "SIZE", "LICENCE"]
    wide = narrow + ["QUANTISATION", "SHA256", "SUMMARY"]
    out = []
    for m in sorted(c.models.values(), key=lambda m: m.name):
        out.append({"cells": [m.name, m.engine, m.format, _size(m.size), m.license,
                              m.quantization or "-", m.sha256, m.summary],
                    "data": m.model_dump(mode="json")})
    return narrow, wide, out


def _feature_rows(c: Catalog):
    narrow = ["FEATURE", "SUMMARY"]
    wide = narrow + ["IMAGE_FEATURES"]
    out = [{"cells": [f.name, " ".join(f.summary.split()), ", ".join(f.image_features) or "-"],
            "data": f.model_dump(mode="json")}
           for f in sorted(c.features.values(), key=lambda f: f.name)]
    return narrow, wide, out


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
