"""`edgegenai generate [SPEC] [-o DIR] [--check]`: render the layer and kas files.

Without SPEC the built-in default spec is used.  The generator owns the
files it wrote into `meta-edgegenai/` and `kas/` inside DIR, listed in
`DIR/.edgegenai-manifest`: after a run they are exactly what the spec
renders (those it no longer renders are removed).  Any other file in those
directories is yours: it is kept, and listed as kept.  `--check` writes
nothing, prints a diff of what would change and exits 1 when the committed
output is stale, so CI can catch a spec edited without regenerating.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import render, spec as spec_mod, writer


@click.command("generate")
@click.argument("spec_file", metavar="[SPEC]", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_dir", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Directory that receives meta-edgegenai/ and kas/.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 with a diff if the output directory is not up to date.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the summary line.")
def command(spec_file, out_dir, check, quiet):
    """Render meta-edgegenai/ and kas/ from SPEC (default: the built-in spec)."""
    spec = spec_mod.load_spec(spec_file)
    files = render.render(spec)
    record = writer.SpecRecord.of(spec_file, spec_mod.spec_text(spec_file), out_dir)
    if check:
        changes = [c for c in writer.plan(files, out_dir, record)
                   if c.action not in (writer.UNCHANGED, writer.KEEP)]
        if changes:
            click.echo(writer.diff(files, out_dir, record), nl=False)
            command = " ".join(["edgegenai generate"] + ([str(spec_file)] if spec_file else []) + ["-o", str(out_dir)])
            click.echo(f"edgegenai: {len(changes)} file(s) out of date in {out_dir}; run: {command}",
                       err=True)
            sys.exit(1)
        click.echo(f"edgegenai: {len(files) + 1} files up to date in {out_dir}")
        return
    changes = writer.write(files, out_dir, spec=record)
    counts = {}
    for change in changes:
        counts[change.action] = counts.get(change.action, 0) + 1
        if not quiet and change.action != writer.UNCHANGED:
            click.echo(f"{change.action:>9}  {change.path}")
    summary = ", ".join(f"{counts.get(a, 0)} {a}" for a in
                        (writer.CREATE, writer.UPDATE, writer.UNCHANGED, writer.REMOVE))
    if counts.get(writer.KEEP):
        summary += f"; {counts[writer.KEEP]} of your own kept"
    click.echo(f"edgegenai: {summary} in {out_dir}")
