"""`edgegenai boards`: the boards the catalog knows, as a table."""

from __future__ import annotations

import click

from ..catalog import load_catalog


def table(rows, header) -> str:
    """Plain aligned columns: readable in a terminal and in a CI log."""
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip()
             for row in [header, ["-" * w for w in widths]] + rows]
    return "\n".join(lines)


@click.command("boards")
def command():
    """List the known boards, engine backends and accelerators, and what runs where."""
    catalog = load_catalog()
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
                      if any(all(n in b.capabilities_on(r) for n in needs) for r in b.releases)]
            engines.append([engine.name, name, ", ".join(boards) or "-",
                            backend.summary if backend else engine.summary])
    click.echo("")
    click.echo(table(engines, ["ENGINE", "BACKEND", "BOARDS", "WHAT"]))
    accelerators = []
    for acc in sorted(catalog.accelerators.values(), key=lambda a: a.name):
        stack = catalog.stacks[acc.stack]
        where = []
        for board in sorted(catalog.boards.values(), key=lambda b: b.name):
            releases = [r for r in board.releases if all(n in board.capabilities_on(r) for n in acc.needs)
                        and _installable(acc, board, r, catalog)]
            if releases:
                where.append(f"{board.name} ({', '.join(releases)})")
        accelerators.append([acc.name, f"{stack.name} {stack.version}", "; ".join(where) or "-",
                             ", ".join(_packaged(acc, stack, catalog)), acc.summary])
    click.echo("")
    click.echo(table(accelerators, ["ACCELERATOR", "STACK", "BOARDS (RELEASES)", "PACKAGED", "WHAT"]))
    notes = [f"{acc.name}: {acc.runtime_note}" for acc in sorted(catalog.accelerators.values(), key=lambda a: a.name)
             if acc.runtime_note]
    if notes:
        click.echo("")
        click.echo("\n".join(notes))


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
    if acc.mesa_packageconfig:
        out.append("libteflon")
    if acc.interpreter:
        interp = catalog.interpreters[acc.interpreter]
        out.append(f"{interp.recipe} {interp.pv} (Python {', '.join(interp.pythons())})")
    return out
