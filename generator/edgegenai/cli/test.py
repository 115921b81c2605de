"""`edgegenai test BOARD [--image DIR]`: boot a built image under QEMU and check it.

The image is booted through labgrid's QEMUDriver with the kernel and root
filesystem from the deploy directory (default: kas's
`build/tmp/deploy/images/<machine>`), machine, CPU and console from the
board catalog, KVM when usable and TCG otherwise.  Once root has a shell on
the console, the checks run inside the guest: the system is running (not
degraded), the inference service is active and healthy, a chat completion
through the OpenAI-compatible API returns tokens, its Prometheus token
counter moves, its memory after load, no restarts, the live unit's
`systemd-analyze security` exposure (2.0 or better) and its sandbox really
applied to the process (seccomp, no new privileges, no capabilities), the
model file matches its manifest's sha256, no kernel oops and no failed
units.  A check the image cannot answer (no systemd-analyze, no metrics
endpoint) is skipped with the reason and does not fail the run.

Each check is printed with its time; `--junit FILE` writes JUnit XML for CI.
The exit code is 1 if anything failed; the console log and the labgrid
environment used are then kept in --log-dir and their paths printed.
The image needs root login without a password on the console: build it
with `edgegenai build BOARD --opt debug`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..catalog import load_catalog
from ..errors import UserError
from ..spec import load_spec


@click.command("test")
@click.argument("board_name", metavar="BOARD")
@click.option("--image", "image_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Deploy directory holding the kernel and root filesystem "
                   "[default: build/tmp/deploy/images/<machine>].")
@click.option("--spec", "spec_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Spec the image was built from (model, port) [default: built-in].")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the results as JUnit XML to this file.")
@click.option("--log-dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("edgegenai-test"), show_default=True,
              help="Where the console log goes; kept only when a check fails.")
@click.option("--boot-timeout", type=click.IntRange(min=10), default=600, show_default=True,
              help="Seconds from power-on to a login prompt.")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True,
              help="QEMU accelerator; auto uses KVM when the host can run the guest natively.")
@click.option("--keep-log", is_flag=True, help="Keep the console log even when all checks pass.")
def command(board_name, image_dir, spec_file, junit, log_dir, boot_timeout, accel, keep_log):
    """Boot BOARD's built image under QEMU and check it from the console."""
    try:
        from .. import boot
        from ..boot.image import default_deploy_dir
    except ImportError as exc:  # labgrid is an optional dependency
        raise UserError(f"edgegenai test needs labgrid ({exc.name} missing): "
                        "pip install 'edgegenai[boot]'") from exc
    catalog = load_catalog()
    board = catalog.boards.get(board_name)
    qemu_boards = sorted(b.name for b in catalog.boards.values() if b.qemu)
    if board is None or board.qemu is None:
        what = "unknown board" if board is None else "not a QEMU board"
        raise UserError(f"{board_name}: {what}; boot tests run on: {', '.join(qemu_boards)}")
    spec = load_spec(spec_file)
    image = boot.find_image(board, image_dir or default_deploy_dir(board), spec.image.name)
    expect = boot.Expectations.from_spec(spec, catalog)
    click.echo(f"edgegenai: booting {board.name} ({board.qemu.system} -M {board.qemu.machine} "
               f"-cpu {board.qemu.cpu}) from {image.kernel.parent}")
    report = boot.run(board, image, expect, log_dir, boot_timeout=boot_timeout, accel=accel,
                      on_result=lambda r: click.echo(r.line()))
    if junit:
        report.write_junit(junit)
    click.echo(report.summary())
    if report.ok and not keep_log:
        report.console_log.unlink(missing_ok=True)
        report.environment.unlink(missing_ok=True)
        try:
            log_dir.rmdir()
        except OSError:
            pass
    else:
        click.echo(f"console log: {report.console_log}")
        click.echo(f"labgrid environment: {report.environment}")
    if not report.ok:
        sys.exit(1)
