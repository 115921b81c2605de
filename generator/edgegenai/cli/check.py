"""`edgegenai check [DIR]`: is the generated layer right, before an hour-long build says it is not?

Runs the real tools of the field over `meta-edgegenai/` and `kas/` in DIR
(default: the current directory) and prints every finding as
`file:line: severity: message [id]`, then a table of checks with their
findings and time:

\b
  oelint      oelint-adv on every .bb/.bbappend/.bbclass/.inc/.conf, per release
  kas         kas's loader and schema; each board file with each option; pins
  kconfig     kernel .cfg fragments with kconfiglib on a real kernel tree
  systemd     systemd-analyze verify; security exposure of services <= 2.0
  shellcheck  shellcheck on the layer's shell scripts
  pins        no AUTOREV or network tasks; SRCREV 40-hex; sha256 for files
  drift       the committed files equal what the spec renders
  bitbake     (--bitbake) bitbake -p and -g <image> per board x release, offline

Exit status: 0 clean, 1 findings, 2 usage error.  A check that could not run
(no kernel tree for a release's kernel version, no BitBake checkout) is
shown as skipped or partial, never as passed; a missing tool is an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import checks
from ..checks import report
from ..errors import UserError
from ..render import KAS, LAYER


@click.command("check", help=__doc__, short_help="Check the layer and kas files with the tools of the field.")
@click.argument("directory", metavar="[DIR]", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Spec the layer was rendered from (default: the one `edgegenai generate` recorded "
                   "in DIR/.edgegenai-manifest, else the built-in spec); used by drift, kconfig and bitbake.")
@click.option("--format", "fmt", type=click.Choice(sorted(report.FORMATS)), default="table",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report there (the table still goes to stdout).")
@click.option("--only", multiple=True, metavar="CHECK", help="Run only this check (repeatable).")
@click.option("--skip", multiple=True, metavar="CHECK", help="Do not run this check (repeatable).")
@click.option("--kernel-src", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Kernel source tree or tarball for the kconfig check (repeatable; one per "
                   "kernel version).  Default: the cache, then /usr/src/linux-source-*.tar.xz.")
@click.option("--kernel-cache", type=click.Path(file_okay=False, path_type=Path),
              help="Where extracted Kconfig trees are kept (default ~/.cache/edgegenai/kernel).")
@click.option("--bitbake", "with_bitbake", is_flag=True,
              help="Also parse with real BitBake (needs --bitbake-root or EDGEGENAI_BITBAKE_ROOT).")
@click.option("--bitbake-root", type=click.Path(file_okay=False, path_type=Path),
              help="Directory of <release>/<repo> upstream checkouts (bitbake, openembedded-core, ...).")
@click.option("--bitbake-build-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where BitBake build directories are kept between runs (default <tmp>/edgegenai-bitbake).")
@click.option("--bitbake-user", metavar="USER", help="Unprivileged user for BitBake when run as root (default bb).")
@click.option("--bitbake-opt", "bitbake_opts", multiple=True, metavar="NAME",
              help="Also resolve the graph with kas/opt/NAME.yml applied (its local.conf lines and "
                   "layers), e.g. debug; repeat to apply several together.")
@click.option("--list", "list_checks", is_flag=True, help="List the checks and exit.")
def command(directory, spec_file, fmt, output, only, skip, kernel_src, kernel_cache, with_bitbake,
            bitbake_root, bitbake_build_dir, bitbake_user, bitbake_opts, list_checks):
    """Check the generated layer and kas files with oelint-adv, kas, kconfiglib, systemd-analyze,
    shellcheck and (with --bitbake) BitBake."""
    if list_checks:
        for module in checks.CHECKS:
            click.echo(f"{module.NAME:<11} {module.SUMMARY}{'  (opt-in)' if module.OPT_IN else ''}")
        return
    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    if not (directory / LAYER).is_dir() and not (directory / KAS).is_dir():
        raise UserError(f"{directory}: holds neither {LAYER}/ nor {KAS}/; run `edgegenai generate` "
                        "there first, or name the directory that holds them")
    modules = checks.select(only, skip, ["bitbake"] if with_bitbake or bitbake_root else [])
    workspace = checks.Workspace(
        root=directory, spec_file=spec_file, kernel_src=tuple(kernel_src), kernel_cache=kernel_cache,
        bitbake_root=bitbake_root, bitbake_build_dir=bitbake_build_dir, bitbake_user=bitbake_user,
        bitbake_opts=tuple(bitbake_opts))
    workspace.spec  # a bad --spec is a usage error, reported before anything runs
    results = checks.run(workspace, modules)
    rendered = report.FORMATS[fmt](results)
    if output:
        output.write_text(rendered, encoding="utf-8")
        click.echo(report.text(results), nl=False)
    else:
        click.echo(rendered, nl=False)
    sys.exit(report.exit_code(results))
