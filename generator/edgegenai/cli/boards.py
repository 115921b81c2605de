"""`edgegenai boards`: the boards the catalog knows, and what runs where.

Narrow tables by default (80 columns, long cells cut with "..."); `--wide`
for every column in full; `--json` for tools: each board with what runs
on it (device, releases, kind of model, through what).
"""

from __future__ import annotations

import json
from typing import List

import click

from ..catalog import load_catalog

WIDTH = 80


def table(rows, header) -> str:
    """Plain aligned columns: readable in a terminal and in a CI log."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, ["-" * w for w in widths]] + rows]
    return "\n".join(lines)


def fit(rows: List[List[str]], header: List[str], width: int = WIDTH) -> str:
    """A table no wider than `width`: the widest column is cut first, with "..."."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    while sum(widths) + 2 * (len(widths) - 1) > width:
        i = max(range(len(widths)), key=lambda k: widths[k])
        if widths[i] <= max(len(header[i]), 6):
            break
        widths[i] -= 1
    cut = [[c if len(c) <= w else c[:w - 3] + "..." for c, w in zip(r, widths)] for r in rows]
    return table(cut, header)


@click.command("boards")
@click.option("--wide", is_flag=True, help="Every column in full, however wide.")
@click.option("--json", "as_json", is_flag=True, help="Each board and what runs on it, as JSON.")
def command(wide, as_json):
    """List the known boards, engine backends and accelerators, and what runs where."""
    catalog = load_catalog()
    if as_json:
        runs = _runs_where(catalog)
        click.echo(json.dumps([{"board": b.name, "machine": b.machine, "arch": b.arch, "releases": b.releases,
                                "runs": [{"device": r[1], "releases": r[2].split(", "), "what": r[3], "how": r[4]}
                                         for r in runs if r[0] == b.name]}
                               for b in sorted(catalog.boards.values(), key=lambda b: b.name)], indent=2))
        return
    if not wide:
        rows = [[b.name, b.arch, ", ".join(b.releases), ", ".join(b.capabilities)]
                for b in sorted(catalog.boards.values(), key=lambda b: b.name)]
        click.echo(fit(rows, ["BOARD", "ARCH", "RELEASES", "CAPABILITIES"]))
        click.echo("")
        runs = [[r[0], r[1], r[2], r[4].removeprefix("served over HTTP by ")] for r in _runs_where(catalog)]
        click.echo(fit(runs, ["BOARD", "RUNS ON", "RELEASES", "THROUGH"]))
        click.echo("\n(--wide: every column, and the engines and accelerators tables;\n"
                   " edgegenai catalog: each kind of entry, with --json)")
        return
    rows = [[b.name, b.machine, b.arch, ", ".join(b.releases), ", ".join(b.capabilities),
             "yes" if b.qemu else "no", b.description]
            for b in sorted(catalog.boards.values(), key=lambda b: b.name)]
    click.echo(table(rows, ["BOARD", "MACHINE", "ARCH", "RELEASES", "CAPABILITIES", "QEMU", "DESCRIPTION"]))
    engines = []
    for engine in sorted(catalog.engines.values(), key=lambda e: e.name):
        rows = sorted(engine.backends.items()) or [("-", None)]
        for name, backend in rows:
            needs = engine.needs + (backend.needs if backend else [])
            boards = [b.name for b in sorted(catalog.boards.values(), key=lambda b: b.name)
                      if _engine_on(b, engine, needs, catalog)]
            engines.append([engine.name, name, ", ".join(boards) or "-",
                            backend.summary if backend else engine.summary])
    click.echo("")
    click.echo(table(engines, ["ENGINE", "BACKEND", "BOARDS", "WHAT"]))
    accelerators = []
    for acc in sorted(catalog.accelerators.values(), key=lambda a: a.name):
        stack = catalog.stacks[acc.stack]
        where = []
        for board in sorted(catalog.boards.values(), key=lambda b: b.name):
            releases = [r for r in _on(board, acc.needs) if _installable(acc, board, r, catalog)]
            if releases:
                where.append(f"{board.name} ({', '.join(releases)})")
        accelerators.append([acc.name, f"{stack.name} {stack.version}", "; ".join(where) or "-",
                             ", ".join(_packaged(acc, stack, catalog)), acc.summary])
    click.echo("")
    click.echo(table(accelerators, ["ACCELERATOR", "STACK", "BOARDS (RELEASES)", "PACKAGED", "WHAT"]))
    click.echo("")
    click.echo(table(_runs_where(catalog), ["BOARD", "RUNS ON", "RELEASES", "WHAT", "HOW"]))
    notes = [f"{acc.name}: {acc.runtime_note}" for acc in sorted(catalog.accelerators.values(), key=lambda a: a.name)
             if acc.runtime_note]
    if notes:
        click.echo("")
        click.echo("\n".join(notes))


def _on(board, needs) -> list:
    """The board's releases that have every capability in `needs`."""
    return [r for r in board.releases if all(n in board.capabilities_on(r) for n in needs)]


def _engine_on(board, engine, needs, catalog) -> list:
    """The board's releases that run the engine: its needs, and one of its accelerators if it has any."""
    releases = _on(board, needs)
    if not engine.accelerators:
        return releases
    fits = {r for name in engine.accelerators for r in _on(board, catalog.accelerators[name].needs)
            if _installable(catalog.accelerators[name], board, r, catalog)}
    return [r for r in releases if r in fits]


def _kind(engine) -> str:
    """What kind of model an engine serves: its SBOM type, and the file format."""
    kinds = engine.model_spdx.type if engine.model_spdx and engine.model_spdx.type else ["models"]
    return f"{', '.join(kinds)} ({', '.join(engine.model_formats)})"


def _runs_where(catalog) -> list:
    """Per board: each device that runs models, what it runs and through what.

    An engine's device is its own (`device`) or that of each backend that
    has one (the CPU, a GPU API); an accelerator says what it serves.
    """
    rows = []
    for board in sorted(catalog.boards.values(), key=lambda b: b.name):
        for engine in sorted(catalog.engines.values(), key=lambda e: e.name):
            runs = [(engine.device, engine.needs, engine.name)] if engine.device else []
            runs += [(be.device, engine.needs + be.needs, f"{engine.name} ({name} backend)")
                     for name, be in sorted(engine.backends.items()) if be.device]
            for device, needs, how in runs:
                releases = _engine_on(board, engine, needs, catalog)
                if releases:
                    server = "served over HTTP by " if engine.server else ""
                    rows.append([board.name, device, ", ".join(releases), _kind(engine), server + how])
        for acc in sorted(catalog.accelerators.values(), key=lambda a: a.name):
            releases = [r for r in _on(board, acc.needs) if _installable(acc, board, r, catalog)]
            if releases:
                rows.append([board.name, f"{acc.name} (fitted)", ", ".join(releases), acc.serves,
                             f"{catalog.stacks[acc.stack].name} stack"])
    return rows


def _installable(acc, board, release, catalog) -> bool:
    """Whether the interpreter the accelerator's delegate needs has a wheel there."""
    if not acc.interpreter:
        return True
    return catalog.interpreters[acc.interpreter].installable(catalog.releases[release].python, board.arch)


def _packaged(acc, stack, catalog):
    """What the layer builds for an accelerator: driver, firmware, runtime, interpreter."""
    out = [stack.driver.recipe] if stack.driver else [f"kernel-module-{m.replace('_', '-')}" for m in acc.kernel_modules]
    if stack.firmware:
        out.append(stack.firmware.recipe)
    if stack.runtime:
        out.append(f"{stack.runtime.recipe} {stack.runtime.pv}")
    out.extend(stack.packages)
    if acc.mesa_packageconfig:
        out.append("libteflon")
    if acc.interpreter:
        interp = catalog.interpreters[acc.interpreter]
        out.append(f"{interp.recipe} {interp.pv} (Python {', '.join(interp.pythons())})")
    return out
