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
    """List the known boards: MACHINE, architecture, releases, capabilities."""
    catalog = load_catalog()
    rows = [[b.name, b.machine, b.arch, ", ".join(b.releases), ", ".join(b.capabilities),
             "yes" if b.qemu else "no", b.description]
            for b in sorted(catalog.boards.values(), key=lambda b: b.name)]
    click.echo(table(rows, ["BOARD", "MACHINE", "ARCH", "RELEASES", "CAPABILITIES", "QEMU", "DESCRIPTION"]))
    engines = []
    for engine in sorted(catalog.engines.values(), key=lambda e: e.name):
        for name, backend in sorted(engine.backends.items()):
            boards = [b.name for b in sorted(catalog.boards.values(), key=lambda b: b.name)
                      if all(n in b.capabilities for n in backend.needs)]
            engines.append([engine.name, name, ", ".join(boards) or "-", backend.summary])
    click.echo("")
    click.echo(table(engines, ["ENGINE", "BACKEND", "BOARDS", "WHAT"]))
