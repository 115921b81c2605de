"""`edgegenai build BOARD [--release R] [--opt debug,...] [--container]`: build the image.

Runs `kas build kas/<board>.yml[:kas/opt/<release>.yml][:kas/opt/<opt>.yml]`
(`kas-container build` with --container) from the repository holding
`kas/` and `meta-edgegenai/`.  Downloads, shared state and hash
equivalence are shared the BitBake way: DL_DIR, SSTATE_DIR, SSTATE_MIRRORS,
BB_HASHSERVE and BB_HASHSERVE_UPSTREAM from the environment, or the flags
below, which kas passes to BitBake.  The host is checked first (kas, a
non-root user, disk space).

While BitBake runs, a live display shows tasks done and total, the tasks
running and the time; the whole output goes to `build/edgegenai-build.log`.
At the end the image files, their sizes and the SBOM are listed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..builder import artefacts, host, invocation, runner
from ..builder.progress import BuildState
from .. import licences
from ..catalog import load_catalog
from ..spec import load_spec


def _live(state: BuildState):
    """A rich live view on a terminal; None when output is a log (CI)."""
    from rich.console import Console, Group
    from rich.live import Live
    from rich.progress_bar import ProgressBar
    from rich.text import Text

    console = Console(stderr=True)
    if not console.is_terminal:
        return None, None

    def view():
        done, total = state.task if state.task[1] else state.setscene
        rows = [Text(state.headline(), style="bold"),
                ProgressBar(total=max(total, 1), completed=done, width=60)]
        rows += [Text(f"  {t}") for t in state.current()]
        return Group(*rows)

    live = Live(view(), console=console, refresh_per_second=4, transient=True)
    return live, lambda _line: live.update(view())


def build_options(function):
    """The options `build` and `bundle` share, on `function`."""
    for option in reversed(OPTIONS):
        function = option(function)
    return function


OPTIONS = [
    click.option("--release", help="Yocto release (a kas/opt/<release>.yml) instead of the default."),
    click.option("--opt", "opts", default="", metavar="A,B",
                 help="Option fragments from kas/opt/, comma-separated (e.g. debug)."),
    click.option("--container", is_flag=True, help="Build in kas's container (kas-container)."),
    click.option("--dl-dir", help="Shared download directory (DL_DIR)."),
    click.option("--sstate-dir", help="Shared state directory (SSTATE_DIR)."),
    click.option("--sstate-mirrors", help="Shared state mirrors (SSTATE_MIRRORS), e.g. "
                 "'file://.* https://sstate.example.com/PATH;downloadfilename=PATH'."),
    click.option("--hashserve", help="Hash equivalence server host:port (BB_HASHSERVE_UPSTREAM; "
                 "BB_HASHSERVE becomes 'auto')."),
    click.option("--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
                 show_default=True, help="Repository holding kas/ and meta-edgegenai/."),
    click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path),
                 help="Spec the kas files were generated from (image name) [default: built-in]."),
    click.option("--min-free-gb", type=click.IntRange(min=0), default=host.MIN_FREE_GB,
                 show_default=True, help="Disk space the host check asks for."),
]


@click.command("build")
@click.argument("board")
@build_options
def command(board, release, opts, container, dl_dir, sstate_dir, sstate_mirrors, hashserve,
            repo, spec_file, min_free_gb):
    """Build BOARD's image with kas, with a live progress display."""
    spec = load_spec(spec_file)
    run_build(board, release, opts, container, dl_dir, sstate_dir, sstate_mirrors, hashserve,
              repo, spec, min_free_gb)


def run_build(board, release, opts, container, dl_dir, sstate_dir, sstate_mirrors, hashserve,
              repo, spec, min_free_gb, targets=(), collect=None):
    """Run kas for BOARD (its image, or `targets`), then list what `collect` finds in the deploy directory."""
    catalog = load_catalog()
    shared = {"DL_DIR": dl_dir, "SSTATE_DIR": sstate_dir, "SSTATE_MIRRORS": sstate_mirrors}
    if hashserve:
        shared.update(BB_HASHSERVE="auto", BB_HASHSERVE_UPSTREAM=hashserve)
    needed = tuple(t.flag for t in licences.for_board(spec, catalog, board))
    inv = invocation.plan(catalog, board, repo.absolute(), release=release,
                          opts=tuple(o for o in opts.split(",") if o), container=container,
                          shared=shared, licence_flags=needed, targets=tuple(targets))
    host.check(inv.build_dir, container=container, min_free_gb=min_free_gb)
    log_path = inv.build_dir / "edgegenai-build.log"
    click.echo(f"edgegenai: {' '.join(inv.argv)}  (log: {log_path})")
    for key, value in inv.shared.items():
        click.echo(f"  {key}={value}")
    state = BuildState()
    live, update = _live(state)
    if live is None:
        code = runner.run(inv, log_path, state)
    else:
        with live:
            code = runner.run(inv, log_path, state, on_line=update)
    click.echo(f"edgegenai: {state.headline()}")
    if state.summary:
        click.echo(f"  {state.summary}")
    if state.sstate:
        click.echo(f"  sstate: {state.sstate}")
    if code != 0:
        for failed in state.failed:
            click.echo(f"  failed: {failed}")
        click.echo(f"edgegenai: build failed (exit {code}); full log: {log_path}", err=True)
        sys.exit(1)
    deploy = artefacts.deploy_dir(catalog.boards[board], inv.build_dir)
    found = (collect or (lambda d: artefacts.collect(d, catalog.boards[board], spec.image.name)))(deploy)
    click.echo(f"edgegenai: artefacts in {deploy}:" if found else
               f"edgegenai: no artefacts found in {deploy}")
    for art in found:
        click.echo(f"  {art.kind:<8} {artefacts.human(art.size):>10}  {art.path.name}")
    if not targets and not any(a.kind == "sbom" for a in found):
        click.echo("  (no SBOM: the distro's create-spdx class writes one)")
    click.echo(f"edgegenai: full log: {log_path}")
